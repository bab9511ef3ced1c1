// Package cgroups gives each container its own cgroup, "/hutch/<id>", in
// every cgroup hierarchy of the host: the v1 controllers (legacy), the
// unified v2 tree (unified), or both (hybrid). Limits are written with
// containerd/cgroups; killing and removal are done here because the library
// refuses to delete a group that still holds processes.
package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotFound is returned by Load when the container has no cgroup left.
// errors.Is(ErrNotFound, fs.ErrNotExist) holds.
var ErrNotFound = fmt.Errorf("cgroup not found: %w", fs.ErrNotExist)

// parent is the group under which every container's group is made. It is
// shared and never removed.
const parent = "/hutch"

// layout says where groups live on this host.
type layout struct {
	v1      bool   // v1 controllers under /sys/fs/cgroup/<controller>
	v2      string // mountpoint of the cgroup2 tree, "" if none
	limits2 bool   // limits go to the v2 tree (unified mode) rather than v1
}

func hostLayout() (layout, error) {
	switch cgroups.Mode() {
	case cgroups.Legacy:
		return layout{v1: true}, nil
	case cgroups.Hybrid:
		// The v2 tree holds (almost) no controllers here, but giving the
		// container its own group there too keeps its processes findable
		// and killable through cgroup.kill.
		return layout{v1: true, v2: "/sys/fs/cgroup/unified"}, nil
	case cgroups.Unified:
		return layout{v2: "/sys/fs/cgroup", limits2: true}, nil
	}
	return layout{}, errors.New("no cgroup filesystem mounted at /sys/fs/cgroup")
}

// Cgroup is one container's group in every hierarchy.
type Cgroup struct {
	id    string
	v1    cgroup1.Cgroup   // nil without v1 hierarchies
	v2    *cgroup2.Manager // nil without a v2 tree
	v2dir string
}

func group(id string) string { return parent + "/" + id }

func checkID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("invalid container id %q for a cgroup", id)
	}
	return nil
}

// Create makes the group "/hutch/<id>" in every hierarchy and sets the
// limits in res (nil: none). Device rules in res are ignored: the container
// has its own /dev, and a deny-all rule would also block the few host
// devices hutch bind-mounts there.
func Create(id string, res *specs.LinuxResources) (*Cgroup, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", id, err)
	}
	return create(l, id, res)
}

func create(l layout, id string, res *specs.LinuxResources) (_ *Cgroup, err error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	r := specs.LinuxResources{}
	if res != nil {
		r = *res
	}
	r.Devices = nil

	c := &Cgroup{id: id}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Delete())
		}
	}()
	if l.v1 {
		if c.v1, err = cgroup1.New(cgroup1.StaticPath(group(id)), &r); err != nil {
			// New stops at the first failing controller; remove the
			// directories it made in the ones before.
			if v1, lerr := cgroup1.Load(cgroup1.StaticPath(group(id))); lerr == nil {
				c.v1 = v1
			}
			return nil, fmt.Errorf("create cgroup %s: %w", id, err)
		}
	}
	if l.v2 != "" {
		r2 := &cgroup2.Resources{}
		if l.limits2 {
			r2 = cgroup2.ToResources(&r)
		}
		c.v2dir = filepath.Join(l.v2, group(id))
		// NewManager also enables the controllers the limits need in
		// cgroup.subtree_control of / and /hutch.
		if c.v2, err = cgroup2.NewManager(l.v2, group(id), r2); err != nil {
			return nil, fmt.Errorf("create cgroup %s: %w", id, err)
		}
	}
	return c, nil
}

// Load finds the group of container id, as left by Create in another
// process, for Add, ProcsFiles or Delete. It returns ErrNotFound when no
// hierarchy has it.
func Load(id string) (*Cgroup, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", id, err)
	}
	return load(l, id)
}

func load(l layout, id string) (*Cgroup, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	c := &Cgroup{id: id}
	if l.v1 {
		v1, err := cgroup1.Load(cgroup1.StaticPath(group(id)))
		switch {
		case err == nil:
			c.v1 = v1
		case !errors.Is(err, cgroup1.ErrCgroupDeleted):
			return nil, fmt.Errorf("load cgroup %s: %w", id, err)
		}
	}
	if l.v2 != "" {
		dir := filepath.Join(l.v2, group(id))
		if _, err := os.Stat(dir); err == nil {
			m, err := cgroup2.Load(group(id), cgroup2.WithMountpoint(l.v2))
			if err != nil {
				return nil, fmt.Errorf("load cgroup %s: %w", id, err)
			}
			c.v2, c.v2dir = m, dir
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load cgroup %s: %w", id, err)
		}
	}
	if c.v1 == nil && c.v2 == nil {
		return nil, ErrNotFound
	}
	return c, nil
}

// Add moves process pid, with all its threads, into the group in every
// hierarchy.
func (c *Cgroup) Add(pid int) error {
	if c.v1 != nil {
		if err := c.v1.AddProc(uint64(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup %s: %w", pid, c.id, err)
		}
	}
	if c.v2 != nil {
		if err := c.v2.AddProc(uint64(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup %s: %w", pid, c.id, err)
		}
	}
	return nil
}

// dirs returns the group's directory in every hierarchy.
func (c *Cgroup) dirs() []string {
	var out []string
	if c.v1 != nil {
		for _, s := range c.v1.Subsystems() {
			// Every controller the library creates implements Path.
			if p, ok := s.(interface{ Path(string) string }); ok {
				out = append(out, p.Path(group(c.id)))
			}
		}
	}
	if c.v2 != nil {
		out = append(out, c.v2dir)
	}
	return out
}

// ProcsFiles returns the absolute path of the group's cgroup.procs file in
// every hierarchy: a process joins the group by writing its pid to each.
func (c *Cgroup) ProcsFiles() []string {
	var out []string
	for _, d := range c.dirs() {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}
