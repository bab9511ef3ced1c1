package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/atomicfile"
	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// CreateOptions are runc create's options.
type CreateOptions struct {
	PidFile       string
	NoPivot       bool       // enter the root without pivot_root (a root on a ramfs)
	PreserveFds   int        // the caller's fds 3.. go to the container's process as 3..
	ConsoleSocket string     // where a terminal's master goes (process.terminal)
	Stdio         []*os.File // the init's stdin, stdout, stderr
}

// Create makes the container id from the bundle: its cgroup, its
// namespaces, its mounts and root, and an init waiting in the exec fifo for
// Start. It returns once the init waits there (the OCI "created" state);
// the init is then no child of the caller's to wait for. On error nothing is
// left: no directory, cgroup, process or mount.
func (r *Runtime) Create(id, bundle string, o CreateOptions) (err error) {
	_, err = r.create(id, bundle, o)
	return err
}

func (r *Runtime) create(id, bundle string, o CreateOptions) (_ *exec.Cmd, err error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	spec, bundle, err := LoadBundle(bundle)
	if err != nil {
		return nil, err
	}
	if o.PreserveFds < 0 || o.PreserveFds > 256 {
		return nil, fmt.Errorf("--preserve-fds %d: not between 0 and 256", o.PreserveFds)
	}
	if spec.Process.Terminal && o.ConsoleSocket == "" {
		return nil, errors.New("process.terminal is set: a --console-socket is needed to hand the terminal over")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given, but process.terminal is not set")
	}
	flags, join, err := namespaces(spec)
	if err != nil {
		return nil, err
	}
	facts, err := RealHostFacts()
	if err != nil {
		return nil, err
	}
	rec := &record{ID: id, Bundle: bundle, Rootfs: spec.Root.Path, Created: time.Now().UTC(),
		Annotations: spec.Annotations, Cgroup: cgroupPath(spec, id)}
	// The whole plan once before anything exists: a bad spec fails here.
	var someFds []NsFd
	for i, ns := range join {
		someFds = append(someFds, NsFd{Fd: 10 + i, Kind: ns.kind})
	}
	if _, err := BuildInit(spec, initOptions(spec, rec, someFds, nil, 3), facts); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return nil, err
	}
	if err := os.Mkdir(r.dir(id), 0o711); errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("container with id %s exists already", id)
	} else if err != nil {
		return nil, err
	}
	var undo []func() error
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				err = errors.Join(err, undo[i]())
			}
		}
	}()
	undo = append(undo, func() error { return os.RemoveAll(r.dir(id)) })
	unlock, err := r.lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := writeConfig(r.dir(id), spec); err != nil {
		return nil, err
	}
	// Recorded before anything is made: were this create killed, delete
	// finds the cgroup (and the init) here.
	rec.Creating = true
	if err := r.save(rec); err != nil {
		return nil, err
	}
	// Writable by all (not by the umask's leave): the init may be another
	// user's by the time it opens it (a user namespace's root).
	if err := unix.Mkfifo(r.fifoPath(id), 0o622); err != nil {
		return nil, fmt.Errorf("make exec fifo: %w", err)
	}
	if err := os.Chmod(r.fifoPath(id), 0o622); err != nil {
		return nil, err
	}
	fifo, err := os.OpenFile(r.fifoPath(id), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer fifo.Close()
	var console *net.UnixConn
	if o.ConsoleSocket != "" {
		c, err := net.Dial("unix", o.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		console = c.(*net.UnixConn)
		defer console.Close()
	}

	cg, err := cgroups.CreatePath(rec.Cgroup, withDefaultDevices(spec))
	if err != nil {
		return nil, err
	}
	undo = append(undo, cg.Delete) // kills what is in it too
	cj, err := OpenCgroupJoin(cg)
	if err != nil {
		return nil, err
	}
	defer cj.Close()

	// The init's descriptors: the fifo, then the namespaces it joins, then
	// the v1 tasks files (from a new user namespace they are not its to
	// write: the cgroup is entered from here instead).
	files := []*os.File{fifo}
	var fds []NsFd
	for _, ns := range join {
		f, err := os.Open(ns.path)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns.kind, err)
		}
		defer f.Close()
		fds = append(fds, NsFd{Fd: FileFd(len(files)), Kind: ns.kind})
		files = append(files, f)
	}
	// Idmapped mounts are made here, where hutch is root over the user
	// namespaces that carry their mappings; the init moves them into place.
	idmapped, err := OpenIdmapped(spec)
	if err != nil {
		return nil, err
	}
	idmappedFds := map[int]int{}
	for i, f := range idmapped {
		defer f.Close()
		idmappedFds[i] = FileFd(len(files))
		files = append(files, f)
	}
	preserveFirst := FileFd(len(files))
	preserved, err := inheritedFiles(o.PreserveFds)
	if err != nil {
		return nil, err
	}
	files = append(files, preserved...)
	userns := flags&unix.CLONE_NEWUSER != 0
	var tasks []int
	if !userns {
		for _, f := range cj.Tasks {
			tasks = append(tasks, FileFd(len(files)))
			files = append(files, f)
		}
	}
	c := InitClone{Cloneflags: flags, Cgroup: cj, Files: files, Arg: id,
		UIDMappings: idMaps(spec.Linux.UIDMappings), GIDMappings: idMaps(spec.Linux.GIDMappings)}
	if len(o.Stdio) == 3 {
		c.Stdin, c.Stdout, c.Stderr = o.Stdio[0], o.Stdio[1], o.Stdio[2]
	}
	child, err := Clone(c)
	if err != nil {
		return nil, err
	}
	defer child.Close()
	undo = append(undo, func() error { child.Kill(); return nil })
	rec.Pid, rec.PidStart = child.Pid(), procstart.Of(child.Pid())
	if err := r.save(rec); err != nil {
		return nil, err
	}
	if userns {
		if err := enterCgroup(cg, rec.Pid); err != nil {
			return nil, err
		}
	}
	opts := initOptions(spec, rec, fds, tasks, FileFd(0))
	opts.CgroupBinds = CgroupBinds(cg)
	opts.NoPivot, opts.Preserve, opts.PreserveFirst = o.NoPivot, o.PreserveFds, preserveFirst
	opts.Idmapped = idmappedFds
	plan, err := BuildInit(spec, opts, facts)
	if err != nil {
		return nil, err
	}
	if err := child.Send(plan); err != nil {
		return nil, err
	}
	ev := Events{Created: true}
	ev.Pid = func(pid int) { rec.Pid = pid }
	ev.Pty = func(master *os.File) {
		defer master.Close()
		sizeConsole(master, spec.Process.ConsoleSize)
		if err := sendConsole(console, master); err != nil {
			unix.Kill(rec.Pid, unix.SIGKILL)
		}
	}
	if spec.Hooks != nil {
		// Once the container is being made, a failure goes on to the
		// poststop hooks, as the spec's lifecycle says (step 12).
		undo = append(undo, func() error {
			for _, h := range spec.Hooks.Poststop {
				if err := runHook(h, hookState(rec, Stopped)); err != nil {
					warnf("poststop %v", err)
				}
			}
			return nil
		})
	}
	ev.Hooks = func() error {
		rec.PidStart = procstart.Of(rec.Pid)
		state := hookState(rec, Creating)
		for _, h := range spec.Hooks.Prestart {
			if err := runHook(h, state); err != nil {
				return fmt.Errorf("prestart %w", err)
			}
		}
		for _, h := range spec.Hooks.CreateRuntime {
			if err := runHook(h, state); err != nil {
				return fmt.Errorf("createRuntime %w", err)
			}
		}
		return nil
	}
	if err := child.Await(ev); err != nil {
		return nil, err
	}
	if rec.PidStart = procstart.Of(rec.Pid); rec.PidStart == 0 {
		return nil, errors.New("init exited before it was created")
	}
	rec.Creating = false
	if err := r.save(rec); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, rec.Pid); err != nil {
			return nil, err
		}
	}
	return child.Cmd, nil
}

