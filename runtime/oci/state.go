package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/atomicfile"
	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/jsonwalk"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// Runtime is the OCI runtime's state directory (runc's --root): one
// directory per container, holding its record (state.json), a copy of its
// config (config.json, for exec and the poststop hooks) and, while it is
// created and not yet started, the exec fifo its init waits on.
type Runtime struct {
	Root string
}

// ErrNotExist is an id with no container.
var ErrNotExist = errors.New("container does not exist")

// errUnreadable is a record a crash left unwritten (records are written
// volatile): what it named went with the crash.
var errUnreadable = errors.New("unreadable record")

// record is what the runtime keeps of a container.
type record struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"` // with Pid, names the init for good
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Cgroup      string            `json:"cgroup"` // the cgroup path, as in every hierarchy
	// Creating is set from before create makes anything until it is done:
	// a record still creating after its create is gone (killed) names what
	// delete has to undo.
	Creating bool `json:"creating,omitempty"`
	// Hooks: whether the config has poststart or poststop hooks, which
	// start and delete read it for (a spec is costly to decode: most have
	// none). Absent in a record of an older hutch: then it is read.
	Hooks *bool `json:"hooks,omitempty"`
	// CallersCgroup: the group is the creator's (CreateOptions.Cgroup),
	// which deletes it; delete leaves it (it still kills what is in it).
	CallersCgroup bool `json:"callersCgroup,omitempty"`
	// Child: made by CreateChild, whose caller starts it (Start refuses).
	Child bool `json:"child,omitempty"`
	// Namespaces are the kinds the init has of its own, made or joined
	// (an exec joins these), as /proc/<pid>/ns names them; absent in a
	// record of an older hutch: then the config's.
	Namespaces []string `json:"namespaces,omitempty"`
}

// hasHooks says whether start and delete must read the config for hooks.
func (rec *record) hasHooks() bool { return rec.Hooks == nil || *rec.Hooks }

// Status is the OCI status of a container.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// State is the spec's state, with runc's extra fields (which tools read).
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

// CheckID refuses an id that cannot name a directory (and a cgroup).
func CheckID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q", id)
	}
	return nil
}

// lock takes the container's lock, a flock of its directory: one
// operation on it at a time. (A file for it would be one more to make and
// remove on every run.)
func (r *Runtime) lock(id string) (func(), error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	fd, err := unix.Open(r.dir(id), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	return func() { unix.Close(fd) }, nil
}

// lockFor takes id's lock and its record, once op is allowed in its status
// (transitions.go); the caller unlocks.
func (r *Runtime) lockFor(op Op, id string) (*record, func(), error) {
	unlock, err := r.lock(id)
	if err != nil {
		return nil, nil, err
	}
	rec, err := r.load(id)
	if err == nil {
		err = checkOp(op, id, r.status(rec), false)
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return rec, unlock, nil
}

func (r *Runtime) load(id string) (*record, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir(id), "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("container %s: state.json: %w: %v", id, errUnreadable, err)
	}
	return &rec, nil
}

func (r *Runtime) save(rec *record) error {
	b, err := jsonwalk.MarshalIndent(rec) // no encoder to build first (see writeConfig)
	if err != nil {
		return err
	}
	// Volatile: the record names processes and groups a crash takes along.
	return atomicfile.WriteVolatile(filepath.Join(r.dir(rec.ID), "state.json"), b, 0o600)
}

func (r *Runtime) config(id string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(r.dir(id), "config.json"))
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("container %s: config.json: %w", id, err)
	}
	return &spec, nil
}

func (r *Runtime) fifoPath(id string) string { return filepath.Join(r.dir(id), "exec.fifo") }

// status works the container's status out from the kernel: its init alive
// or not, waiting on the fifo or not, frozen or not.
func (r *Runtime) status(rec *record) Status {
	if rec.Creating {
		return Creating
	}
	if rec.Pid == 0 || procstart.Of(rec.Pid) != rec.PidStart {
		return Stopped
	}
	if _, err := os.Lstat(r.fifoPath(rec.ID)); err == nil {
		return Created
	}
	if cg, err := cgroups.LoadPath(rec.Cgroup); err == nil && frozen(cg) {
		return Paused
	}
	return Running
}

func (r *Runtime) stateOf(rec *record) *State {
	st := &State{
		State: specs.State{
			Version: specs.Version, ID: rec.ID, Status: specs.ContainerState(r.status(rec)),
			Bundle: rec.Bundle, Annotations: rec.Annotations,
		},
		Rootfs: rec.Rootfs, Created: rec.Created, Owner: "",
	}
	if st.Status != specs.StateStopped {
		st.Pid = rec.Pid
	}
	return st
}

// State is the container's state now.
func (r *Runtime) State(id string) (*State, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return r.stateOf(rec), nil
}

// List is every container's state, by id.
func (r *Runtime) List() ([]*State, error) {
	entries, err := os.ReadDir(r.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, e := range entries {
		if st, err := r.State(e.Name()); err == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// hookState is the state a hook reads on its stdin.
func hookState(rec *record, status Status) []byte {
	b, _ := json.Marshal(specs.State{
		Version: specs.Version, ID: rec.ID, Status: specs.ContainerState(status),
		Pid: rec.Pid, Bundle: rec.Bundle, Annotations: rec.Annotations,
	})
	return b
}

// signalInit sends sig to the container's init, by a pidfd checked against
// the recorded start time, so that a reused pid is never hit.
func signalInit(rec *record, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		return fmt.Errorf("container %s is not running", rec.ID)
	}
	defer unix.Close(fd)
	if procstart.Of(rec.Pid) != rec.PidStart {
		return fmt.Errorf("container %s is not running", rec.ID)
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal container %s: %w", rec.ID, err)
	}
	return nil
}

// waitGone waits until the init has exited (a zombie counts), at most d.
func waitGone(rec *record, d time.Duration) bool {
	fd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	for procstart.Of(rec.Pid) == rec.PidStart {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		ms := int(min(left, 100*time.Millisecond) / time.Millisecond)
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, max(ms, 1))
	}
	return true
}

// Process is the container's own process, as its config.json says (a
// base for an exec's).
func (r *Runtime) Process(id string) (*specs.Process, error) {
	if _, err := r.load(id); err != nil {
		return nil, err
	}
	spec, err := r.config(id)
	if err != nil {
		return nil, err
	}
	return spec.Process, nil
}
