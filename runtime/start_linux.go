package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/logs"
	"github.com/hutchrt/hutch/runtime/oci"
)

// startContainer creates the container through the OCI core (its init
// this thread's child), wires its network while the init builds its root,
// starts it and waits until the command runs. On error nothing is left.
func (s *Store) startContainer(c *Container, a attach) (_ *running, err error) {
	dir := s.Dir(c.ID)
	spec := c.spec // a foreground run's, from Create
	if spec == nil {
		if spec, err = loadSpec(dir); err != nil {
			return nil, err
		}
	}
	r := &running{}
	// The group exists before the clone: the init is cloned into its v2
	// group, and joins its v1 groups itself (see package cgroups).
	cg := c.cgroup // made by a foreground Create, with the directories
	c.cgroup = nil // this start owns it now, and hands it to the create
	if cg == nil {
		if cg, err = s.prepare(c.ID, spec.Linux.Resources); err != nil {
			return nil, err
		}
	}
	rt := s.ociRuntime()
	var child *oci.Child
	defer func() {
		if err == nil {
			return
		}
		switch {
		case child != nil:
			child.Kill()
			rt.Delete(c.ID, true)
		case cg != nil: // not handed over yet
			cg.Delete()
		}
		if r.net != nil {
			err = errors.Join(err, r.net.Detach())
		}
		r.copiers.Wait()
		for i := len(r.cleanup) - 1; i >= 0; i-- {
			r.cleanup[i]()
		}
	}()
	log, err := logs.CreateRotating(s.logPath(c), c.logConfig())
	if err != nil {
		return nil, err
	}
	r.cleanup = append(r.cleanup, func() { log.Close() })

	o := ociCreate(spec, dir)
	if target, ok := strings.CutPrefix(c.Network, "container:"); ok {
		ns, err := s.targetNetNS(target)
		if err != nil {
			return nil, err
		}
		defer ns.Close()
		o.NetNS = ns
	}
	stdio, childEnds, err := r.wireStdio(a, log)
	if err != nil {
		closeAll(childEnds)
		return nil, err
	}
	o.Stdio, o.OnConsole = stdio[:], r.onPty
	// The network is wired while the init mounts its root.
	o.Setup = func(pid int) error { r.pid = pid; return s.wire(c, r) }
	o.Cgroup, cg = cg, nil
	child, err = rt.CreateChild(c.ID, dir, o)
	closeAll(childEnds)
	if err != nil {
		return nil, err
	}
	r.cmd, r.pid = child.Cmd(), child.Pid()
	if a.signals != nil {
		if sig := a.signals.interrupted(); sig != 0 {
			return nil, interruptedError(sig)
		}
	}
	if err := child.Start(); err != nil {
		return nil, err
	}
	if a.signals != nil {
		a.signals.forwardTo(r.pid)
		r.cleanup = append(r.cleanup, a.signals.stop)
	}
	return r, nil
}

// prepareStart is the part of a foreground start that Create does alongside
// writing the record (both are mostly waiting on the kernel).
func (s *Store) prepareStart(c *Container) *sideTask {
	return &sideTask{
		run: func() (err error) {
			c.cgroup, err = s.prepare(c.ID, c.spec.Linux.Resources)
			return err
		},
		undo: func() {
			if c.cgroup != nil {
				c.cgroup.Delete()
				c.cgroup = nil
			}
		},
	}
}

// prepare makes what a start needs before the clone: the cgroup, and the
// overlay's upper and work directories and the root's mount point (those
// that exist are kept). On error no cgroup is left.
func (s *Store) prepare(id string, res *specs.LinuxResources) (*cgroups.Cgroup, error) {
	cg, err := cgroups.Create(id, res)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir(id), d), 0o755); err != nil {
			cg.Delete()
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	return cg, nil
}
