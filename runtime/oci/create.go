package oci

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/atomicfile"
	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/jsonwalk"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// CreateOptions are runc create's options, and what a client in this
// process (hutch's Docker layer, through CreateChild) adds to a bundle.
type CreateOptions struct {
	PidFile       string
	NoPivot       bool       // enter the root without pivot_root (a root on a ramfs)
	PreserveFds   int        // the caller's fds 3.. go to the container's process as 3..
	ConsoleSocket string     // where a terminal's master goes (process.terminal)
	Stdio         []*os.File // the init's stdin, stdout, stderr (a nil one: /dev/null)

	// Spec is the bundle's config.json as the caller made it: not read
	// again, and linked from the state directory rather than copied.
	Spec *specs.Spec
	// Overlay, if set, is the root: mounted at root.path inside the
	// container's mount namespace (so it vanishes with the container).
	Overlay *Overlay
	Reap    bool     // the init stays as pid 1 and reaps (--init)
	NetNS   *os.File // a network namespace to join, opened (and checked) by the caller
	// Cgroup is the container's group at the spec's cgroupsPath, made
	// ahead by the caller, who deletes it after Delete (which leaves it,
	// having killed what is in it); a failed create deletes it.
	Cgroup *cgroups.Cgroup
	// OnConsole takes the terminal's master instead of a console socket;
	// it is the callee's to close.
	OnConsole func(master *os.File)
	// Setup runs while the init builds the container, once its namespaces
	// exist (hutch wires its network here, overlapping the mounts). An
	// error fails the create; undoing what Setup made is the caller's.
	Setup func(pid int) error
}

// Child is a created container whose init is a child of this process
// (CreateChild): its caller waits for it, and its sync socket stays open
// until Start to hear whether its command runs.
type Child struct {
	r       *Runtime
	rec     *record // its creator's: nobody else starts it
	init    *Init
	ev      Events // what its init may say on its way to "created"
	pidFile string
}

// Create makes the container id from the bundle: its cgroup, its
// namespaces, its mounts and root, and an init waiting in the exec fifo for
// Start. It returns once the init waits there (the OCI "created" state);
// the init is then no child of the caller's to wait for. On error nothing is
// left: no directory, cgroup, process or mount.
func (r *Runtime) Create(id, bundle string, o CreateOptions) error {
	c, err := r.create(id, bundle, o, false)
	if err == nil {
		c.init.Close()
	}
	return err
}

// CreateChild is Create for a caller that stays the init's parent: the
// init dies with the calling thread. It returns once the init has its plan
// and Setup is done; Child.Start waits for the init to be created, starts
// it and reports whether the command runs, with the init's error (an
// *InitError) if it does not. A child's terminal goes to OnConsole.
func (r *Runtime) CreateChild(id, bundle string, o CreateOptions) (*Child, error) {
	return r.create(id, bundle, o, true)
}

// Pid is the container's process: the init's, or its child's after a
// detached fork.
func (c *Child) Pid() int { return c.rec.Pid }

// Cmd is the init's process, to wait for.
func (c *Child) Cmd() *exec.Cmd { return c.init.Cmd }

// Start waits until the container is created, starts it and waits until
// its command runs or fails: a failure is the init's *InitError, with its
// exit code.
func (c *Child) Start() error {
	defer c.init.Close()
	fifo, err := openFifo(c.r.fifoPath(c.rec.ID))
	if err != nil {
		return err
	}
	defer unix.Close(fifo)
	if err := c.created(); err != nil {
		return err
	}
	if err := c.r.start(c.rec, fifo); err != nil {
		// The init says why, when it can; its error beats start's "failed".
		if ierr := c.init.Await(Events{}); ierr != nil {
			return ierr
		}
		return err
	}
	return c.init.Await(Events{})
}

// Kill kills the init and reaps it.
func (c *Child) Kill() {
	c.init.Close()
	c.init.Kill()
}

