//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// runEnv runs hutch with extra variables in its environment.
func (e *env) runEnv(extra []string, args ...string) result {
	e.t.Helper()
	r, err := execHutch(hutchBin, e.root, "", extra, args...)
	if err != nil {
		e.t.Fatalf("hutch %v: %v", args, err)
	}
	return r
}

// -e K=V, -e K (from hutch's environment, left out when unset) and
// --env-file (comments and blank lines skipped; -e wins over the file).
func TestRunEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const unset = "HUTCH_RUN_TEST_SURELY_UNSET"
	if _, ok := os.LookupEnv(unset); ok {
		t.Fatalf("%s is set in the test's environment", unset)
	}
	file := filepath.Join(t.TempDir(), "env")
	err := os.WriteFile(file, []byte("# a comment\n\nFILE_A=1\n  # indented comment\nFILE_EQ=x=y\nFILE_EMPTY=\nFILE_BARE\nBOTH=file\n"+unset+"\n\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r := e.runEnv([]string{"FROM_HOST=host value", "FILE_BARE=bare from host"},
		"run", "--rm", "-e", "K=V", "-e", "SPACED=a b  c", "-e", "FROM_HOST", "-e", unset,
		"--env-file", file, "-e", "BOTH=cli", "busybox", "env")
	if r.code != 0 {
		t.Fatalf("run env: %s", r)
	}
	got := map[string]string{}
	for _, l := range runLines(r.stdout) {
		k, v, _ := strings.Cut(l, "=")
		if _, dup := got[k]; dup {
			t.Errorf("variable %s given twice: %q", k, r.stdout)
		}
		got[k] = v
	}
	want := map[string]string{
		"K": "V", "SPACED": "a b  c", "FROM_HOST": "host value", "FILE_A": "1", "FILE_EQ": "x=y",
		"FILE_EMPTY": "", "FILE_BARE": "bare from host", "BOTH": "cli", "HOME": "/root",
		"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s = %q (set %v), want %q", k, gv, ok, v)
		}
	}
	if _, ok := got[unset]; ok {
		t.Errorf("unset %s given to the container as %q", unset, got[unset])
	}
	// Nothing else: no comment or blank line of the file, nothing of
	// hutch's own environment.
	for k, v := range got {
		if _, ok := want[k]; !ok && k != "HOSTNAME" {
			t.Errorf("unexpected variable %s=%q in the container", k, v)
		}
	}
}

// -w makes the directory if needed and starts there; default is /.
func TestRunWorkdir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.runSh("pwd"); got != "/" {
		t.Errorf("default pwd = %q, want /", got)
	}
	if got := e.runSh("pwd; test -d /new/dir && echo dir", "-w", "/new/dir"); got != "/new/dir\ndir" {
		t.Errorf("-w /new/dir: %q, want it made and current", got)
	}
	if got := e.runSh("pwd; test -d /slash/dir && echo dir", "-w", "/slash//dir/"); got != "/slash/dir\ndir" {
		t.Errorf("-w /slash//dir/: %q, want /slash/dir made and current", got)
	}
	deep := "/d" + strings.Repeat("/d", 300) // made one level at a time
	if got := e.runSh("pwd", "-w", deep); got != deep {
		t.Errorf("-w with 301 levels: pwd = %q", got)
	}
	if got := e.runSh("pwd", "--workdir", "/etc"); got != "/etc" {
		t.Errorf("--workdir /etc: pwd = %q", got)
	}
	if got := e.runSh("pwd; test -d /made/for/user && echo dir", "-u", "1000", "-w", "/made/for/user"); got != "/made/for/user\ndir" {
		t.Errorf("-u 1000 -w /made/for/user: %q, want it made and current", got)
	}
}

