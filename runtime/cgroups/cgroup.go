// Package cgroups gives each container its own cgroup, "/hutch/<id>" for
// the Docker layer or any OCI linux.cgroupsPath, in every cgroup hierarchy
// of the host: the v1 hierarchies (legacy), the unified v2 tree (unified),
// or both (hybrid). It sets the OCI runtime-spec's resources (each where
// its controller is) and device rules, changes them on a live group,
// freezes and thaws it, and lists and counts what runs in it. It writes
// the cgroup files itself: a general library pulls in enough code to slow
// down the start of every hutch process (the v2 device program, which
// needs assembling, loading and attaching, is the exception: see
// devices_v2.go).
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

// parent is the group under which Create makes every container's group. It
// is shared and never removed.
const parent = "/hutch"

// Cgroup is one group, at the same path in every hierarchy.
type Cgroup struct {
	path string    // e.g. "/hutch/<id>"
	v1   []v1group // the hierarchies that have the group, in layout order
	v2   string    // the group's directory in the v2 tree, "" if none
	l    layout
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

// checkPath accepts an absolute, clean group path other than the root:
// no "." or ".." element, no empty one, no NUL.
func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") || path == "/" || strings.HasSuffix(path, "/") || strings.Contains(path, "\x00") {
		return fmt.Errorf("invalid cgroup path %q: want an absolute path below the root", path)
	}
	for _, e := range strings.Split(path[1:], "/") {
		if e == "" || e == "." || e == ".." {
			return fmt.Errorf("invalid cgroup path %q: %q element", path, e)
		}
	}
	return nil
}

// Create makes the group "/hutch/<id>" in every hierarchy, as CreatePath
// does; "/hutch" is shared by every container and stays.
func Create(id string, res *specs.LinuxResources) (*Cgroup, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return CreatePath(parent+"/"+id, res)
}

// CreatePath makes the group at path (absolute, as an OCI
// linux.cgroupsPath made absolute: "/default/abc") in every hierarchy,
// with every missing parent, and sets the limits in res (nil: none): each
// kind where its controller is (see makePlan), the device rules as
// DeviceRules describes (none: every device allowed). All are set before a
// process joins the group. A group that already exists is reused. A limit
// the host cannot set is refused before anything is made; on any other
// error, the group and the parents this call made are removed again.
func CreatePath(path string, res *specs.LinuxResources) (*Cgroup, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", path, err)
	}
	return create(l, path, res)
}

