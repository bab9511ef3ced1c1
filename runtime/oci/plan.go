package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
)

// An init plan is a container's start written out as steps for the init
// (runtime/containerinit, in C) to carry out in order. The monitor builds it
// from the OCI spec, so every decision stays here in Go, and the init needs
// neither a JSON parser nor the Go runtime: it is running a fraction of a
// millisecond after the clone.
//
// On the wire a plan is a sequence of NUL-terminated strings: an op's name,
// then its arguments, numbers in decimal (capability sets in hex). The ops
// and what the init does for each:
//
//	setns FD KIND             join the namespace open at FD; KIND is one of
//	                          user, cgroup, ipc, uts, net, pid, mnt, time
//	fork MODE                 fork: the child goes on with the plan, in the pid
//	                          namespace joined; MODE "wait": the parent passes
//	                          signals on and exits with the child's status (an
//	                          exec); "detach": it sends "pid N" and exits
//	lo                        bring up the loopback
//	private                   make every mount private (nothing propagates to the host)
//	mount SRC TARGET TYPE FLAGS DATA   mount(2) at a host path
//	root PATH                 PATH is the root the in-root ops resolve in
//	mountin SRC DEST TYPE FLAGS DATA KIND REMOUNT
//	                          mount at DEST resolved inside the root (made
//	                          first: KIND "dir" or "file"); REMOUNT, if not 0,
//	                          then remounts it with those flags (a read-only bind;
//	                          of an rbind, read-only with its submounts)
//	movemount FD DEST KIND    move the detached mount open at FD (idmapped
//	                          by the runtime) to DEST, made first as mountin's
//	mknod PATH MODE MAJOR MINOR, symlink TARGET PATH   in the root
//	mask PATH                 hide PATH: /dev/null over a file, an empty tmpfs over a directory
//	readonly PATH             bind PATH onto itself read-only
//	mkdir PATH                make a directory inside the root
//	pivot PATH                pivot_root into PATH and drop the old root
//	tasks FD                  write "0" to a v1 cgroup's tasks file at FD
//	cgroupns                  unshare the cgroup namespace
//	timens                    unshare the time namespace: the command enters
//	                          it at its exec (its offsets: a write before)
//	wait MSG                  wait for the monitor to send MSG
//	notify MSG                send MSG to the monitor
//	fifo FD KEEP              say "created" and wait until `start` opens the exec
//	                          fifo open at FD (O_PATH); KEEP 0: close the sync
//	                          socket first (errors go to stderr from here on, and
//	                          the command outlives the runtime: an OCI create's);
//	                          1: keep both (the runtime stays the parent)
//	started                   write the fifo's byte: start returns (after the
//	                          startContainer hooks, which fail start if they fail)
//	write PATH VALUE          write VALUE to PATH (a sysctl, oom_score_adj)
//	chown PATH UID GID        in the root (a device node's owner)
//	hook TIMEOUT PATH ARGC ARG... ENVC ENV... STATE
//	                          run a hook with STATE on its stdin; fail if it
//	                          fails or outlives TIMEOUT seconds (0: none)
//	umask MASK, personality PERSONA
//	preserve FIRST N          the N descriptors at FIRST.. become the command's 3..
//	                          (an exec's sync socket moves out of their way)
//	moveroot PATH             enter PATH by moving it over / and chroot (no pivot_root)
//	pty CONSOLE               open a pty, send the master to the monitor, make
//	                          the slave stdio and controlling terminal (in a
//	                          session of its own) and, if CONSOLE is 1, /dev/console
//	hostname NAME, domainname NAME, rlimit RESOURCE SOFT HARD, nnp (no_new_privs)
//	sched POLICY FLAGS NICE PRIORITY RUNTIME DEADLINE PERIOD
//	                          sched_setattr(2) (process.scheduler)
//	ioprio VALUE              ioprio_set(2) (process.ioPriority)
//	mempolicy MODE MASK       set_mempolicy(2) (linux.memoryPolicy): MASK the
//	                          nodes, 64-bit words in hex, comma-separated
//	affinity MASK             sched_setaffinity(2) (an exec's execCPUAffinity),
//	                          MASK the CPUs, as mempolicy's
//	seccomp FLAGS PROGRAM     install a seccomp filter: PROGRAM is struct
//	                          sock_filter[] in hex, FLAGS seccomp(2)'s flags
//	identity UID GID GROUPS LASTCAP BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT
//	                          become the user (GROUPS comma-separated) with
//	                          exactly these capabilities
//	chdir PATH
//	exec REAP ARGC ARG... ENVC ENV...   find ARG[0] in the PATH of ENV and
//	                          exec it; REAP 1 keeps a reaper as pid 1 (--init)
//
// Errors go back over the sync socket as {"code":N,"msg":"..."}; a
// successful exec closes it. `hutch exec` sends the same init a plan of its
// own (BuildExec): join the running container, then the same ops from pty
// to exec.
type Plan struct {
	b   []byte
	err error // the first op that cannot be sent: an argument with a NUL byte, a wrong arity
}