// -u takes uid, uid:gid, and names from the image's /etc/passwd; the
// user's gid, home, no supplementary groups of the host, and no effective
// capabilities for a non-root user.
func TestRunUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `id; echo "home=$HOME"; grep -E '^(Groups|CapEff|CapBnd):' /proc/self/status`
	cases := []struct {
		user, id, home string
	}{
		{"", "uid=0(root) gid=0(root)", "/root"},
		{"1000", "uid=1000(user) gid=1000(user)", "/home/user"},
		{"1000:1000", "uid=1000(user) gid=1000(user)", "/home/user"},
		{"user", "uid=1000(user) gid=1000(user)", "/home/user"},
		{"user:0", "uid=1000(user) gid=0(root)", "/home/user"},
		{"1000:users", "uid=1000(user) gid=100(users)", "/home/user"},
		{"nobody", "uid=65534(nobody) gid=65534(nogroup)", ""},
		{"4242", "uid=4242 gid=0(root)", "/"},
		{"4242:4243", "uid=4242 gid=4243", "/"},
	}
	for _, c := range cases {
		var flags []string
		if c.user != "" {
			flags = []string{"-u", c.user}
		}
		out := e.runSh(script, flags...)
		l := runLines(out)
		if len(l) != 5 {
			t.Errorf("-u %q: output %q", c.user, out)
			continue
		}
		if l[0] != c.id {
			t.Errorf("-u %q: id = %q, want %q", c.user, l[0], c.id)
		}
		if c.home != "" && l[1] != "home="+c.home {
			t.Errorf("-u %q: %s, want home=%s", c.user, l[1], c.home)
		}
		if g := runStatusField(t, out, "Groups"); g != "" && g != "0" && c.user != "" {
			t.Errorf("-u %q: supplementary groups %q, want none", c.user, g)
		}
		eff := runCapField(t, out, "CapEff")
		bnd := runCapField(t, out, "CapBnd")
		if bnd != runCapMask(runDockerCaps...) {
			t.Errorf("-u %q: CapBnd %#x, want Docker's %#x", c.user, bnd, runCapMask(runDockerCaps...))
		}
		root := strings.HasPrefix(c.id, "uid=0(")
		if root && eff != bnd || !root && eff != 0 {
			t.Errorf("-u %q: CapEff %#x, want %#x", c.user, eff, map[bool]uint64{true: bnd}[root])
		}
	}
}

// --read-only makes / read-only, but not /dev/shm.
func TestRunReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `for p in /x /tmp/x /etc/x /dev/shm/x; do (touch $p) 2>/dev/null && echo "$p ok" || echo "$p fails"; done; awk '$5 == "/" {print $6}' /proc/self/mountinfo | cut -d, -f1`
	out := e.runSh(script, "--read-only")
	want := []string{"/x fails", "/tmp/x fails", "/etc/x fails", "/dev/shm/x ok", "ro"}
	if got := runLines(out); !slices.Equal(got, want) {
		t.Errorf("--read-only: %q, want %q", got, want)
	}
	out = e.runSh(script)
	want = []string{"/x ok", "/tmp/x ok", "/etc/x ok", "/dev/shm/x ok", "rw"}
	if got := runLines(out); !slices.Equal(got, want) {
		t.Errorf("without --read-only: %q, want %q", got, want)
	}
	// As Docker: the working directory is made before the root turns
	// read-only.
	if r := e.run("run", "--rm", "--read-only", "-w", "/made/here", "busybox", "pwd"); r.code != 0 || r.stdout != "/made/here\n" {
		t.Errorf("--read-only -w /made/here: %s, want it made and current", r)
	}
}

// Capabilities: Docker's 14 by default in the effective, permitted and
// bounding sets; --cap-add, --cap-drop (ALL too) change them and their
// effects; --privileged gives the host's bounding set.
func TestRunCapabilities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := runCapMask(runDockerCaps...)
	if def != 0xa80425fb {
		t.Fatalf("Docker's default set computes to %#x", def)
	}
	hostBnd := runCapField(t, runHostStatus(t), "CapBnd")
	// Probes: NET_ADMIN changes a link; CHOWN gives a file away.
	script := `grep ^Cap /proc/self/status
ip link set lo mtu 1400 2>/dev/null && echo netadmin=yes || echo netadmin=no
touch /f; chown 1000 /f 2>/dev/null && echo chown=yes || echo chown=no`
	cases := []struct {
		name    string
		flags   []string
		mask    uint64
		probes  []string
		inherit bool
	}{
		{"default", nil, def, []string{"netadmin=no", "chown=yes"}, false},
		{"cap-add NET_ADMIN", []string{"--cap-add", "NET_ADMIN"}, def | runCapMask(unix.CAP_NET_ADMIN), []string{"netadmin=yes", "chown=yes"}, false},
		{"cap-add cap_net_admin", []string{"--cap-add", "cap_net_admin"}, def | runCapMask(unix.CAP_NET_ADMIN), []string{"netadmin=yes", "chown=yes"}, false},
		{"cap-drop CHOWN", []string{"--cap-drop", "CHOWN"}, def &^ runCapMask(unix.CAP_CHOWN), []string{"netadmin=no", "chown=no"}, false},
		{"cap-drop ALL", []string{"--cap-drop", "ALL"}, 0, []string{"netadmin=no", "chown=no"}, false},
		{"cap-drop ALL cap-add CHOWN", []string{"--cap-drop", "ALL", "--cap-add", "CHOWN"}, runCapMask(unix.CAP_CHOWN), []string{"netadmin=no", "chown=yes"}, false},
		{"privileged", []string{"--privileged"}, hostBnd, []string{"netadmin=yes", "chown=yes"}, false},
	}
	for _, c := range cases {
		r := e.run(append(append([]string{"run", "--rm"}, c.flags...), "busybox", "sh", "-c", script)...)
		if r.code != 0 {
			t.Errorf("%s: %s", c.name, r)
			continue
		}
		for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
			if got := runCapField(t, r.stdout, set); got != c.mask {
				t.Errorf("%s: %s = %#016x, want %#016x", c.name, set, got, c.mask)
			}
		}
		for _, set := range []string{"CapInh", "CapAmb"} {
			if got := runCapField(t, r.stdout, set); got != 0 {
				t.Errorf("%s: %s = %#x, want 0 (as Docker)", c.name, set, got)
			}
		}
		l := runLines(r.stdout)
		if got := l[len(l)-2:]; !slices.Equal(got, c.probes) {
			t.Errorf("%s: probes %q, want %q", c.name, got, c.probes)
		}
	}
	// This host lacks some capabilities in its bounding set (here
	// CAP_SYS_RESOURCE): --privileged and asking for one must still work.
	missing := -1
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if hostBnd&runCapMask(c) == 0 {
			missing = c
			break
		}
	}
	if missing < 0 {
		t.Logf("the host's bounding set is full: nothing missing to ask for")
		return
	}
	t.Logf("host bounding set %#x lacks capability %d", hostBnd, missing)
	if missing == unix.CAP_SYS_RESOURCE {
		r := e.run("run", "--rm", "--cap-add", "SYS_RESOURCE", "busybox", "grep", "CapBnd", "/proc/self/status")
		if r.code != 0 {
			t.Errorf("--cap-add SYS_RESOURCE, which the host lacks: %s", r)
		} else if got := runCapField(t, r.stdout, "CapBnd"); got != def {
			t.Errorf("--cap-add SYS_RESOURCE, which the host lacks: CapBnd %#x, want %#x", got, def)
		}
	}
}

