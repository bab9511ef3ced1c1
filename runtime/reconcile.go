package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/runtime/atomicfile"
)

// Crash safety: a hutch command killed at any point leaves nothing the next
// command cannot find and remove. What each kind of death leaves, and who
// finds it:
//
//   - a create killed before its record: a directory without state.json
//     (swept under the lock, as before) and leases. Before it leases, a
//     create records an intent, containers/.intents/<id> holding its pid
//     and start time; an intent whose process is gone marks a command that
//     died, and makes List, Create and Remove run Reconcile (network rm
//     and prune always do; a publish that meets a stale port does too);
//   - a monitor killed (the CLI of a foreground run, or a detached monitor):
//     a record naming a dead monitor. Whoever loads it releases what it held
//     (reconcile), its published ports found by address, not by the record,
//     which a kill between publishing and recording leaves without them;
//   - a network connect or disconnect killed: a lease and a veth its record
//     does not name. They too run under an intent;
//   - a network create or rm killed: see network/reconcile.go.
//
// Reconcile is the whole sweep: under the store's lock, which every record
// change takes, the records say what is owned; the network store removes
// what they do not name.

// Reconcile frees what no live record owns: creates that died half-way,
// containers whose monitor died, and every lease, published port, veth,
// bridge and rule of this root no live record names. It carries on past
// errors and returns them all.
func (s *Store) Reconcile() error {
	var anonymous []string // --rm's, removed once the lock is let go (the volumes' lock comes first)
	defer func() { s.removeVolumes(anonymous) }()
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	anonymous, err = s.reconcileAllLocked()
	return err
}

// reconcileAfterDeath runs Reconcile if, under the lock, one of the
// directories a listing found without a record still has none, or an
// intent is dead: then a command died. (Outside the lock, a directory
// without a record is most often a create in progress.)
func (s *Store) reconcileAfterDeath(unrecorded []string) error {
	var anonymous []string
	defer func() { s.removeVolumes(anonymous) }()
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	died := len(s.deadIntents()) > 0
	for _, id := range unrecorded {
		if _, err := s.read(id); !died && errors.Is(err, ErrNotFound) {
			if _, err := os.Stat(s.Dir(id)); err == nil {
				died = true
			}
		}
	}
	if !died {
		return nil
	}
	anonymous, err = s.reconcileAllLocked()
	return err
}

// reconcileAllLocked is Reconcile under the lock. It returns the anonymous
// volumes of the --rm containers it removed, for the caller to remove once
// it has let go of the lock.
func (s *Store) reconcileAllLocked() (anonymous []string, _ error) {
	dead := s.deadIntents() // before the sweep: one dying later waits for the next
	all, unrecorded, err := s.readDir()
	if err != nil {
		return nil, err
	}
	errs := []error{s.sweepLocked(unrecorded)}
	var kept []*Container
	for _, c := range all {
		if c.MonitorPid != 0 && !c.monitorLive() {
			var anon []string
			if c, anon, err = s.reconcileLocked(c.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			anonymous = append(anonymous, anon...)
		}
		if c != nil {
			kept = append(kept, c)
		}
	}
	nets, err := s.Networks()
	if err == nil {
		err = nets.Reconcile(s.owners(kept))
	}
	if err = errors.Join(append(errs, err)...); err != nil {
		return anonymous, err // the intents stay: the next command tries again
	}
	for _, id := range dead {
		os.Remove(s.intentPath(id))
	}
	return anonymous, nil
}

// owners is what the records in all hold, for the network store.
func (s *Store) owners(all []*Container) network.Owners {
	o := network.Owners{Busy: func(owner string) bool {
		if owner == "" { // a lease being written: anyone's
			return len(s.liveIntents()) > 0
		}
		return s.intentLive(owner)
	}}
	for _, c := range all {
		for _, ep := range c.Endpoints {
			o.Leases = append(o.Leases, network.Lease{NetworkID: ep.NetworkID, IP: ep.IP, Owner: c.ID})
		}
		if len(c.Endpoints) == 0 || !c.monitorLive() {
			continue
		}
		r := network.Running{IP: c.Endpoints[0].IP, Publish: slices.Concat(c.Publish, c.Ports)}
		for _, ep := range c.Endpoints {
			r.Veths = append(r.Veths, ep.HostIf)
		}
		o.Running = append(o.Running, r)
	}
	return o
}

// reconcileIfDirty runs Reconcile if a command died since the last one
// (a dead intent): one directory read otherwise. Its errors are the next
// command's to retry, not the caller's.
func (s *Store) reconcileIfDirty() {
	if len(s.deadIntents()) > 0 {
		s.reconcileAfterDeath(nil)
	}
}

func (s *Store) intentDir() string           { return filepath.Join(s.dir, ".intents") }
func (s *Store) intentPath(id string) string { return filepath.Join(s.intentDir(), id) }

// beginIntent records that this process is about to lease or wire for
// container id; done forgets it, once the record names what was made (or
// it was undone).
func (s *Store) beginIntent(id string) (done func(), err error) {
	start, err := selfStart()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.intentDir(), 0o700); err != nil {
		return nil, fmt.Errorf("record intent: %w", err)
	}
	path := s.intentPath(id)
	if err := atomicfile.Write(path, []byte(fmt.Sprintf("%d %d", os.Getpid(), start)), 0o600); err != nil {
		return nil, fmt.Errorf("record intent: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// intentLive reports whether id's intent names a live process.
func (s *Store) intentLive(id string) bool {
	b, err := os.ReadFile(s.intentPath(id))
	if err != nil {
		return false
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil {
		return false
	}
	return alive(pid, start)
}

// liveIntents and deadIntents list the ids of the intents whose process
// lives, and is gone.
func (s *Store) liveIntents() []string { live, _ := s.intents(); return live }
func (s *Store) deadIntents() []string { _, dead := s.intents(); return dead }

func (s *Store) intents() (live, dead []string) {
	ents, err := os.ReadDir(s.intentDir())
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		if !isID(e.Name()) { // an atomic write's temporary file
			continue
		}
		if s.intentLive(e.Name()) {
			live = append(live, e.Name())
		} else {
			dead = append(dead, e.Name())
		}
	}
	return live, dead
}
