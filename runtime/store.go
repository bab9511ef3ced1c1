package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hutchrt/hutch/runtime/atomicfile"
	"github.com/hutchrt/hutch/runtime/flock"
	"github.com/hutchrt/hutch/runtime/jsonwalk"
)

var (
	ErrNotFound  = errors.New("no such container")
	ErrNameInUse = errors.New("container name already in use")
)

// Store keeps container records under <root>/containers, one directory each.
// Changes to records happen under one flock so that names stay unique and a
// record is never written by two processes at once; readers need no lock
// because every write is a rename.
type Store struct {
	Root string // hutch root
	dir  string // <root>/containers
}

// OpenStore opens (creating if needed) the container store under root.
func OpenStore(root string) (*Store, error) {
	dir := filepath.Join(root, "containers")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{Root: root, dir: dir}, nil
}

// Dir is the directory of one container.
func (s *Store) Dir(id string) string { return filepath.Join(s.dir, id) }

// lock takes the store's exclusive lock.
func (s *Store) lock() (unlock func(), err error) {
	return flock.Exclusive(filepath.Join(s.dir, ".lock"))
}

// create writes a new container directory with its record and files, failing
// with ErrNameInUse if another container has the name. Nothing is left behind
// on error. The record is written last. alongside, if set, runs while they are written, once the directory exists;
// its failure fails the create, and its undo runs on any failure.
//
// Every create finishes under the store's lock, so a directory without a
// record, seen under the lock, is a create that died half-way (see sweep).
func (s *Store) create(c *Container, files map[string][]byte, alongside *sideTask) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.createLocked(c, files, alongside)
}

// sideTask is work a create does in parallel with its disk writes.
type sideTask struct {
	run  func() error
	undo func() // after run, when the create fails
}

// withAll runs fn under the store's lock with every record.
func (s *Store) withAll(fn func(all []*Container) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.readAll()
	if err != nil {
		return err
	}
	return fn(all)
}

func (s *Store) createLocked(c *Container, files map[string][]byte, alongside *sideTask) (err error) {
	// Checked again under the lock: `image rm` takes it too.
	if img, err := s.Images().Find(c.Image); err != nil {
		return err
	} else if dirs, err := s.Images().LowerDirs(img); err != nil {
		return err
	} else if _, err := os.Stat(dirs[0]); err != nil {
		return fmt.Errorf("image %s: %w", c.Image, err)
	}
	if err := s.reserveName(c.Name, c.ID); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(s.namePath(c.Name))
		}
	}()
	dir := s.Dir(c.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		return fmt.Errorf("create container dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if alongside != nil {
		done := make(chan error, 1)
		go func() { done <- alongside.run() }()
		defer func() {
			if sideErr := <-done; err == nil && sideErr != nil {
				err = sideErr // the directory and name go too: those defers run next
			}
			if err != nil && alongside.undo != nil {
				alongside.undo()
			}
		}()
	}
	// Plain writes are enough: readers skip a directory until its state.json
	// appears, and that is written last, atomically.
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("create container: %w", err)
		}
	}
	return s.save(c)
}

// save writes c's record atomically. Callers hold the lock or own the record.
// A --rm container's record goes when it exits: it need not reach the disk.
func (s *Store) save(c *Container) error {
	b, err := jsonwalk.MarshalIndent(c)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	write := atomicfile.Write
	if c.AutoRemove {
		write = atomicfile.WriteVolatile
	}
	return write(filepath.Join(s.Dir(c.ID), "state.json"), b, 0o600)
}

// update applies fn to the current record of id under the lock and saves it.
func (s *Store) update(id string, fn func(c *Container) error) (*Container, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.read(id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return c, err
	}
	return c, s.save(c)
}

// remove deletes a container's directory under the lock.
func (s *Store) remove(id string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.removeLocked(id)
}

// removeLocked deletes a container's directory and frees its name.
func (s *Store) removeLocked(id string) error {
	c, readErr := s.read(id)
	if readErr == nil {
		if err := s.releaseLeases(c); err != nil {
			return fmt.Errorf("remove container %s: %w", id[:12], err)
		}
	}
	if err := os.RemoveAll(s.Dir(id)); err != nil {
		return fmt.Errorf("remove container %s: %w", id[:12], err)
	}
	if readErr == nil && s.nameOwner(c.Name) == id {
		os.Remove(s.namePath(c.Name))
	}
	return nil
}

