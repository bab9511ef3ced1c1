package runtime

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/oci"
)

// testPlanWith is the plan hutch's create of spec sends its init; netns
// stands for --network container:NAME's namespace.
func testPlanWith(spec *specs.Spec, netns *os.File, facts oci.HostFacts) (*oci.Plan, error) {
	o := ociCreate(spec, "/c/abc")
	o.NetNS = netns
	return oci.PlanOf(o.Spec, o, facts)
}

// planOps splits a plan into its ops.
func planOps(t *testing.T, p *oci.Plan) [][]string {
	t.Helper()
	ops, err := p.Ops()
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func opIndex(ops [][]string, name string) int {
	return slices.IndexFunc(ops, func(op []string) bool { return op[0] == name })
}

var testFacts = oci.HostFacts{
	IsDir:   func(path string) (bool, error) { return !strings.HasPrefix(path, "/c/"), nil },
	LastCap: 40,
}

func TestInitPlan(t *testing.T) {
	spec := newSpec(specInput{
		ID: "abc", Dir: "/c/abc", LowerDir: "/img", Args: []string{"sh", "-c", "echo hi"},
		Env: []string{"A=1"}, Cwd: "/work", Hostname: "h", UID: 1000, GID: 100,
		AdditionalGids: []uint32{10, 20}, Caps: caps.Sets([]string{"CAP_CHOWN", "CAP_KILL"}, 1000),
		NoNewPrivileges: true, Network: "none", Volatile: true, HostNofileHard: 20000,
	})
	p, err := testPlanWith(spec, nil, testFacts)
	if err != nil {
		t.Fatal(err)
	}
	ops := planOps(t, p)
	var names []string
	for _, op := range ops {
		names = append(names, op[0])
	}
	// The order is the contract with the init: the network before /sys is
	// mounted, the mounts before the pivot, the cgroups before their
	// namespace, the wait for start before the command's identity.
	order := []string{"lo", "private", "mount", "root", "mountin", "mask", "readonly", "mkdir",
		"pivot", "cgroupns", "hostname", "rlimit", "fifo", "started", "nnp", "identity", "chdir", "exec"}
	for i := 1; i < len(order); i++ {
		if a, b := opIndex(ops, order[i-1]), opIndex(ops, order[i]); a < 0 || b < 0 || a > b {
			t.Errorf("%s (at %d) must come before %s (at %d): %v", order[i-1], a, order[i], b, names)
		}
	}
	if ops[len(ops)-1][0] != "exec" {
		t.Errorf("last op %v, want exec", ops[len(ops)-1])
	}
	for _, op := range ops {
		switch op[0] {
		case "mount":
			if op[1] == "overlay" && (op[2] != "/c/abc/rootfs" ||
				op[5] != "lowerdir=/img,upperdir=/c/abc/upper,workdir=/c/abc/work,volatile") {
				t.Errorf("overlay mount %q", op)
			}
		case "mountin":
			// The bind mounts of the container's own files are files.
			if strings.HasPrefix(op[1], "/c/") && (op[6] != "file" || op[3] != "") {
				t.Errorf("bind mount %q: want kind file, no type", op)
			}
			if op[2] == "/sys" && op[4] != itoa(unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV|unix.MS_RDONLY) {
				t.Errorf("sysfs flags %s, want read-only", op[4])
			}
		case "rlimit":
			if op[1] != itoa(unix.RLIMIT_NOFILE) || op[2] != "20000" || op[3] != "20000" {
				t.Errorf("rlimit %q", op)
			}
		case "identity":
			// A non-root user: capabilities only in the bounding set (CAP_CHOWN is
			// bit 0, CAP_KILL bit 5).
			want := []string{"identity", "1000", "100", "10,20", "40", "21", "0", "0", "0", "0"}
			if !slices.Equal(op, want) {
				t.Errorf("identity %q, want %q", op, want)
			}
		case "exec":
			if op[1] != "0" || op[2] != "3" || op[3] != "sh" || op[5] != "echo hi" || !slices.Contains(op[7:], "A=1") {
				t.Errorf("exec %q", op)
			}
		}
	}
	for _, want := range [][]string{{"mkdir", "/work"}, {"chdir", "/work"},
		{"hostname", "h"}, {"mask", "/proc/kcore"}, {"readonly", "/proc/sys"},
		{"mknod", "/dev/null", itoa(unix.S_IFCHR | 0o666), "1", "3"}, {"symlink", "pts/ptmx", "/dev/ptmx"}} {
		if !slices.ContainsFunc(ops, func(op []string) bool { return slices.Equal(op, want) }) {
			t.Errorf("plan lacks %q", want)
		}
	}
	// /dev is filled once mounted.
	if dev, null := slices.IndexFunc(ops, func(op []string) bool { return op[0] == "mountin" && op[2] == "/dev" }),
		slices.IndexFunc(ops, func(op []string) bool { return op[0] == "mknod" }); dev < 0 || null < dev {
		t.Errorf("mknod at %d, /dev mounted at %d", null, dev)
	}
}

func TestInitPlanVariants(t *testing.T) {
	spec := newSpec(specInput{
		ID: "abc", Dir: "/c/abc", LowerDir: "/img", Args: []string{"top"}, Hostname: "h",
		Network: "host", ReadOnly: true, Init: true, Tty: true, Privileged: true,
		Caps: caps.Sets([]string{"CAP_CHOWN"}, 0), HostNofileHard: 1024,
	})
	p, err := testPlanWith(spec, nil, testFacts)
	if err != nil {
		t.Fatal(err)
	}
	ops := planOps(t, p)
	// Its own UTS namespace, with the host's name or -h's, as Docker's.
	if !slices.ContainsFunc(ops, func(op []string) bool { return slices.Equal(op, []string{"hostname", "h"}) }) {
		t.Error("host network: want the container's hostname set in its UTS namespace")
	}
	for _, absent := range []string{"lo", "setns", "mask", "readonly", "tasks", "nnp"} {
		if i := opIndex(ops, absent); i >= 0 {
			t.Errorf("host network, privileged, no v1 cgroups: unexpected %q", ops[i])
		}
	}
	roRoot := []string{"mount", "", "/c/abc/rootfs", "", itoa(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY), ""}
	if i := slices.IndexFunc(ops, func(op []string) bool { return slices.Equal(op, roRoot) }); i < 0 || i > opIndex(ops, "pivot") {
		t.Errorf("read-only root remount at %d, pivot at %d", i, opIndex(ops, "pivot"))
	}
	if pty, fifo := opIndex(ops, "pty"), opIndex(ops, "fifo"); pty < 0 || pty > fifo || !slices.Equal(ops[pty], []string{"pty", "1"}) {
		t.Errorf("pty at %d, the fifo at %d: want the console bound, before the wait for start", pty, fifo)
	}
	if id := ops[opIndex(ops, "identity")]; id[5] != "1" || id[6] != "1" || id[7] != "1" {
		t.Errorf("root's identity %q: want CAP_CHOWN (bit 0) bounding, effective, permitted", id)
	}
	if exec := ops[len(ops)-1]; exec[1] != "1" {
		t.Errorf("--init: exec %q, want reap 1", exec)
	}

	// --network container:NAME: the init joins the namespace at its fd.
	spec = newSpec(specInput{Dir: "/c/abc", Args: []string{"true"}, Network: "container:x", Hostname: "c"})
	p, err = testPlanWith(spec, os.Stdin, testFacts) // any open file stands for the namespace
	if err != nil {
		t.Fatal(err)
	}
	if ops := planOps(t, p); (ops[0][0] != "setns" || ops[0][2] != "net") || opIndex(ops, "lo") >= 0 {
		t.Errorf("container network: first op %q", ops[0])
	}
	if bytes.Count(p.Bytes(), []byte("\x00hostname\x00")) != 1 {
		t.Error("container network: want the container's own hostname")
	}
}

func TestInitPlanErrors(t *testing.T) {
	spec := newSpec(specInput{Dir: "/c/abc", Args: []string{"true"}, Network: "none"})
	spec.Process.Rlimits = append(spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Hard: 1, Soft: 1})
	if _, err := testPlanWith(spec, nil, testFacts); err == nil || !strings.Contains(err.Error(), "RLIMIT_BOGUS") {
		t.Errorf("unknown rlimit: err %v", err)
	}
	spec = newSpec(specInput{Dir: "/c/abc", Args: []string{"true"}, Network: "none", Caps: caps.Sets([]string{"CAP_NOPE"}, 0)})
	if _, err := testPlanWith(spec, nil, testFacts); err == nil || !strings.Contains(err.Error(), "CAP_NOPE") {
		t.Errorf("unknown capability: err %v", err)
	}
}

