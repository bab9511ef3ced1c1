// Package cgroups gives each container its own cgroup, "/hutch/<id>", in
// every cgroup hierarchy of the host: the v1 hierarchies (legacy), the
// unified v2 tree (unified), or both (hybrid), and sets its memory, CPU and
// pids limits and its device rules. It writes the cgroup files itself: a
// general library pulls in enough code to slow down the start of every
// hutch process (the v2 device program, which needs assembling, loading
// and attaching, is the exception: see devices_v2.go).
package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned by Load when the container has no cgroup left.
// errors.Is(ErrNotFound, fs.ErrNotExist) holds.
var ErrNotFound = fmt.Errorf("cgroup not found: %w", fs.ErrNotExist)

// parent is the group under which every container's group is made. It is
// shared and never removed.
const parent = "/hutch"

// Cgroup is one container's group in every hierarchy.
type Cgroup struct {
	id string
	v1 []v1group // the hierarchies that have the group, in layout order
	v2 string    // the group's directory in the v2 tree, "" if none
}

// v1group is the group's directory in one v1 hierarchy.
type v1group struct {
	h   hierarchy
	dir string
}

func checkID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("invalid container id %q for a cgroup", id)
	}
	return nil
}

// Create makes the group "/hutch/<id>" in every hierarchy and sets the
// limits in res (nil: none): memory (with swap as Docker sets it by
// default), CPU quota and period, pids, and the device rules (see
// DeviceRules; none: every device allowed); the other fields are ignored.
// All are set before a process joins the group. A group that already
// exists is reused. On error, the group is removed again.
func Create(id string, res *specs.LinuxResources) (*Cgroup, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", parent+"/"+id, err)
	}
	return create(l, id, res)
}