// Names are reserved with one file each under containers/.names, created
// with O_EXCL: creating a container, or finding one by name, costs the same
// with 1 or 1,000 others (nothing reads every record). Callers hold the lock.

func (s *Store) namePath(name string) string { return filepath.Join(s.dir, ".names", name) }

// nameOwner is the id that holds name, "" if none.
func (s *Store) nameOwner(name string) string {
	b, _ := os.ReadFile(s.namePath(name))
	return string(b)
}

func (s *Store) reserveName(name, id string) error {
	if err := os.MkdirAll(filepath.Join(s.dir, ".names"), 0o700); err != nil {
		return fmt.Errorf("reserve name: %w", err)
	}
	for {
		f, err := os.OpenFile(s.namePath(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(id)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(s.namePath(name))
				return fmt.Errorf("reserve name: %w", err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("reserve name: %w", err)
		}
		owner := s.nameOwner(name)
		if _, err := os.Stat(filepath.Join(s.Dir(owner), "state.json")); owner != "" && err == nil {
			return fmt.Errorf("%w: %q is used by container %.12s (remove or rename it)", ErrNameInUse, name, owner)
		}
		// A reservation whose container is gone (a crash between the two): take it over.
		if err := os.Remove(s.namePath(name)); err != nil {
			return fmt.Errorf("reserve name: %w", err)
		}
	}
}

// errEmptyRecord: a state.json of no bytes. Records are replaced whole, so
// only a crash leaves one (a --rm container's record never reaches the disk
// before it goes): the container is treated as never created.
var errEmptyRecord = errors.New("empty record")

func (s *Store) read(id string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, id, errEmptyRecord)
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode state of %s: %w", id, err)
	}
	return &c, nil
}

// readAll returns every record, oldest first. Directories without a record
// (a create in progress elsewhere, or one that died half-way) are skipped.
func (s *Store) readAll() ([]*Container, error) {
	all, _, err := s.readDir()
	return all, err
}

// readDir is readAll that also names the directories without a record.
func (s *Store) readDir() (all []*Container, unrecorded []string, err error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list containers: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		c, err := s.read(e.Name())
		if errors.Is(err, ErrNotFound) { // also an empty record
			if isID(e.Name()) { // not, say, lost+found
				unrecorded = append(unrecorded, e.Name())
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.Before(all[j].Created) })
	return all, unrecorded, nil
}

