package runtime

import (
	"fmt"
	"os"
	"path/filepath"
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
//	                          cgroup, ipc, uts, net, pid, mnt
//	fork                      (exec) fork: the child goes on with the plan, in
//	                          the pid namespace joined; the parent passes
//	                          signals on and exits with the child's status
//	lo                        bring up the loopback
//	private                   make every mount private (nothing propagates to the host)
//	mount SRC TARGET TYPE FLAGS DATA   mount(2) at a host path
//	root PATH                 PATH is the root the in-root ops resolve in
//	mountin SRC DEST TYPE FLAGS DATA KIND REMOUNT
//	                          mount at DEST resolved inside the root (made
//	                          first: KIND "dir" or "file"); REMOUNT, if not 0,
//	                          then remounts it with those flags (a read-only bind;
//	                          of an rbind, read-only with its submounts)
//	mknod PATH MODE MAJOR MINOR, symlink TARGET PATH   in the root
//	mask PATH                 hide PATH: /dev/null over a file, an empty tmpfs over a directory
//	readonly PATH             bind PATH onto itself read-only
//	mkdir PATH                make a directory inside the root
//	pivot PATH                pivot_root into PATH and drop the old root
//	tasks FD                  write "0" to a v1 cgroup's tasks file at FD
//	cgroupns                  unshare the cgroup namespace
//	wait MSG                  wait for the monitor to send MSG
//	pty CONSOLE               open a pty, send the master to the monitor, make
//	                          the slave stdio and controlling terminal (in a
//	                          session of its own) and, if CONSOLE is 1, /dev/console
//	hostname NAME, rlimit RESOURCE SOFT HARD, nnp (no_new_privs)
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
// own (buildExecPlan): join the running container, then the same ops from
// pty to exec.
type initPlan struct {
	b   []byte
	err error // the first op that cannot be sent: an argument with a NUL byte, a wrong arity
}

// opArity is every op the init knows (init.c's ops[]) with its number of
// arguments; -1 for exec, whose lists are counted. op checks what it emits
// against it, and the tests decode plans with it.
var opArity = map[string]int{
	"setns": 2, "fork": 0, "lo": 0, "private": 0, "mount": 5, "root": 1, "mountin": 7,
	"mknod": 4, "symlink": 2, "mask": 1, "readonly": 1, "mkdir": 1, "pivot": 1, "tasks": 1,
	"cgroupns": 0, "wait": 1, "pty": 1, "hostname": 1, "rlimit": 3, "nnp": 0, "seccomp": 2,
	"identity": 9, "chdir": 1, "exec": -1,
}

func (p *initPlan) op(name string, args ...string) {
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
func (p *initPlan) Bytes() []byte { return p.b }

// planFds says where the init finds the descriptors its plan names.
type planFds struct {
	netns int   // the namespace of --network container:NAME, -1 if none
	tasks []int // the v1 cgroups' tasks files
}

// hostFacts is what buildInitPlan needs to know of the host.
type hostFacts struct {
	isDir   func(path string) (bool, error) // a bind mount's source
	lastCap int                             // the highest capability number the kernel knows
}

func realHostFacts() (hostFacts, error) {
	last, err := caps.LastCap()
	if err != nil {
		return hostFacts{}, err
	}
	isDir := func(path string) (bool, error) {
		st, err := os.Stat(path)
		if err != nil {
			return false, err
		}
		return st.IsDir(), nil
	}
	return hostFacts{isDir: isDir, lastCap: last}, nil
}

// buildInitPlan turns a container's spec into its init's plan. It is pure
// but for host.isDir.
func buildInitPlan(spec *specs.Spec, dir string, fds planFds, host hostFacts) (*initPlan, error) {
	p := &initPlan{}
	network := spec.Annotations[annotNetwork]
	// Before the mounts: a sysfs shows the network namespace of whoever mounts it.
	switch {
	case fds.netns >= 0:
		p.op("setns", itoa(fds.netns), "net")
	case network != "host":
		p.op("lo")
	}
	p.op("private")

	root := spec.Root.Path
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		spec.Annotations[annotLowerDir], filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if spec.Annotations[annotVolatile] == "true" {
		// The upper layer dies with the container (--rm): skip the syncs
		// overlayfs would do, above all the one at unmount (as Podman does).
		opts += ",volatile"
	}
	p.op("mount", "overlay", root, "overlay", "0", opts)
	// The image is untrusted: every target below resolves inside the root,
	// so a symlink such as etc/resolv.conf -> /etc/shadow cannot lead a
	// mount out of the container.
	p.op("root", root)
	for _, m := range spec.Mounts {
		if err := planMount(p, m, host); err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		if m.Destination == "/dev" && m.Type == "tmpfs" { // not a bind of the host's /dev
			planDev(p)
		}
	}
	for _, path := range spec.Linux.MaskedPaths {
		p.op("mask", filepath.Clean(path))
	}
	for _, path := range spec.Linux.ReadonlyPaths {
		p.op("readonly", filepath.Clean(path))
	}
	// Made as root and before the root may turn read-only, as Docker does.
	p.op("mkdir", filepath.Clean(spec.Process.Cwd))
	if spec.Root.Readonly {
		p.op("mount", "", root, "", itoa(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY), "")
	}
	p.op("pivot", root)

	// Cloned into its v2 cgroup, the init joins its v1 groups itself; its
	// group then becomes the root of its cgroup namespace.
	for _, fd := range fds.tasks {
		p.op("tasks", itoa(fd))
	}
	p.op("cgroupns")
	p.op("wait", "run") // the monitor has wired the network

	if network != "host" {
		p.op("hostname", spec.Hostname)
	}
	reap := spec.Annotations[annotInit] == "true"
	if err := planProcess(p, spec, spec.Process, true, reap, host.lastCap); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, invalidf("%v", p.err)
	}
	return p, nil
}

// planProcess plans the part a container's init and an exec share: from
// the terminal to the exec of proc, with the container's (spec's) seccomp
// filter. console makes the pty the container's /dev/console too; reap keeps
// a reaper as pid 1 (--init).
func planProcess(p *initPlan, spec *specs.Spec, proc *specs.Process, console, reap bool, lastCap int) error {
	if proc.Terminal {
		p.op("pty", boolArg(console))
	}
	for _, l := range proc.Rlimits {
		res, ok := rlimitOf[l.Type]
		if !ok {
			return fmt.Errorf("rlimit %s: not supported", l.Type)
		}
		p.op("rlimit", itoa(res), strconv.FormatUint(l.Soft, 10), strconv.FormatUint(l.Hard, 10))
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
	p.op("chdir", proc.Cwd)
	if filter != nil && proc.NoNewPrivileges {
		planSeccomp(p, filter)
	}
	args := append([]string{boolArg(reap), itoa(len(proc.Args))}, proc.Args...)
	args = append(append(args, itoa(len(proc.Env))), proc.Env...)
	p.op("exec", args...)
	return nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var rlimitOf = map[string]int{"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC}

func planMount(p *initPlan, m specs.Mount, host hostFacts) error {
	flags, data := mountOptions(m.Options)
	isBind := m.Type == "bind" || flags&unix.MS_BIND != 0
	kind, typ := "dir", m.Type
	if isBind {
		dir, err := host.isDir(m.Source)
		if err != nil {
			return err
		}
		if !dir {
			kind = "file"
		}
		flags |= unix.MS_BIND
		typ = ""
	}
	// Propagation flags cannot be combined with others in one mount call,
	// and every mount here is private already.
	flags &^= unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_SHARED | unix.MS_UNBINDABLE
	remount := 0
	if isBind && flags&unix.MS_RDONLY != 0 {
		remount = flags | unix.MS_REMOUNT // a bind ignores MS_RDONLY until remounted
	}
	p.op("mountin", m.Source, filepath.Clean(m.Destination), typ, itoa(flags), data, kind, itoa(remount))
	return nil
}

var mountFlagOf = map[string]int{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC, "strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME,
	"noatime": unix.MS_NOATIME, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
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

func planDev(p *initPlan) {
	for _, n := range devNodes {
		p.op("mknod", "/dev/"+n.name, itoa(unix.S_IFCHR|0o666), itoa(n.major), itoa(n.minor))
	}
	for _, l := range devLinks {
		p.op("symlink", l[0], "/dev/"+l[1])
	}
}

func planIdentity(p *initPlan, proc *specs.Process, lastCap int) error {
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
		return invalidf("user %d:%d: 4294967295 is not a valid id", u.UID, u.GID)
	}
	args := []string{strconv.FormatUint(uint64(u.UID), 10), strconv.FormatUint(uint64(u.GID), 10),
		strings.Join(groups, ","), itoa(lastCap)}
	p.op("identity", append(args, sets...)...)
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