func (r *Runtime) create(id, bundle string, o CreateOptions, child bool) (_ *Child, err error) {
	if o.Cgroup != nil {
		// Handed over: gone with a failed create, whatever the failure.
		defer func() {
			if err != nil {
				o.Cgroup.Delete()
			}
		}()
	}
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if child && o.ConsoleSocket != "" {
		return nil, errors.New("create: a child's terminal goes to OnConsole, not a console socket")
	}
	spec := o.Spec
	if spec == nil {
		spec, bundle, err = LoadBundle(bundle)
	} else {
		err = check(spec, bundle)
	}
	if err != nil {
		return nil, err
	}
	if o.PreserveFds < 0 || o.PreserveFds > 256 {
		return nil, fmt.Errorf("--preserve-fds %d: not between 0 and 256", o.PreserveFds)
	}
	hasConsole := o.ConsoleSocket != "" || o.OnConsole != nil
	if spec.Process.Terminal && !hasConsole {
		return nil, errors.New("process.terminal is set: a --console-socket is needed to hand the terminal over")
	}
	if !spec.Process.Terminal && hasConsole {
		return nil, errors.New("--console-socket given, but process.terminal is not set")
	}
	flags, join, err := namespaces(spec)
	if err != nil {
		return nil, err
	}
	if o.NetNS != nil {
		flags &^= unix.CLONE_NEWNET
		join = append(join, joinNS{kind: "net", file: o.NetNS})
	}
	userns := flags&unix.CLONE_NEWUSER != 0
	facts, err := RealHostFacts()
	if err != nil {
		return nil, err
	}
	hooks := spec.Hooks != nil && len(spec.Hooks.Poststart)+len(spec.Hooks.Poststop) > 0
	rec := &record{ID: id, Bundle: bundle, Rootfs: spec.Root.Path, Created: time.Now().UTC(),
		Annotations: spec.Annotations, Cgroup: cgroupPath(spec, id), CallersCgroup: o.Cgroup != nil,
		Hooks: &hooks, Child: child, Namespaces: ownNamespaces(spec, o.NetNS != nil)}
	if o.Spec == nil {
		// The whole plan once before anything exists: a bad config.json
		// fails here. (A caller's spec is its own, and is planned once.)
		if _, err := planOf(spec, rec, join, o, facts); err != nil {
			return nil, err
		}
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
	if o.Spec != nil {
		err = os.Symlink(filepath.Join(bundle, "config.json"), filepath.Join(r.dir(id), "config.json"))
	} else {
		err = writeConfig(r.dir(id), spec)
	}
	if err != nil {
		return nil, err
	}
	// Recorded before anything is made: were this create killed, delete
	// finds the cgroup (and the init) here. Not a child's: the init dies
	// with its creator, whose cleanup knows the cgroup (Delete of an id
	// without a record removes its directory).
	rec.Creating = true
	if !child {
		if err := r.save(rec); err != nil {
			return nil, err
		}
	}
	// Writable by all (not by the umask's leave): the init may be another
	// user's by the time it opens it (a user namespace's root).
	if err := unix.Mkfifo(r.fifoPath(id), 0o622); err != nil {
		return nil, fmt.Errorf("make exec fifo: %w", err)
	}
	if userns {
		if err := os.Chmod(r.fifoPath(id), 0o622); err != nil {
			return nil, err
		}
	}
	// What only the init needs: the parent's copies go once it has its own
	// (closed while it works, not while it waits for start), or at return.
	var parentCopies []io.Closer
	closeCopies := func() {
		for _, f := range parentCopies {
			f.Close()
		}
		parentCopies = nil
	}
	defer closeCopies()
	fifo, err := os.OpenFile(r.fifoPath(id), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	parentCopies = append(parentCopies, fifo)
	var console *net.UnixConn
	if o.ConsoleSocket != "" {
		c, err := net.Dial("unix", o.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		console = c.(*net.UnixConn)
		defer console.Close()
	}

	cg := o.Cgroup
	if cg == nil {
		if cg, err = cgroups.CreatePath(rec.Cgroup, withDefaultDevices(spec)); err != nil {
			return nil, err
		}
		undo = append(undo, cg.Delete) // kills what is in it too
	}
	cj, err := OpenCgroupJoin(cg)
	if err != nil {
		return nil, err
	}
	parentCopies = append(parentCopies, cj)

	// The init's descriptors: the fifo, then the namespaces it joins, then
	// the v1 tasks files (from a new user namespace they are not its to
	// write: the cgroup is entered from here instead).
	files := []*os.File{fifo}
	var fds []NsFd
	for _, ns := range join {
		f := ns.file
		if f == nil {
			if f, err = os.Open(ns.path); err != nil {
				return nil, fmt.Errorf("namespace %s: %w", ns.kind, err)
			}
			parentCopies = append(parentCopies, f)
		}
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
		parentCopies = append(parentCopies, f)
		idmappedFds[i] = FileFd(len(files))
		files = append(files, f)
	}
	preserveFirst := FileFd(len(files))
	preserved, err := inheritedFiles(o.PreserveFds)
	if err != nil {
		return nil, err
	}
	files = append(files, preserved...)
	var tasks []int
	if !userns {
		for _, f := range cj.Tasks {
			tasks = append(tasks, FileFd(len(files)))
			files = append(files, f)
		}
	}
	c := InitClone{Cloneflags: flags, Cgroup: cj, Files: files, Arg: id, DieWithParent: child,
		UIDMappings: idMaps(spec.Linux.UIDMappings), GIDMappings: idMaps(spec.Linux.GIDMappings)}
	if len(o.Stdio) == 3 {
		c.Stdin, c.Stdout, c.Stderr = o.Stdio[0], o.Stdio[1], o.Stdio[2]
	}
	opts := initOptions(spec, rec, fds, tasks, FileFd(0), o)
	opts.CgroupBinds = CgroupBinds(cg)
	opts.Preserve, opts.PreserveFirst = o.PreserveFds, preserveFirst
	opts.KeepSync = child
	opts.Idmapped = idmappedFds
	// The plan is made before the clone, so that the init has it at once,
	// unless hooks the init runs read the state: it has the init's pid.
	var plan *Plan
	initHooks := spec.Hooks != nil && len(spec.Hooks.CreateContainer)+len(spec.Hooks.StartContainer) > 0
	if !initHooks {
		if plan, err = BuildInit(spec, opts, facts); err != nil {
			return nil, err
		}
	}
	init, err := Clone(c)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() error { init.Close(); init.Kill(); return nil })
	// The init waits for its plan: it goes first, the rest while it works.
	rec.Pid = init.Pid()
	if userns {
		if err := enterCgroup(cg, rec.Pid); err != nil {
			return nil, err
		}
	}
	if initHooks {
		opts.State = hookState(rec, Created)
		if plan, err = BuildInit(spec, opts, facts); err != nil {
			return nil, err
		}
	}
	if err := init.Send(plan); err != nil {
		return nil, err
	}
	closeCopies()
	rec.PidStart = procstart.Of(rec.Pid)
	// The pid is recorded while the init works (a create killed before
	// that is undone by its cgroup). A child's record is done here: a
	// creator that dies takes its init along, and nobody else watches.
	rec.Creating = !child
	if err := r.save(rec); err != nil {
		return nil, err
	}
	if o.Setup != nil {
		if err := o.Setup(rec.Pid); err != nil {
			return nil, err
		}
	}
	ev := Events{Created: true}
	ev.Pid = func(pid int) { rec.Pid = pid }
	ev.Pty = func(master *os.File) {
		sizeConsole(master, spec.Process.ConsoleSize)
		if o.OnConsole != nil {
			o.OnConsole(master)
			return
		}
		defer master.Close()
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
	c2 := &Child{r: r, rec: rec, init: init, ev: ev, pidFile: o.PidFile}
	if child {
		// Its Start waits for "created", with the fifo open before the
		// init gets there, so that the init never sleeps at the gate.
		return c2, nil
	}
	if err := c2.created(); err != nil {
		return nil, err
	}
	return c2, nil
}

// created waits until the init says "created", and records it.
func (c *Child) created() error {
	clonePid, rec := c.init.Pid(), c.rec
	if err := c.init.Await(c.ev); err != nil {
		return err
	}
	if rec.Pid != clonePid || rec.Creating { // a child just said "created": it is there
		if rec.PidStart = procstart.Of(rec.Pid); rec.PidStart == 0 {
			return errors.New("init exited before it was created")
		}
	}
	if rec.Creating || rec.Pid != clonePid { // not done yet, or a detached fork's pid
		rec.Creating = false
		if err := c.r.save(rec); err != nil {
			return err
		}
	}
	if c.pidFile != "" {
		return writePidFile(c.pidFile, rec.Pid)
	}
	return nil
}

// PlanOf is the init plan a create of spec with o would send, with
// stand-in descriptors: for a caller's checks and tests.
func PlanOf(spec *specs.Spec, o CreateOptions, host HostFacts) (*Plan, error) {
	_, join, err := namespaces(spec)
	if err != nil {
		return nil, err
	}
	if o.NetNS != nil {
		join = append(join, joinNS{kind: "net", file: o.NetNS})
	}
	return planOf(spec, &record{Annotations: spec.Annotations}, join, o, host)
}

func planOf(spec *specs.Spec, rec *record, join []joinNS, o CreateOptions, host HostFacts) (*Plan, error) {
	var fds []NsFd
	for i, ns := range join {
		fds = append(fds, NsFd{Fd: 10 + i, Kind: ns.kind})
	}
	return BuildInit(spec, initOptions(spec, rec, fds, nil, 3, o), host)
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

// initOptions are the OCI init's: the namespaces to join, the exec fifo,
// the hooks' state, and the caller's choices (an overlay root, a reaper).
func initOptions(spec *specs.Spec, rec *record, join []NsFd, tasks []int, fifo int, c CreateOptions) InitOptions {
	o := InitOptions{Join: join, Tasks: tasks, ExecFifo: fifo, State: hookState(rec, Created),
		Overlay: c.Overlay, Reap: c.Reap, NoPivot: c.NoPivot}
	o.ForkDetached = joined(spec, specs.PIDNamespace)
	o.CreateRuntime = spec.Hooks != nil && len(spec.Hooks.Prestart)+len(spec.Hooks.CreateRuntime) > 0
	return o
}

// ownNamespaces are the kinds of namespace the init has of its own, made or
// joined (by path, or netNS: a file the caller opened): those an exec joins.
func ownNamespaces(spec *specs.Spec, netNS bool) []string {
	var out []string
	for _, ns := range spec.Linux.Namespaces {
		out = append(out, nsKinds[ns.Type])
	}
	if netNS && !slices.Contains(out, "net") {
		out = append(out, "net")
	}
	return out
}

// joinNS is a namespace the init joins: by path, or a file the caller opened.
type joinNS struct {
	kind, path string
	file       *os.File
}

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
			join = append([]joinNS{{kind: kind, path: ns.Path}}, join...)
		case ns.Path != "":
			join = append(join, joinNS{kind: kind, path: ns.Path})
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

// writeConfig keeps the config a container was created from. jsonwalk, as
// encoding/json would write it, less the 0.5 ms of building an encoder for
// every type of the spec.
func writeConfig(dir string, spec *specs.Spec) error {
	b, err := jsonwalk.MarshalIndent(spec)
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