// What cannot travel in a plan, or would be dangerous in one, is refused.
func TestInitPlanRefuses(t *testing.T) {
	for name, in := range map[string]specInput{
		"NUL in env":  {Env: []string{"A=x\x00identity"}},
		"NUL in args": {Args: []string{"sh", "-c\x00x"}},
		"uid -1":      {UID: 4294967295},
		"gid -1":      {UID: 1000, GID: 4294967295},
	} {
		in.Dir, in.Network = "/c/abc", "none"
		if in.Args == nil {
			in.Args = []string{"true"}
		}
		if _, err := testPlanWith(newSpec(in), nil, testFacts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Paths are cleaned: the init makes them one component at a time.
	p, err := testPlanWith(newSpec(specInput{Dir: "/c/abc", Args: []string{"true"}, Cwd: "/a//b/", Network: "none"}), nil, testFacts)
	if err != nil {
		t.Fatal(err)
	}
	if ops := planOps(t, p); !slices.ContainsFunc(ops, func(op []string) bool { return slices.Equal(op, []string{"mkdir", "/a/b"}) }) {
		t.Errorf("mkdir of -w /a//b/ not cleaned: %q", ops)
	}
}

// The filter goes in before the identity drops CAP_SYS_ADMIN when there is
// no no_new_privs to allow it otherwise; with no_new_privs, last of all.
func TestInitPlanSeccomp(t *testing.T) {
	for _, nnp := range []bool{false, true} {
		spec := newSpec(specInput{Dir: "/c/abc", Args: []string{"sh"}, Network: "none",
			Caps: caps.Sets([]string{"CAP_CHOWN"}, 0), NoNewPrivileges: nnp})
		var err error
		if spec.Linux.Seccomp, err = seccompProfile(securityOpts{}, false, spec); err != nil {
			t.Fatal(err)
		}
		p, err := testPlanWith(spec, nil, testFacts)
		if err != nil {
			t.Fatal(err)
		}
		ops := planOps(t, p)
		at, identity, exec := opIndex(ops, "seccomp"), opIndex(ops, "identity"), opIndex(ops, "exec")
		switch {
		case at < 0:
			t.Errorf("nnp %v: no seccomp op", nnp)
		case !nnp && at > identity:
			t.Errorf("without nnp the filter is installed at %d, after the identity (%d)", at, identity)
		case nnp && at != exec-1:
			t.Errorf("with nnp the filter is installed at %d, not just before the exec (%d)", at, exec)
		}
		if at >= 0 && (ops[at][1] != "0" || len(ops[at][2])%16 != 0 || len(ops[at][2]) < 16*100) {
			t.Errorf("seccomp op %.40q...: want flags 0 and a program of Docker's size", ops[at])
		}
	}
	// Unconfined and privileged: no filter.
	spec := newSpec(specInput{Dir: "/c/abc", Args: []string{"sh"}, Network: "none", Caps: caps.Sets(nil, 0)})
	for _, c := range []struct {
		so         securityOpts
		privileged bool
	}{{securityOpts{seccomp: "unconfined"}, false}, {securityOpts{}, true}} {
		p, err := seccompProfile(c.so, c.privileged, spec)
		if err != nil || p != nil {
			t.Errorf("%+v privileged %v: profile %v, %v; want none", c.so, c.privileged, p != nil, err)
		}
	}
}

// The user's mounts in the plan: a bind of a file makes a file target, a
// read-only bind is an rbind remounted read-only, a tmpfs keeps its flags
// and data, and a bind over /dev gets no device nodes made in it (they
// would land in the host's /dev).
func TestInitPlanUserMounts(t *testing.T) {
	spec := newSpec(specInput{ID: "abc", Dir: "/c/abc", LowerDir: "/img", Args: []string{"true"}, Network: "none", HostNofileHard: 1024})
	user := []MountPoint{
		{Type: "bind", Source: "/h/app.conf", Destination: "/etc/app.conf"},
		{Type: "bind", Source: "/h/data", Destination: "/data", ReadOnly: true},
		{Type: "volume", Name: "v", Source: "/root/volumes/v/_data", Destination: "/v"},
		{Type: "tmpfs", Destination: "/t", options: []string{"nosuid", "nodev", "noexec", "ro", "size=1024", "mode=700"}},
	}
	facts := oci.HostFacts{IsDir: func(p string) (bool, error) { return p != "/h/app.conf", nil }, LastCap: 40}
	spec.Mounts = withUserMounts(spec.Mounts, user)
	p, err := testPlanWith(spec, nil, facts)
	if err != nil {
		t.Fatal(err)
	}
	rbind := unix.MS_BIND | unix.MS_REC
	want := map[string][]string{
		"/etc/app.conf": {"mountin", "/h/app.conf", "/etc/app.conf", "", itoa(rbind), "", "file", "0"},
		"/data": {"mountin", "/h/data", "/data", "", itoa(rbind | unix.MS_RDONLY), "", "dir",
			itoa(rbind | unix.MS_RDONLY | unix.MS_REMOUNT)},
		"/v": {"mountin", "/root/volumes/v/_data", "/v", "", itoa(rbind), "", "dir", "0"},
		"/t": {"mountin", "tmpfs", "/t", "tmpfs", itoa(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY),
			"size=1024,mode=700", "dir", "0"},
	}
	ops := planOps(t, p)
	for dest, w := range want {
		i := slices.IndexFunc(ops, func(op []string) bool { return op[0] == "mountin" && op[2] == dest })
		if i < 0 {
			t.Errorf("%s: no mountin, want %v", dest, w)
		} else if !slices.Equal(ops[i], w) {
			t.Errorf("%s: op %v, want %v", dest, ops[i], w)
		}
	}

	spec = newSpec(specInput{ID: "abc", Dir: "/c/abc", LowerDir: "/img", Args: []string{"true"}, Network: "none", HostNofileHard: 1024})
	spec.Mounts = withUserMounts(spec.Mounts, []MountPoint{{Type: "bind", Source: "/dev", Destination: "/dev"}})
	if p, err = testPlanWith(spec, nil, facts); err != nil {
		t.Fatal(err)
	}
	if i := opIndex(planOps(t, p), "mknod"); i >= 0 {
		t.Errorf("a bind of the host's /dev gets device nodes made in it")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
