package runtime

import (
	"errors"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/oci"
)

// ociCreate is how a hutch container is created by the OCI core
// (oci.Runtime.CreateChild): its bundle is its directory, with the spec
// (config.json) made from the image and the run's flags, and beyond the
// spec: the overlay on the image's layers (mounted inside the container's
// mount namespace, so it never outlives it) and --init's reaper, from the
// spec's hutch annotations.
func ociCreate(spec *specs.Spec, dir string) oci.CreateOptions {
	o := oci.CreateOptions{Spec: spec, Reap: spec.Annotations[annotInit] == "true"}
	if lower := spec.Annotations[annotLowerDir]; lower != "" {
		o.Overlay = &oci.Overlay{Lower: lower, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
			Volatile: spec.Annotations[annotVolatile] == "true"}
	}
	return o
}

// ociRuntime is the OCI core's state of this store's containers while they
// run (their state.json, config.json and exec fifo): `hutch-runc --root
// <root>/oci list` shows them, as `runc --root` shows Docker's.
func (s *Store) ociRuntime() *oci.Runtime {
	return &oci.Runtime{Root: filepath.Join(s.Root, "oci")}
}

// deleteRun removes a container's run: the OCI core's state of it (Delete
// kills what is left of it), then its cgroup, which hutch made for the core
// (cgroups.Create(id)) and deletes itself, also when the core has no record
// (a monitor killed before it made one, a run of an older hutch).
func (s *Store) deleteRun(id string) error {
	return errors.Join(s.ociRuntime().Delete(id, true), deleteCgroup(cgroups.Load(id)))
}

// deleteOrphanRuns deletes the OCI core's runs that no container record
// names any more (system reset, after every container went).
func (s *Store) deleteOrphanRuns() error {
	rt := s.ociRuntime()
	states, err := rt.List()
	for _, st := range states {
		if _, rerr := s.read(st.ID); errors.Is(rerr, ErrNotFound) {
			err = errors.Join(err, rt.Delete(st.ID, true))
		}
	}
	return err
}

// signal sends sig to c's process through the OCI core, by a pidfd checked
// against the process's start. A run of an older hutch, which the core does
// not know, is signalled by its recorded pid and start.
func (s *Store) signal(c *Container, sig unix.Signal) error {
	err := s.ociRuntime().Kill(c.ID, sig, false)
	if errors.Is(err, oci.ErrNotExist) && alive(c.Pid, c.PidStart) {
		return unix.Kill(c.Pid, sig)
	}
	return err
}

// setFrozen pauses or resumes c's run through the core (resuming one that
// is not frozen is nothing: a mark written before its freeze). A run the
// core has no record of (an older hutch's) is frozen by its cgroup.
func (s *Store) setFrozen(id string, freeze bool) error {
	rt := s.ociRuntime()
	st, err := rt.State(id)
	if cg, older := olderRun(err, id); older {
		if freeze {
			return cg.Freeze()
		}
		return cg.Thaw()
	}
	switch {
	case err != nil:
		return err
	case freeze:
		return rt.Pause(id)
	case st.Status == specs.ContainerState(oci.Paused): // frozen, its processes cannot have exited
		return rt.Resume(id)
	}
	return nil
}

// olderRun is the cgroup of a run the core has no record of (err is its
// ErrNotExist): one an older hutch started, found by the id.
func olderRun(err error, id string) (*cgroups.Cgroup, bool) {
	if !errors.Is(err, oci.ErrNotExist) {
		return nil, false
	}
	cg, lerr := cgroups.Load(id)
	return cg, lerr == nil
}