// withDefaultDevices is the spec's resources with the device rules runc
// adds: after the spec's own, the devices every container has (null, zero,
// the ptys, ...) and those of linux.devices.
func withDefaultDevices(spec *specs.Spec) *specs.LinuxResources {
	res := specs.LinuxResources{}
	if spec.Linux.Resources != nil {
		res = *spec.Linux.Resources
	}
	rules := append([]specs.LinuxDeviceCgroup{}, res.Devices...)
	rules = append(rules, cgroups.DeviceRules(false)[1:]...) // less its deny-all
	for _, d := range spec.Linux.Devices {
		major, minor, typ := d.Major, d.Minor, d.Type
		switch typ {
		case "p":
			continue // a fifo is no device
		case "u":
			typ = "c"
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	res.Devices = rules
	return &res
}

// initOptions are the OCI init's: the namespaces to join, no overlay (the
// bundle's root is used as it is), the exec fifo, and the hooks' state.
func initOptions(spec *specs.Spec, rec *record, join []NsFd, tasks []int, fifo int) InitOptions {
	o := InitOptions{Join: join, Tasks: tasks, ExecFifo: fifo, State: hookState(rec, Created)}
	o.ForkDetached = joined(spec, specs.PIDNamespace)
	o.CreateRuntime = spec.Hooks != nil && len(spec.Hooks.Prestart)+len(spec.Hooks.CreateRuntime) > 0
	return o
}

type joinNS struct{ kind, path string }

var cloneFlagOf = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.NetworkNamespace: unix.CLONE_NEWNET, specs.UserNamespace: unix.CLONE_NEWUSER,
}

// namespaces splits the spec's namespaces into those the clone makes and
// those the init joins by path (the user namespace first). The cgroup
// namespace is the init's to unshare, once it is in its cgroup.
func namespaces(spec *specs.Spec) (uintptr, []joinNS, error) {
	var flags uintptr
	var join []joinNS
	for _, ns := range spec.Linux.Namespaces {
		kind := nsKinds[ns.Type]
		switch {
		case ns.Path != "" && ns.Type == specs.UserNamespace:
			join = append([]joinNS{{kind, ns.Path}}, join...)
		case ns.Path != "":
			join = append(join, joinNS{kind, ns.Path})
		case ns.Type != specs.CgroupNamespace:
			flags |= cloneFlagOf[ns.Type]
		}
	}
	return flags, join, nil
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// sizeConsole gives the terminal process.consoleSize, if set.
func sizeConsole(master *os.File, size *specs.Box) {
	if size != nil && size.Height > 0 && size.Width > 0 {
		unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ,
			&unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)})
	}
}

// sendConsole hands the terminal's master to whoever listens on the
// console socket (containerd's shim), as runc does.
func sendConsole(c *net.UnixConn, master *os.File) error {
	rights := unix.UnixRights(int(master.Fd()))
	_, _, err := c.WriteMsgUnix([]byte("/dev/ptmx"), rights, nil)
	return err
}

func writeConfig(dir string, spec *specs.Spec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}

// writePidFile writes pid whole or not at all (containerd reads it at once).
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(abs, []byte(strconv.Itoa(pid)), 0o644)
}