// opArity is every op the init knows (init.c's ops[]) with its number of
// arguments; -1 for exec and hook, whose lists are counted. op checks what it emits
// against it, and the tests decode plans with it.
var opArity = map[string]int{
	"notify": 1, "fifo": 2, "started": 0, "preserve": 2, "moveroot": 1, "write": 2, "chown": 3, "hook": -1, "umask": 1, "personality": 1,
	"setns": 2, "fork": 1, "lo": 0, "private": 0, "mount": 5, "root": 1, "mountin": 7,
	"mknod": 4, "symlink": 2, "mask": 1, "readonly": 1, "mkdir": 1, "pivot": 1, "tasks": 1,
	"cgroupns": 0, "wait": 1, "pty": 1, "hostname": 1, "rlimit": 3, "nnp": 0, "seccomp": 2,
	"identity": 9, "chdir": 1, "exec": -1, "sched": 7, "ioprio": 1, "timens": 0,
	"movemount": 3, "mempolicy": 2, "domainname": 1,
	"affinity": 1,
}

func (p *Plan) op(name string, args ...string) {
	if n, ok := opArity[name]; (!ok || n >= 0 && n != len(args)) && p.err == nil {
		p.err = fmt.Errorf("init plan: op %s with %d arguments", name, len(args))
	}
	p.b = append(append(p.b, name...), 0)
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 && p.err == nil {
			// It would split into two words and shift every op after it.
			p.err = fmt.Errorf("%s: %q holds a NUL byte", name, a)
		}
		p.b = append(append(p.b, a...), 0)
	}
}

// Bytes is the plan as sent to the init.
func (p *Plan) Bytes() []byte { return p.b }

// InitOptions is what BuildInit needs beyond the spec: where the init
// finds the descriptors its plan names, and the choices a spec cannot carry.
type InitOptions struct {
	// Overlay, if set, is mounted as the root (spec.Root.Path its mount
	// point); nil: spec.Root.Path is the root as it is (an OCI bundle's).
	Overlay *Overlay
	Join    []NsFd // namespaces to join, in order (the spec's paths, opened)
	Tasks   []int  // the v1 cgroups' tasks files
	// ForkDetached: a pid namespace is joined, so the process that runs
	// the command is a child of the init's; the init reports its pid and exits.
	ForkDetached bool
	// ExecFifo is an O_PATH descriptor of the exec fifo: the init says
	// "created", then waits there for `start` (the OCI lifecycle).
	ExecFifo int
	// KeepSync: the runtime stays the init's parent and hears from it up
	// to the exec (Runtime.CreateChild), so the init keeps the sync socket
	// and its parent-death signal past the fifo.
	KeepSync bool
	// CreateRuntime: the init says "hooks" and waits for "go" once its
	// namespaces and mounts exist, before the pivot, so that the runtime
	// can run the prestart and createRuntime hooks.
	CreateRuntime bool
	State         []byte // the state the in-container hooks read on stdin
	// CgroupBinds are the container's own groups, bound where the spec
	// mounts "cgroup" (a view of its own limits, as runc gives without a
	// cgroup namespace).
	CgroupBinds []CgroupBind
	Reap        bool // keep a reaper as pid 1 (--init)
	NoPivot     bool // enter the root by MS_MOVE and chroot (runc --no-pivot)
	// Preserve hands the command the descriptors at PreserveFirst.. as its
	// 3.. (runc --preserve-fds); only with the exec fifo.
	Preserve, PreserveFirst int
	// Idmapped are the idmapped mounts (OpenIdmapped), by their index in
	// spec.Mounts: where the init finds each, detached.
	Idmapped map[int]int
}