// --security-opt no-new-privileges sets the no_new_privs bit.
func TestRunNoNewPrivileges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{nil, "0"},
		{[]string{"--security-opt", "no-new-privileges"}, "1"},
		{[]string{"--security-opt", "no-new-privileges:true"}, "1"},
		{[]string{"--security-opt", "no-new-privileges:false"}, "0"},
		{[]string{"-u", "1000", "--security-opt", "no-new-privileges"}, "1"},
	} {
		out := e.runSh("grep NoNewPrivs /proc/self/status", c.flags...)
		if got := runStatusField(t, out, "NoNewPrivs"); got != c.want {
			t.Errorf("run %v: NoNewPrivs %s, want %s", c.flags, got, c.want)
		}
	}
	e.fails(125, "security", "run", "--rm", "--security-opt", "bogus", "busybox", "true")
}

// --init runs hutch's reaper as pid 1: the command is not pid 1, orphaned
// zombies are reaped, and the exit code (also by a signal) is the command's.
func TestRunInit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.runSh(`tr '\0' ' ' < /proc/1/cmdline; echo; echo $$`, "--init")
	l := runLines(out)
	if len(l) != 2 {
		t.Fatalf("--init: output %q", out)
	}
	if !strings.Contains(l[0], "init") || strings.Contains(l[0], "sh -c") {
		t.Errorf("--init: pid 1 is %q, want hutch's init", l[0])
	}
	if l[1] == "1" {
		t.Errorf("--init: the command is pid 1")
	}
	// The subshell exits at once, leaving sleep to pid 1; once the sleep
	// is over, only a reaping pid 1 makes its zombie go away.
	out = e.runSh(`(sleep 0.1 &); sleep 1; ps -o stat,comm`, "--init")
	for _, l := range runLines(out)[1:] {
		if strings.HasPrefix(l, "Z") {
			t.Errorf("--init: zombie left: %q in\n%s", l, out)
		}
	}
	if !strings.Contains(out, "ps") {
		t.Errorf("--init: ps output %q", out)
	}
	if r := e.run("run", "--rm", "--init", "busybox", "sh", "-c", "exit 5"); r.code != 5 {
		t.Errorf("--init exit 5: %s", r)
	}
	if r := e.run("run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"); r.code != 137 {
		t.Errorf("--init, command killed by SIGKILL: %s, want 137", r)
	}
}

// The open-files limit is at most the host's hard limit (Docker asks for
// 1048576).
func TestRunRlimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatUint(min(1048576, lim.Max), 10)
	out := e.runSh("ulimit -n; ulimit -Hn")
	if got := runLines(out); !slices.Equal(got, []string{want, want}) {
		t.Errorf("ulimit -n, -Hn = %q, want %s (host hard limit %d)", got, want, lim.Max)
	}
}