func create(l layout, id string, res *specs.LinuxResources) (_ *Cgroup, err error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	r := &specs.LinuxResources{}
	if res != nil {
		r = res
	}
	c := &Cgroup{id: id}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Delete())
		}
	}()

	for _, h := range l.v1 {
		top := h.dir + parent
		if err := mkdir(top); err != nil {
			return nil, err
		}
		if err := h.fillCpuset(top); err != nil {
			return nil, err
		}
		dir := top + "/" + id
		if err := mkdir(dir); err != nil {
			return nil, err
		}
		c.v1 = append(c.v1, v1group{h, dir})
		if err := h.fillCpuset(dir); err != nil {
			return nil, err
		}
	}
	v1Devices := false // the v1 devices group holds the device rules
	if len(l.v1) > 0 && !l.limits2 {
		for _, s := range v1Settings(r) {
			i := slices.IndexFunc(c.v1, func(g v1group) bool { return g.h.has(s.controller) })
			if i < 0 && s.controller == "devices" && l.v2 != "" {
				continue // the v2 program holds the rules
			}
			if i < 0 {
				return nil, fmt.Errorf("set %s: no %s cgroup hierarchy mounted", s.what, s.controller)
			}
			if err := s.apply(c.v1[i].dir); err != nil {
				return nil, err
			}
			v1Devices = v1Devices || s.controller == "devices"
		}
	}

	if l.v2 != "" {
		top := l.v2 + parent
		if err := mkdir(top); err != nil {
			return nil, err
		}
		var settings []setting
		if l.limits2 {
			settings = v2Settings(r)
			if err := enableControllers(l.v2, top, settings); err != nil {
				return nil, err
			}
		}
		dir := top + "/" + id
		if err := mkdir(dir); err != nil {
			return nil, err
		}
		c.v2 = dir
		for _, s := range settings {
			if err := s.apply(dir); err != nil {
				return nil, err
			}
		}
		// Unless v1's devices group has them already (a hybrid host), as
		// runc does: the kernel enforces those as well, and loading the
		// program (the verifier) is the dearest step of a start's cgroup.
		if len(r.Devices) > 0 && !v1Devices {
			if err := attachDeviceRules(dir, r.Devices); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// mkdir makes a group; one that exists already is fine.
func mkdir(dir string) error {
	if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return nil
}

// fillCpuset gives a new v1 cpuset group its parent's CPUs and memory
// nodes: it starts with none, and adding a process to it then fails with
// ENOSPC.
func (h hierarchy) fillCpuset(dir string) error {
	if !h.has("cpuset") {
		return nil
	}
	for _, name := range []string{"cpus", "mems"} {
		if !h.noprefix {
			name = "cpuset." + name
		}
		file := dir + "/" + name
		v, err := readFile(file)
		if err == nil && len(strings.TrimSpace(v)) == 0 {
			if v, err = readFile(dir[:strings.LastIndexByte(dir, '/')] + "/" + name); err == nil {
				err = writeFile(file, strings.TrimSpace(v))
			}
		}
		if err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// enableControllers turns on, in the cgroup.subtree_control of the v2 root
// and of /hutch, those of cpu, memory and pids the host offers, so that
// the containers' groups get their control files. Failing to enable one
// whose limit is to be set is an error; failing for another is not.
func enableControllers(root, top string, settings []setting) error {
	on, err := readFile(top + "/cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("enable cgroup controllers: %w", err)
	}
	if containsAll(strings.Fields(on), v2Controllers) {
		return nil // the usual case, after the first container
	}
	needed := func(ctrl string) bool {
		return slices.ContainsFunc(settings, func(s setting) bool { return strings.HasPrefix(s.file, ctrl+".") })
	}
	for _, d := range []string{root, top} {
		avail, err := readFile(d + "/cgroup.controllers")
		if err == nil {
			on, err = readFile(d + "/cgroup.subtree_control")
		}
		if err != nil {
			return fmt.Errorf("enable cgroup controllers: %w", err)
		}
		for _, ctrl := range v2Controllers {
			if !slices.Contains(strings.Fields(avail), ctrl) || slices.Contains(strings.Fields(on), ctrl) {
				continue
			}
			if err := writeFile(d+"/cgroup.subtree_control", "+"+ctrl); err != nil && needed(ctrl) {
				return fmt.Errorf("enable cgroup controller %s: %w", ctrl, err)
			}
		}
	}
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// apply writes s to its file in the group directory dir.
func (s setting) apply(dir string) error {
	err := writeFile(dir+"/"+s.file, s.value)
	if err != nil && !(s.optional && errors.Is(err, fs.ErrNotExist)) {
		return fmt.Errorf("set %s: %w", s.what, err)
	}
	return nil
}

// Load finds the group of container id, as left by Create in another
// process, for UnifiedDir, TaskFiles or Delete. It returns ErrNotFound when no
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
	exists := func(dir string) (bool, error) {
		_, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("load cgroup %s: %w", id, err)
		}
		return true, nil
	}
	c := &Cgroup{id: id}
	for _, h := range l.v1 {
		dir := h.dir + parent + "/" + id
		ok, err := exists(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			c.v1 = append(c.v1, v1group{h, dir})
		}
	}
	if l.v2 != "" {
		dir := l.v2 + parent + "/" + id
		ok, err := exists(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			c.v2 = dir
		}
	}
	if len(c.v1) == 0 && c.v2 == "" {
		return nil, ErrNotFound
	}
	return c, nil
}

// dirs returns the group's directory in every hierarchy, v1 first.
func (c *Cgroup) dirs() []string {
	var out []string
	for _, g := range c.v1 {
		out = append(out, g.dir)
	}
	if c.v2 != "" {
		out = append(out, c.v2)
	}
	return out
}

// Entering the group cheaply. Moving a whole process by writing its pid to
// cgroup.procs takes a global lock whose first writer waits for an RCU grace
// period: 5-35 ms on a small VM, the slowest step of a start. Two ways in skip
// it, and a container's processes use only those:
//   - v2: clone3 with CLONE_INTO_CGROUP and a file descriptor of UnifiedDir;
//   - v1: a thread writes "0" to a hierarchy's "tasks" file (TaskFiles) to
//     move itself alone. A single-threaded process moves whole that way.

// UnifiedDir returns the group's directory in the v2 tree, "" if there is none.
func (c *Cgroup) UnifiedDir() string { return c.v2 }

// TaskFiles returns the absolute path of the group's "tasks" file in every
// v1 hierarchy.
func (c *Cgroup) TaskFiles() []string {
	var out []string
	for _, g := range c.v1 {
		out = append(out, g.dir+"/tasks")
	}
	return out
}

// writeFile writes value to a cgroup control file in one write, as the
// kernel wants it. The file must exist.
func writeFile(path, value string) error {
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := ignoringEINTR(func() (int, error) { return unix.Write(fd, []byte(value)) }); err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// readFile reads a (small) cgroup control file.
func readFile(path string) (string, error) {
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, buf[len(buf):cap(buf)]) })
		if err != nil {
			return "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// OOMKilled reports whether the kernel's OOM killer killed a process of the
// group (Docker's State.OOMKilled): the oom_kill count of memory.oom_control
// (v1) or memory.events (v2).
func (c *Cgroup) OOMKilled() bool {
	var files []string
	for _, g := range c.v1 {
		if slices.Contains(g.h.controllers, "memory") {
			files = append(files, g.dir+"/memory.oom_control")
		}
	}
	if c.v2 != "" {
		files = append(files, c.v2+"/memory.events")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(line, "oom_kill "); ok && n != "0" {
				return true
			}
		}
	}
	return false
}