// Overlay is the image's root filesystem with a writable layer on top.
type Overlay struct {
	Lower, Upper, Work string
	// Volatile: the upper layer dies with the container (--rm): skip the
	// syncs overlayfs would do, above all the one at unmount (as Podman does).
	Volatile bool
}

// CgroupBind is one hierarchy's group of the container: Name as under
// /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified"), Source its directory.
type CgroupBind struct{ Name, Source string }

// NsFd is a namespace open at Fd in the init.
type NsFd struct {
	Fd   int
	Kind string // as in /proc/<pid>/ns/ and the setns op
}

// HostFacts is what BuildInit needs to know of the host.
type HostFacts struct {
	IsDir   func(path string) (bool, error) // a bind mount's source
	LastCap int                             // the highest capability number the kernel knows
}

// RealHostFacts asks this host.
func RealHostFacts() (HostFacts, error) {
	last, err := caps.LastCap()
	if err != nil {
		return HostFacts{}, err
	}
	isDir := func(path string) (bool, error) {
		st, err := os.Stat(path)
		if err != nil {
			return false, err
		}
		return st.IsDir(), nil
	}
	return HostFacts{IsDir: isDir, LastCap: last}, nil
}

// hasNamespace reports whether spec asks for a namespace of type t: new
// (no path) or joined.
func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) (found, joined bool) {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true, ns.Path != ""
		}
	}
	return false, false
}

// BuildInit turns a container's spec into its init's plan. It is pure but
// for host.IsDir.
func BuildInit(spec *specs.Spec, o InitOptions, host HostFacts) (*Plan, error) {
	p := &Plan{}
	for _, ns := range o.Join {
		p.op("setns", itoa(ns.Fd), ns.Kind)
	}
	if o.ForkDetached {
		p.op("fork", "detach")
	}
	// Before the mounts: a sysfs shows the network namespace of whoever mounts it.
	if newNet, joined := hasNamespace(spec, specs.NetworkNamespace); newNet && !joined {
		p.op("lo")
	}
	if o.Overlay != nil {
		p.op("private")
	} else {
		// An OCI container's mounts stay slaves of the host's, as runc
		// makes them: a host mount under a bind source shows inside
		// (unless the mount says rprivate), none goes out.
		p.op("mount", "", "/", "", itoa(unix.MS_SLAVE|unix.MS_REC), "")
	}
	// Through the host's /proc, still mounted here: a namespaced sysctl is
	// the writer's namespace's, and /proc/sys may turn read-only in the root.
	for _, key := range sortedKeys(spec.Linux.Sysctl) {
		if err := checkSysctl(spec, key); err != nil {
			return nil, err
		}
		p.op("write", "/proc/sys/"+strings.ReplaceAll(key, ".", "/"), spec.Linux.Sysctl[key])
	}
	if err := planTimeNamespace(p, spec); err != nil {
		return nil, err
	}

	// In a user namespace no device node can be made: the host's are bound.
	userns, _ := hasNamespace(spec, specs.UserNamespace)
	root := spec.Root.Path
	if ov := o.Overlay; ov != nil {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", ov.Lower, ov.Upper, ov.Work)
		if ov.Volatile {
			opts += ",volatile"
		}
		p.op("mount", "overlay", root, "overlay", "0", opts)
	} else {
		// pivot_root wants the new root to be a mount point.
		p.op("mount", root, root, "", itoa(unix.MS_BIND|unix.MS_REC), "")
	}
	// The image is untrusted: every target below resolves inside the root,
	// so a symlink such as etc/resolv.conf -> /etc/shadow cannot lead a
	// mount out of the container.
	p.op("root", root)
	for i, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			planCgroupMount(p, m, o.CgroupBinds)
			continue
		}
		if err := checkIdmap(spec, m); err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		if fd, ok := o.Idmapped[i]; ok {
			if err := planIdmapped(p, m, fd, host); err != nil {
				return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
			}
			continue
		}
		if err := planMount(p, m, host); err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		if m.Destination == "/dev" && m.Type == "tmpfs" { // not a bind of the host's /dev
			planDev(p, userns)
		}
	}
	for _, d := range spec.Linux.Devices {
		if err := planDevice(p, d, userns); err != nil {
			return nil, err
		}
	}
	for _, path := range spec.Linux.MaskedPaths {
		p.op("mask", filepath.Clean(path))
	}
	for _, path := range spec.Linux.ReadonlyPaths {
		p.op("readonly", filepath.Clean(path))
	}
	if o.CreateRuntime {
		p.op("notify", "hooks")
		p.op("wait", "go")
	}
	if spec.Hooks != nil {
		for _, h := range spec.Hooks.CreateContainer {
			planHook(p, h, o.State)
		}
	}
	// Made as root and before the root may turn read-only, as Docker does.
	if spec.Process != nil && spec.Process.Cwd != "" {
		p.op("mkdir", filepath.Clean(spec.Process.Cwd))
	}
	if spec.Root.Readonly {
		p.op("mount", "", root, "", itoa(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY), "")
	}
	if o.NoPivot {
		p.op("moveroot", root)
	} else {
		p.op("pivot", root)
	}
	if prop := spec.Linux.RootfsPropagation; prop != "" {
		flags, ok := propagationOf[prop]
		if !ok {
			return nil, fmt.Errorf("rootfsPropagation %q: not one of %s", prop, strings.Join(propagationNames(), ", "))
		}
		p.op("mount", "", "/", "", itoa(flags), "")
	}
	// Cloned into its v2 cgroup, the init joins its v1 groups itself; its
	// group then becomes the root of its cgroup namespace.
	for _, fd := range o.Tasks {
		p.op("tasks", itoa(fd))
	}
	if newCg, joined := hasNamespace(spec, specs.CgroupNamespace); newCg && !joined {
		p.op("cgroupns")
	}
	gate := func() { p.op("fifo", itoa(o.ExecFifo), boolArg(o.KeepSync)) }

	if uts, _ := hasNamespace(spec, specs.UTSNamespace); uts && spec.Hostname != "" {
		p.op("hostname", spec.Hostname)
	}
	if uts, _ := hasNamespace(spec, specs.UTSNamespace); uts && spec.Domainname != "" {
		p.op("domainname", spec.Domainname)
	}
	if spec.Process == nil {
		return nil, errors.New("config.json: no process")
	}
	if spec.Process.OOMScoreAdj != nil {
		p.op("write", "/proc/self/oom_score_adj", itoa(*spec.Process.OOMScoreAdj))
	}
	if err := planProcess(p, spec, spec.Process, processOptions{console: true, reap: o.Reap, gate: gate, started: true,
		preserve: o.Preserve, preserveFirst: o.PreserveFirst, state: o.State}, host.LastCap); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	return p, nil
}

