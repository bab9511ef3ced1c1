package oci

import (
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// Start lets a created container's init go on to the user's program, and
// runs the poststart hooks.
func (r *Runtime) Start(id string) error {
	rec, unlock, err := r.lockFor(OpStart, id)
	if err != nil {
		return err
	}
	defer unlock()
	if rec.Child {
		return fmt.Errorf("container %s is started by the process that created it", id)
	}
	fifo, err := openFifo(r.fifoPath(id))
	if err != nil {
		return err
	}
	defer unix.Close(fifo)
	return r.start(rec, fifo)
}

// start starts the created container rec, whose exec fifo is open at fifo,
// under its lock or by its creator (a Child's, which no one else starts).
func (r *Runtime) start(rec *record, fifo int) error {
	id := rec.ID
	if err := awaitStarted(fifo, rec); err != nil {
		return err
	}
	if err := os.Remove(r.fifoPath(id)); err != nil {
		return err
	}
	if !rec.hasHooks() {
		return nil
	}
	spec, err := r.config(id)
	if err != nil {
		return err
	}
	if spec.Hooks != nil {
		state := hookState(rec, Running)
		for _, h := range spec.Hooks.Poststart {
			// The spec: a failed poststart hook is a warning, the rest go on.
			if err := runHook(h, state); err != nil {
				warnf("poststart %v", err)
			}
		}
	}
	return nil
}

// openFifo opens the exec fifo for reading, which lets the init's open for
// writing return (at once, if it comes later).
func openFifo(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open exec fifo: %w", err)
	}
	return fd, nil
}

// awaitStarted reads the byte the init writes into the exec fifo once
// its startContainer hooks passed. EOF without it (the init failed: its
// error is on its stderr) or the init's death fails the start.
func awaitStarted(fd int, rec *record) error {
	buf := make([]byte, 1)
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err == unix.EINTR {
			continue // Go's preemption signals: no answer in pfd
		}
		// The byte, if it is there (the fd is non-blocking).
		if n, _ := unix.Read(fd, buf); n == 1 {
			return nil
		}
		// POLLHUP: a writer came and went; or the init is gone (a command
		// that ran and exited at once is a zombie by now). Either way
		// nothing more comes: the byte is there now, or never was.
		if pfd[0].Revents&unix.POLLHUP != 0 || procstart.Of(rec.Pid) != rec.PidStart {
			if n, _ := unix.Read(fd, buf); n == 1 {
				return nil
			}
			return fmt.Errorf("container %s: its process failed before the program ran", rec.ID)
		}
	}
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if err := checkOp(OpKill, id, r.status(rec), false); err != nil && !all {
		return err
	}
	if !all {
		return signalInit(rec, sig)
	}
	cg, err := cgroups.LoadPath(rec.Cgroup)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	return signalGroup(cg, sig)
}

// signalGroup sends sig to every process in cg; after a SIGKILL a frozen
// group is thawed, since a frozen process takes its SIGKILL only then.
func signalGroup(cg *cgroups.Cgroup, sig unix.Signal) error {
	pids, err := cg.Pids()
	for _, pid := range pids {
		unix.Kill(pid, sig)
	}
	if sig == unix.SIGKILL && frozen(cg) {
		setFrozen(cg, false)
	}
	return err
}

// Delete removes a stopped container: its cgroup, its record, and then the
// poststop hooks. A created one is killed first, as runc does; a running or
// paused one only with force.
func (r *Runtime) Delete(id string, force bool) error {
	if err := CheckID(id); err != nil {
		return err
	}
	unlock, err := r.lock(id)
	if errors.Is(err, ErrNotExist) && force {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := r.load(id)
	if errors.Is(err, ErrNotExist) || force && errors.Is(err, errUnreadable) {
		// A create killed before it recorded anything (nothing was made
		// yet), or a record a crash cut short (what it named is gone too).
		return os.RemoveAll(r.dir(id))
	}
	if err != nil {
		return err
	}
	// Under the lock, a record still creating is a create that was killed.
	st := r.status(rec)
	if err := checkOp(OpDelete, id, st, force); err != nil {
		return err
	}
	if st != Stopped {
		r.killAll(rec)
	}
	if !waitGone(rec, 10*time.Second) {
		return fmt.Errorf("container %s: init %d did not exit", id, rec.Pid)
	}
	var errs []error
	if cg, err := cgroups.LoadPath(rec.Cgroup); err == nil && !rec.CallersCgroup {
		errs = append(errs, cg.Delete())
	}
	var spec *specs.Spec
	var specErr error
	if rec.hasHooks() {
		spec, specErr = r.config(id)
	}
	errs = append(errs, os.RemoveAll(r.dir(id)))
	if spec != nil && specErr == nil && spec.Hooks != nil {
		state := hookState(rec, Stopped)
		for _, h := range spec.Hooks.Poststop {
			if err := runHook(h, state); err != nil {
				warnf("poststop %v", err)
			}
		}
	}
	return errors.Join(errs...)
}

// killAll kills every process of the container (thawing it first).
func (r *Runtime) killAll(rec *record) {
	if cg, err := cgroups.LoadPath(rec.Cgroup); err == nil {
		signalGroup(cg, unix.SIGKILL)
	}
	signalInit(rec, unix.SIGKILL)
}

// Pids are the container's processes.
func (r *Runtime) Pids(id string) ([]int, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	cg, err := cgroups.LoadPath(rec.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return cg.Pids()
}

// Pause freezes every process of a running container; Resume thaws them.
func (r *Runtime) Pause(id string) error { return r.freeze(id, true) }

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error { return r.freeze(id, false) }

func (r *Runtime) freeze(id string, freeze bool) error {
	op := OpResume
	if freeze {
		op = OpPause
	}
	rec, unlock, err := r.lockFor(op, id)
	if err != nil {
		return err
	}
	defer unlock()
	cg, err := cgroups.LoadPath(rec.Cgroup)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	return setFrozen(cg, freeze)
}

// Update sets new cgroup limits on a live container.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if r.status(rec) == Stopped {
		return fmt.Errorf("container %s is not running", id)
	}
	cg, err := cgroups.LoadPath(rec.Cgroup)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	u, ok := any(cg).(interface {
		Update(*specs.LinuxResources) error
	})
	if !ok {
		return errors.New("update: not supported yet")
	}
	return u.Update(res)
}

// Warn is where warnings go (the runtime's log); stderr unless set.
var Warn = func(msg string) { fmt.Fprintln(os.Stderr, "hutch-runc: warning:", msg) }

func warnf(format string, args ...any) { Warn(fmt.Sprintf(format, args...)) }