func create(l layout, path string, res *specs.LinuxResources) (_ *Cgroup, err error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	p, err := makePlan(l, res, v2Avail(l.v2))
	if err != nil {
		return nil, err
	}
	c := &Cgroup{path: path, l: l}
	var made []string // parents this call made, to remove on error
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Delete())
			for _, d := range slices.Backward(made) {
				_ = unix.Rmdir(d) // busy: another group came meanwhile
			}
		}
	}()

	for _, h := range l.v1 {
		dir, m, err := mkdirPath(h.dir, path, h.fillCpuset)
		made = append(made, m...)
		if dir != "" {
			c.v1 = append(c.v1, v1group{h, dir})
		}
		if err != nil {
			return nil, err
		}
	}
	if err := c.applyV1(p.v1); err != nil {
		return nil, err
	}

	if l.v2 != "" {
		dir := l.v2 + path
		if up := parentOf(path); up != "" {
			_, m, err := mkdirPath(l.v2, up, nil)
			made = append(made, m...)
			if err != nil {
				return nil, err
			}
		}
		if err := c.enable(p); err != nil {
			return nil, err
		}
		if err := mkdir(dir); err != nil {
			return nil, err
		}
		c.v2 = dir
		for _, s := range p.v2 {
			if err := s.apply(dir); err != nil {
				return nil, err
			}
		}
		// Unless v1's devices group has them already (a hybrid host), as
		// runc does: the kernel enforces those as well, and loading the
		// program (the verifier) is the dearest step of a start's cgroup.
		if p.devicesV2 {
			if err := attachDeviceRules(dir, p.devices); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// parentOf is the parent group path of path; "" for a top-level group.
func parentOf(path string) string {
	return path[:strings.LastIndexByte(path, '/')]
}

// mkdirPath makes the group path (and its missing parents) below root,
// calling fill on each directory as it goes (parents first). It returns
// the group's directory, made or found ("" if it got no further than a
// parent), and the parents it made.
func mkdirPath(root, path string, fill func(dir string) error) (dir string, made []string, err error) {
	d := root
	for _, e := range strings.Split(path[1:], "/") {
		d += "/" + e
		created, err := mkdirNew(d)
		if created && d != root+path {
			made = append(made, d)
		}
		if err != nil {
			return "", made, err
		}
		if d == root+path {
			dir = d // from here on Delete removes it
		}
		if fill != nil {
			if err := fill(d); err != nil {
				return dir, made, err
			}
		}
	}
	return dir, made, nil
}

// mkdir makes a group; one that exists already is fine.
func mkdir(dir string) error {
	_, err := mkdirNew(dir)
	return err
}

// mkdirNew makes a group and tells whether it did; one that exists
// already is fine.
func mkdirNew(dir string) (bool, error) {
	err := unix.Mkdir(dir, 0o755)
	if err == unix.EEXIST {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return true, nil
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

// enable turns on, in the cgroup.subtree_control of every v2 group from
// the root down to the group's parent, the controllers the plan's v2
// settings need and, on a unified host, those of cpu, memory and pids the
// host offers (so that a later Update finds their files). Failing to
// enable a needed one is an error; failing for another is not.
func (c *Cgroup) enable(p plan) error {
	want := slices.Clone(p.v2ctls)
	if c.l.limits2 {
		for _, ctl := range v2Controllers {
			want = appendNew(want, ctl)
		}
	}
	if len(want) == 0 {
		return nil
	}
	dirs := []string{c.l.v2}
	if up := parentOf(c.path); up != "" {
		d := c.l.v2
		for _, e := range strings.Split(up[1:], "/") {
			d += "/" + e
			dirs = append(dirs, d)
		}
	}
	on, err := readFile(dirs[len(dirs)-1] + "/cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("enable cgroup controllers: %w", err)
	}
	if containsAll(strings.Fields(on), want) {
		return nil // the usual case, after the first container
	}
	for _, d := range dirs {
		avail, err := readFile(d + "/cgroup.controllers")
		if err == nil {
			on, err = readFile(d + "/cgroup.subtree_control")
		}
		if err != nil {
			return fmt.Errorf("enable cgroup controllers: %w", err)
		}
		for _, ctrl := range want {
			if !slices.Contains(strings.Fields(avail), ctrl) || slices.Contains(strings.Fields(on), ctrl) {
				continue
			}
			if err := writeFile(d+"/cgroup.subtree_control", "+"+ctrl); err != nil && slices.Contains(p.v2ctls, ctrl) {
				return fmt.Errorf("enable cgroup controller %s in %s: %w", ctrl, d, err)
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

// Load finds the group of container id, as left by Create in another
// process, for UnifiedDir, TaskFiles or Delete. It returns ErrNotFound when no
// hierarchy has it.
func Load(id string) (*Cgroup, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return LoadPath(parent + "/" + id)
}

// LoadPath finds the group at path, as left by CreatePath in another
// process. It returns ErrNotFound when no hierarchy has it.
func LoadPath(path string) (*Cgroup, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", path, err)
	}
	return load(l, path)
}

func load(l layout, path string) (*Cgroup, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	exists := func(dir string) (bool, error) {
		_, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("load cgroup %s: %w", path, err)
		}
		return true, nil
	}
	c := &Cgroup{path: path, l: l}
	for _, h := range l.v1 {
		dir := h.dir + path
		ok, err := exists(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			c.v1 = append(c.v1, v1group{h, dir})
		}
	}
	if l.v2 != "" {
		dir := l.v2 + path
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

// Path returns the group's path, the same in every hierarchy.
func (c *Cgroup) Path() string { return c.path }

// Dirs returns the group's directory in every hierarchy, v1 first.
func (c *Cgroup) Dirs() []string {
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