var propagationOf = map[string]int{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

func propagationNames() []string { return sortedKeys(propagationOf) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ipcSysctls are the sysctls of the IPC namespace (besides fs.mqueue.*).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// SysctlNamespace is the namespace a sysctl belongs to: the IPC
// namespace's (and fs.mqueue.*), net.*, and the UTS namespace's names;
// false for a host-wide one, which a container must never set.
func SysctlNamespace(key string) (specs.LinuxNamespaceType, bool) {
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		return specs.IPCNamespace, true
	case strings.HasPrefix(key, "net."):
		return specs.NetworkNamespace, true
	case key == "kernel.hostname" || key == "kernel.domainname":
		return specs.UTSNamespace, true
	}
	return "", false
}

// nsArticle names a namespace in checkSysctl's errors.
var nsArticle = map[specs.LinuxNamespaceType]string{
	specs.IPCNamespace: "an ipc", specs.NetworkNamespace: "a network", specs.UTSNamespace: "a uts",
}

// checkSysctl refuses a sysctl that is not the container's own (it would
// change the host), as runc does.
func checkSysctl(spec *specs.Spec, key string) error {
	if key == "" || strings.ContainsAny(key, "/\x00") || strings.Contains(key, "..") {
		return fmt.Errorf("sysctl %q: not a sysctl name", key)
	}
	ns, ok := SysctlNamespace(key)
	if !ok {
		return fmt.Errorf("sysctl %q: not in a namespace of the container's; it would change the host", key)
	}
	if own, _ := hasNamespace(spec, ns); !own {
		return fmt.Errorf("sysctl %q: needs %s namespace of the container's own", key, nsArticle[ns])
	}
	return nil
}

// planHook runs h from the init: with the state on its stdin, killed at
// its timeout.
func planHook(p *Plan, h specs.Hook, state []byte) {
	timeout := 0
	if h.Timeout != nil {
		timeout = *h.Timeout
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	words := []string{itoa(timeout), h.Path, itoa(len(args))}
	words = append(append(words, args...), itoa(len(h.Env)))
	words = append(append(words, h.Env...), string(state))
	p.op("hook", words...)
}

// planCgroupMount gives the container its own cgroups at m's
// destination: a tmpfs with a bind of each of its groups (read-only if m is).
func planCgroupMount(p *Plan, m specs.Mount, binds []CgroupBind) {
	flags, _ := mountOptions(m.Options)
	dest := filepath.Clean(m.Destination)
	p.op("mountin", "tmpfs", dest, "tmpfs", itoa(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), "mode=755", "dir", "0")
	for _, b := range binds {
		p.op("mountin", b.Source, dest+"/"+b.Name, "", itoa(unix.MS_BIND), "", "dir", "0")
		// "cpu,cpuacct" is also reached as cpu and cpuacct.
		if names := strings.Split(b.Name, ","); len(names) > 1 {
			for _, n := range names {
				p.op("symlink", b.Name, dest+"/"+n)
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		// The tmpfs and every bind on it read-only at once (mount_setattr
		// with AT_RECURSIVE; a remount each on kernels before 5.12 would
		// miss the binds): two calls, not one per hierarchy. Every mount
		// costs a start time.
		ro := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		p.op("mountin", "", dest, "", itoa(ro|unix.MS_REC), "", "dir", itoa(ro))
	}
}

// planDevice makes a device node of the spec's linux.devices in the root.
func planDevice(p *Plan, d specs.LinuxDevice, userns bool) error {
	kinds := map[string]uint32{"c": unix.S_IFCHR, "u": unix.S_IFCHR, "b": unix.S_IFBLK, "p": unix.S_IFIFO}
	kind, ok := kinds[d.Type]
	if !ok {
		return fmt.Errorf("device %s: type %q is not one of c, b, u, p", d.Path, d.Type)
	}
	if !filepath.IsAbs(d.Path) {
		return fmt.Errorf("device %s: not an absolute path", d.Path)
	}
	if userns {
		p.op("mountin", d.Path, filepath.Clean(d.Path), "", itoa(unix.MS_BIND), "", "file", "0")
		return nil
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode) & 0o7777
	}
	uid, gid := uint32(0), uint32(0)
	if d.UID != nil {
		uid = *d.UID
	}
	if d.GID != nil {
		gid = *d.GID
	}
	p.op("mknod", filepath.Clean(d.Path), itoa(int(kind|mode)), strconv.FormatInt(d.Major, 10), strconv.FormatInt(d.Minor, 10))
	if uid != 0 || gid != 0 {
		p.op("chown", filepath.Clean(d.Path), strconv.FormatUint(uint64(uid), 10), strconv.FormatUint(uint64(gid), 10))
	}
	return nil
}

// processOptions are planProcess's choices: console makes the pty the
// container's /dev/console too; reap keeps a reaper as pid 1 (--init); gate,
// if set, plans the wait for `start` (after the terminal and limits, before
// the identity); state is what the startContainer hooks read.
type processOptions struct {
	console, reap bool
	started       bool // after the gate and the start hooks: tell start
	preserve      int  // then hand the command these descriptors from preserveFirst (runc --preserve-fds)
	preserveFirst int
	gate          func()
	state         []byte
}

// planProcess plans the part a container's init and an exec share: from
// the terminal to the exec of proc, with the container's (spec's) seccomp
// filter.
func planProcess(p *Plan, spec *specs.Spec, proc *specs.Process, o processOptions, lastCap int) error {
	if proc.Terminal {
		p.op("pty", boolArg(o.console))
	}
	for _, l := range proc.Rlimits {
		res, ok := rlimitOf[l.Type]
		if !ok {
			return fmt.Errorf("rlimit %s: not supported", l.Type)
		}
		p.op("rlimit", itoa(res), strconv.FormatUint(l.Soft, 10), strconv.FormatUint(l.Hard, 10))
	}
	if spec.Linux != nil && spec.Linux.Personality != nil {
		persona, ok := personalityOf[spec.Linux.Personality.Domain]
		if !ok {
			return fmt.Errorf("personality %q: not supported", spec.Linux.Personality.Domain)
		}
		p.op("personality", itoa(persona))
	}
	// Before the gate, so that what the kernel refuses fails create, not
	// start; before the identity drops CAP_SYS_NICE.
	if err := planScheduler(p, proc.Scheduler); err != nil {
		return err
	}
	if err := planIOPriority(p, proc.IOPriority); err != nil {
		return err
	}
	if spec.Linux != nil {
		if err := planMemoryPolicy(p, spec.Linux.MemoryPolicy); err != nil {
			return err
		}
	}
	if o.gate != nil {
		o.gate()
	}
	if spec.Hooks != nil && o.console { // the container's own start, not an exec's
		for _, h := range spec.Hooks.StartContainer {
			planHook(p, h, o.state)
		}
	}
	if o.gate != nil && o.started {
		p.op("started")
	}
	if o.preserve > 0 { // after started: the fifo may sit at 3 until then
		p.op("preserve", itoa(o.preserveFirst), itoa(o.preserve))
	}
	filter, err := compileSeccomp(spec)
	if err != nil {
		return err
	}
	if proc.NoNewPrivileges {
		p.op("nnp")
	}
	// Without no_new_privs a filter takes CAP_SYS_ADMIN to install, which
	// the identity may drop: then it goes in first, as runc does, and the
	// profile must allow what the identity does (Docker's does). With
	// no_new_privs, as late as can be, just before the exec.
	if filter != nil && !proc.NoNewPrivileges {
		planSeccomp(p, filter)
	}
	if err := planIdentity(p, proc, lastCap); err != nil {
		return err
	}
	if proc.ApparmorProfile != "" {
		// Taken at the exec (LoadBundle refuses it on a host without AppArmor).
		p.op("write", "/proc/self/attr/exec", "exec "+proc.ApparmorProfile)
	}
	if proc.User.Umask != nil {
		p.op("umask", strconv.FormatUint(uint64(*proc.User.Umask), 10))
	}
	p.op("chdir", proc.Cwd)
	if filter != nil && proc.NoNewPrivileges {
		planSeccomp(p, filter)
	}
	args := append([]string{boolArg(o.reap), itoa(len(proc.Args))}, proc.Args...)
	args = append(append(args, itoa(len(proc.Env))), proc.Env...)
	p.op("exec", args...)
	return nil
}

// personalityOf is personality(2)'s persona for the spec's domains.
var personalityOf = map[specs.LinuxPersonalityDomain]int{"LINUX": 0, "LINUX32": 8}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var rlimitOf = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// planIdmapped moves an idmapped mount (made detached, with its options,
// by OpenIdmapped) into place, then sets its propagation.
func planIdmapped(p *Plan, m specs.Mount, fd int, host HostFacts) error {
	dir, err := host.IsDir(m.Source)
	if err != nil {
		return err
	}
	kind := "dir"
	if !dir {
		kind = "file"
	}
	dest := filepath.Clean(m.Destination)
	p.op("movemount", itoa(fd), dest, kind)
	flags, _ := mountOptions(m.Options)
	const propagation = unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_SHARED | unix.MS_UNBINDABLE
	if prop := flags & (propagation | unix.MS_REC); prop&propagation != 0 {
		p.op("mountin", "", dest, "", itoa(prop), "", kind, "0")
	}
	return nil
}

func planMount(p *Plan, m specs.Mount, host HostFacts) error {
	flags, data := mountOptions(m.Options)
	isBind := m.Type == "bind" || flags&unix.MS_BIND != 0
	kind, typ := "dir", m.Type
	if isBind {
		dir, err := host.IsDir(m.Source)
		if err != nil {
			return err
		}
		if !dir {
			kind = "file"
		}
		flags |= unix.MS_BIND
		typ = ""
	}
	// Propagation flags cannot be combined with others in one mount call:
	// a second call sets them (every mount here starts private).
	const propagation = unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_SHARED | unix.MS_UNBINDABLE
	prop := flags & (propagation | unix.MS_REC)
	flags &^= propagation
	if prop&propagation == 0 {
		prop = 0
	}
	remount := 0
	if isBind && flags&unix.MS_RDONLY != 0 {
		remount = flags | unix.MS_REMOUNT // a bind ignores MS_RDONLY until remounted
	}
	dest := filepath.Clean(m.Destination)
	p.op("mountin", m.Source, dest, typ, itoa(flags), data, kind, itoa(remount))
	if prop != 0 {
		p.op("mountin", "", dest, "", itoa(prop), "", kind, "0")
	}
	return nil
}

var mountFlagOf = map[string]int{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC, "strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME,
	"noatime": unix.MS_NOATIME, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	"suid": 0, "dev": 0, "exec": 0, "atime": 0, "diratime": 0, "async": 0, "nodiratime": unix.MS_NODIRATIME,
	"sync": unix.MS_SYNCHRONOUS, "dirsync": unix.MS_DIRSYNC, "mand": unix.MS_MANDLOCK, "remount": unix.MS_REMOUNT,
	"silent": unix.MS_SILENT, "lazytime": unix.MS_LAZYTIME, "iversion": unix.MS_I_VERSION,
	"idmap": 0, "ridmap": 0, // not mount(2)'s: an idmapped mount (idmap.go)
}

// mountOptions splits OCI mount options into mount(2) flags and fs data.
func mountOptions(opts []string) (flags int, data string) {
	var d []string
	for _, o := range opts {
		if f, ok := mountFlagOf[o]; ok {
			flags |= f
		} else if o != "rw" {
			d = append(d, o)
		}
	}
	return flags, strings.Join(d, ",")
}

// Docker's device nodes and links in a container's /dev.
var devNodes = []struct {
	name         string
	major, minor int
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devLinks = [][2]string{
	{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
}

func planDev(p *Plan, userns bool) {
	for _, n := range devNodes {
		if userns {
			p.op("mountin", "/dev/"+n.name, "/dev/"+n.name, "", itoa(unix.MS_BIND), "", "file", "0")
			continue
		}
		p.op("mknod", "/dev/"+n.name, itoa(unix.S_IFCHR|0o666), itoa(n.major), itoa(n.minor))
	}
	for _, l := range devLinks {
		p.op("symlink", l[0], "/dev/"+l[1])
	}
}

func planIdentity(p *Plan, proc *specs.Process, lastCap int) error {
	c := proc.Capabilities
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	sets := []string{}
	for _, names := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		mask, err := caps.Mask(names)
		if err != nil {
			return err
		}
		sets = append(sets, strconv.FormatUint(mask, 16))
	}
	groups := make([]string, len(proc.User.AdditionalGids))
	for i, g := range proc.User.AdditionalGids {
		groups[i] = strconv.FormatUint(uint64(g), 10)
	}
	u := proc.User
	// (uid_t)-1 means "leave unchanged" to setresuid: the command would stay root.
	if u.UID == ^uint32(0) || u.GID == ^uint32(0) {
		return fmt.Errorf("user %d:%d: 4294967295 is not a valid id", u.UID, u.GID)
	}
	args := []string{strconv.FormatUint(uint64(u.UID), 10), strconv.FormatUint(uint64(u.GID), 10),
		strings.Join(groups, ","), itoa(lastCap)}
	p.op("identity", append(args, sets...)...)
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// Ops splits the plan back into its ops, each its name and arguments (for
// tests, and for reading a plan when debugging).
func (p *Plan) Ops() ([][]string, error) {
	b := p.b
	if len(b) == 0 || b[len(b)-1] != 0 {
		return nil, fmt.Errorf("plan does not end in NUL")
	}
	words := strings.Split(string(b[:len(b)-1]), "\x00")
	var ops [][]string
	for len(words) > 0 {
		name := words[0]
		n, ok := opArity[name]
		if n < 0 {
			n, ok = countedArity(name, words)
		}
		if !ok || len(words) < 1+n {
			return nil, fmt.Errorf("bad op %q in plan (%d words left)", name, len(words))
		}
		ops = append(ops, words[:1+n])
		words = words[1+n:]
	}
	return ops, nil
}

// countedArity is the number of words an exec or hook takes, read from
// its counts.
func countedArity(name string, words []string) (int, bool) {
	at := map[string]int{"exec": 2, "hook": 3}[name] // the index of the first count
	count := func(i int) (int, bool) {
		if i >= len(words) {
			return 0, false
		}
		n, err := strconv.Atoi(words[i])
		return n, err == nil && n >= 0
	}
	argc, ok := count(at)
	if !ok {
		return 0, false
	}
	envc, ok := count(at + 1 + argc)
	if !ok {
		return 0, false
	}
	n := at + 1 + argc + envc
	if name == "hook" {
		n++ // the state
	}
	return n, true
}