// isID reports whether name is a container id: 64 hex digits.
func isID(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, r := range name {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// sweepLocked removes what creates that died half-way (a SIGKILL while the
// record was written) left: their directories and their cgroups. A create
// finishes under the lock, so under it a directory without a record is one;
// so is one whose record a crash left empty. Their leases go in the rest of
// Reconcile, which calls it under the lock.
func (s *Store) sweepLocked(ids []string) error {
	var errs []error
	for _, id := range ids {
		if _, err := s.read(id); !errors.Is(err, ErrNotFound) {
			continue // finished meanwhile
		}
		if err := s.deleteRun(id); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(s.Dir(id)); err != nil {
			errs = append(errs, fmt.Errorf("remove the unfinished container %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// List returns every container, reconciled with the processes it names.
func (s *Store) List() ([]*Container, error) {
	all, unrecorded, err := s.readDir()
	if err != nil {
		return nil, err
	}
	if len(unrecorded) > 0 || len(s.deadIntents()) > 0 { // a command may have died
		s.reconcileAfterDeath(unrecorded) // what fails stays for the next listing: not this one's error
		if all, _, err = s.readDir(); err != nil {
			return nil, err
		}
	}
	out := all[:0]
	for _, c := range all {
		c, err := s.reconcile(c)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Get finds a container by full id, name, or unique id prefix.
func (s *Store) Get(ref string) (*Container, error) {
	if ref == "" || strings.ContainsAny(ref, "/\x00") || len(ref) > max(MaxNameLen, 64) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, shorten(ref)) // no name or id is that long
	}
	if id := s.nameOwner(ref); id != "" { // the common case: a name, one file away
		if c, err := s.read(id); err == nil && c.Name == ref {
			return s.found(ref, c)
		}
	}
	if c, err := s.read(ref); err == nil { // a full id
		return s.found(ref, c)
	}
	all, err := s.readAll()
	if err != nil {
		return nil, err
	}
	var match []*Container
	for _, c := range all {
		if c.ID == ref || c.Name == ref {
			match = []*Container{c}
			break
		}
		if strings.HasPrefix(c.ID, ref) {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
	default:
		return nil, fmt.Errorf("%q matches %d containers: use more of the id", ref, len(match))
	}
	return s.found(ref, match[0])
}

// found reconciles the record Get found for ref.
func (s *Store) found(ref string, c *Container) (*Container, error) {
	c, err := s.reconcile(c)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return c, nil
}

// reconcile brings a record in line with reality: a monitor that died (killed,
// or the host rebooted) leaves a record claiming a live container. Such a
// container is marked exited and its resources are freed; with --rm it is
// removed and reconcile returns nil. Both happen in one locked step, so a
// concurrent reader never sees a --rm container as exited-but-still-there.
func (s *Store) reconcile(c *Container) (*Container, error) {
	if c.MonitorPid == 0 || c.monitorLive() {
		return c, nil
	}
	var anonymous []string // --rm's, removed once the lock is let go (the volumes' lock comes first)
	defer func() { s.removeVolumes(anonymous) }()
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, anonymous, err = s.reconcileLocked(c.ID)
	return c, err
}

// reconcileLocked is reconcile under the lock, from the record on disk. It
// returns the anonymous volumes of a --rm container it removed, for the
// caller to remove once it has let go of the lock.
func (s *Store) reconcileLocked(id string) (_ *Container, anonymous []string, _ error) {
	c, err := s.read(id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil // someone else removed it meanwhile
	}
	if err != nil {
		return nil, nil, err
	}
	if c.MonitorPid == 0 || c.monitorLive() {
		return c, nil, nil // someone else reconciled it meanwhile
	}
	if err := s.release(c); err != nil {
		return nil, nil, err // left as it is, for the next command to try again
	}
	if c.AutoRemove {
		return nil, anonymousVolumes(c), s.removeLocked(c.ID)
	}
	switch c.Status {
	case StatusRunning:
		c.ExitCode = 137 // the monitor's death killed it (Pdeathsig SIGKILL)
		c.FinishedAt = now()
		c.moveTo(StatusExited)
	case StatusRestarting: // died in a back-off: the last run's exit stands
		c.moveTo(StatusExited)
	}
	c.Error = "monitor process died"
	c.Pid, c.PidStart, c.MonitorPid, c.MonitorStart = 0, 0, 0, 0
	return c, nil, s.save(c)
}

// A `hutch wait` on a --rm container registers itself with a file in
// containers/.waiters before it looks the container up; the monitor, after
// removing the record, writes the exit code into that file if it exists.
// Either the waiter finds the record (and the monitor, removing it later,
// finds the file), or it finds neither: no exit code is ever lost.

func (s *Store) waiterPath(id string) string { return filepath.Join(s.dir, ".waiters", id) }

func (s *Store) registerWaiter(id string) error {
	if err := os.MkdirAll(filepath.Dir(s.waiterPath(id)), 0o700); err != nil {
		return fmt.Errorf("register waiter: %w", err)
	}
	f, err := os.OpenFile(s.waiterPath(id), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("register waiter: %w", err)
	}
	return f.Close()
}

// tellWaiters is the monitor's side, called after the record is gone.
func (s *Store) tellWaiters(id string, code int) {
	if _, err := os.Stat(s.waiterPath(id)); err == nil {
		atomicfile.Write(s.waiterPath(id), []byte(strconv.Itoa(code)), 0o600)
	}
}

// waiterResult reads and forgets the code a monitor left for a waiter.
func (s *Store) waiterResult(id string) (int, bool) {
	b, err := os.ReadFile(s.waiterPath(id))
	os.Remove(s.waiterPath(id))
	if err != nil || len(b) == 0 {
		return 0, false
	}
	code, err := strconv.Atoi(string(b))
	return code, err == nil
}
