//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

var lcNamespaces = []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"}

// TestLifecycleExecNamespaces: exec joins every namespace of the container's
// pid 1, and its cgroup in every hierarchy.
func TestLifecycleExecNamespaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "ns", "busybox", "sleep", "100")
	pid := e.lcInspect("ns").State.Pid
	if !lcAlive(pid) {
		t.Fatalf("inspect State.Pid %d is not a live process", pid)
	}

	script := ""
	for _, ns := range lcNamespaces {
		script += "readlink /proc/self/ns/" + ns + "; "
	}
	got := lcLines(e.ok("exec", "ns", "sh", "-c", script))
	if len(got) != len(lcNamespaces) {
		t.Fatalf("exec readlink: %q", got)
	}
	for i, ns := range lcNamespaces {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		if want == host {
			t.Errorf("container pid 1 shares the host's %s namespace %s", ns, host)
		}
		if got[i] != want {
			t.Errorf("exec %s namespace = %s, container's pid 1 has %s", ns, got[i], want)
		}
	}
	if h := e.ok("exec", "ns", "hostname"); h != id[:12] {
		t.Errorf("exec hostname = %q, want %s", h, id[:12])
	}

	// A long-running exec is in the container's cgroup in every hierarchy.
	bg := e.lcStart("exec", "ns", "sh", "-c", "while [ ! -e /exec-done ]; do sleep 0.05; done; exit 6")
	var execPid int
	if !lcWaitUntil(5*time.Second, func() bool {
		for _, p := range lcCgroupProcs(id) {
			if strings.Contains(lcCmdline(p), "exec-done") {
				execPid = p
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no exec'd process in /sys/fs/cgroup/pids/hutch/%s/cgroup.procs (%v); exec stderr %q", id, lcCgroupProcs(id), bg.stderr.String())
	}
	dirs := lcCgroupDirs(id)
	if len(dirs) == 0 {
		t.Fatal("container has no cgroup dirs")
	}
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cgroup.procs")
		if err != nil {
			t.Errorf("read %s/cgroup.procs: %v", d, err)
			continue
		}
		if !slices.Contains(strings.Fields(string(b)), fmt.Sprint(execPid)) {
			t.Errorf("exec'd process %d is not in %s", execPid, d)
		}
	}
	for _, ns := range lcNamespaces {
		a, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", execPid, ns))
		b, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if a != b || a == "" {
			t.Errorf("exec'd process %d: %s namespace %q, container %q", execPid, ns, a, b)
		}
	}
	e.ok("exec", "ns", "touch", "/exec-done")
	if code := bg.wait(5 * time.Second); code != 6 {
		t.Errorf("background exec exit = %d, want 6 (stderr %q)", code, bg.stderr.String())
	}
}

// TestLifecycleExecCaps: an exec'd process has the capabilities of the
// container's pid 1, with and without --cap-add/--cap-drop.
func TestLifecycleExecCaps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fields := []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"}
	host := lcProcStatus(t, "self", "CapBnd")["CapBnd"]
	for _, tc := range []struct {
		name  string
		flags []string
		has   int // a capability bit pid 1 must have
		lacks int // one it must not have
	}{
		{"default", nil, 0 /* CHOWN */, 12 /* NET_ADMIN */},
		{"added", []string{"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"}, 12, 0},
		{"nnp", []string{"--cap-drop", "ALL", "--cap-add", "KILL", "--security-opt", "no-new-privileges"}, 5 /* KILL */, 0},
	} {
		args := append(append([]string{"--name", tc.name}, tc.flags...), "busybox", "sleep", "100")
		e.lcRunDetached(args...)
		pid := e.lcInspect(tc.name).State.Pid
		want := lcProcStatus(t, fmt.Sprint(pid), fields...)
		var eff uint64
		fmt.Sscanf(want["CapEff"], "%x", &eff)
		if eff&(1<<tc.has) == 0 || eff&(1<<tc.lacks) != 0 || want["CapBnd"] == host {
			t.Errorf("%s: pid 1 CapEff %s (CapBnd %s, host %s): want bit %d set, bit %d clear", tc.name, want["CapEff"], want["CapBnd"], host, tc.has, tc.lacks)
		}
		if nnp := tc.name == "nnp"; (want["NoNewPrivs"] == "1") != nnp {
			t.Errorf("%s: pid 1 NoNewPrivs %s", tc.name, want["NoNewPrivs"])
		}
		got := lcStatusFields(e.ok("exec", tc.name, "cat", "/proc/self/status"), fields...)
		for _, f := range fields {
			if got[f] != want[f] || got[f] == "" {
				t.Errorf("%s: exec %s = %q, container's pid 1 has %q", tc.name, f, got[f], want[f])
			}
		}
	}
	// A non-root exec keeps the bounding set and, like Docker, has no effective capabilities.
	pid := e.lcInspect("default").State.Pid
	want := lcProcStatus(t, fmt.Sprint(pid), "CapBnd")
	got := lcStatusFields(e.ok("exec", "-u", "1000", "default", "cat", "/proc/self/status"), "CapBnd", "CapEff")
	if got["CapBnd"] != want["CapBnd"] || got["CapEff"] != "0000000000000000" {
		t.Errorf("exec -u 1000: CapBnd %s CapEff %s, want CapBnd %s and CapEff 0", got["CapBnd"], got["CapEff"], want["CapBnd"])
	}
}

// TestLifecycleExecOptions: exit codes, -e, -w, -u, -i, and the errors.
func TestLifecycleExecOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "ex", "-e", "FROMRUN=1", "-w", "/tmp", "busybox", "sleep", "100")

	if r := e.run("exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 3"); r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("exec exit 3: %s", r)
	}
	if out := e.ok("exec", "ex", "sh", "-c", "echo $FROMRUN $HOSTNAME; pwd; id -u"); !strings.HasPrefix(out, "1 ") || !strings.HasSuffix(out, "\n/tmp\n0") {
		t.Errorf("exec defaults: %q, want the container's env, workdir /tmp and uid 0", out)
	}
	if out := e.ok("exec", "-e", "FOO=bar", "-e", "FROMRUN=2", "ex", "sh", "-c", "echo $FOO $FROMRUN"); out != "bar 2" {
		t.Errorf("exec -e: %q, want \"bar 2\"", out)
	}
	if out := e.ok("exec", "-w", "/etc", "ex", "pwd"); out != "/etc" {
		t.Errorf("exec -w /etc: pwd = %q", out)
	}
	if out := e.ok("exec", "-u", "1000", "ex", "sh", "-c", "id -u; id -g"); out != "1000\n1000" {
		t.Errorf("exec -u 1000: %q", out)
	}
	if out := e.ok("exec", "-u", "user", "ex", "sh", "-c", "id -un; id -u; echo $HOME"); out != "user\n1000\n/home/user" {
		t.Errorf("exec -u user: %q", out)
	}
	if out := e.ok("exec", "-u", "1000:100", "ex", "sh", "-c", "id -u; id -g"); out != "1000\n100" {
		t.Errorf("exec -u 1000:100: %q", out)
	}
	if out := e.ok("exec", "-u", "nobody", "ex", "id", "-u"); out != "65534" {
		t.Errorf("exec -u nobody: %q", out)
	}

	// -i passes stdin; without it the command sees none.
	if r := e.runStdin("hi\nthere\n", "exec", "-i", "ex", "cat"); r.code != 0 || r.stdout != "hi\nthere\n" {
		t.Errorf("exec -i cat: %s", r)
	}
	if r := e.runStdin("hi\n", "exec", "ex", "cat"); r.code != 0 || r.stdout != "" {
		t.Errorf("exec cat without -i: %s, want no input passed", r)
	}
	// An exec's output is not the container's log.
	if out := e.ok("logs", "ex"); out != "" {
		t.Errorf("logs after execs = %q, want empty", out)
	}

	e.fails(127, "nosuchcmd", "exec", "ex", "nosuchcmd")
	e.fails(126, "/etc/passwd", "exec", "ex", "/etc/passwd")
	// A command that cannot start in the container is 126, as Docker's
	// daemon gives it; hutch's own refusal is 1, as Docker's exec.
	e.fails(126, "nosuchuser", "exec", "-u", "nosuchuser", "ex", "true")
	e.fails(1, "relative", "exec", "-w", "relative", "ex", "true")

	e.ok("kill", "ex")
	e.lcWaitExited("ex", 5*time.Second)
	e.fails(1, "ex", "exec", "ex", "true")
	// Never-started containers too.
	if r := e.run("run", "--name", "cr", "busybox", "/nonexistent"); r.code != 127 {
		t.Fatalf("run /nonexistent: %s", r)
	}
	e.fails(1, "cr", "exec", "cr", "true")
}

// TestLifecycleExecTTY: exec -it through a real pseudo-terminal.
func TestLifecycleExecTTY(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "tt", "busybox", "sleep", "100")

	cmd := e.command("exec", "-it", "tt", "sh")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 31, Cols: 97})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	out := &syncBuffer{}
	go io.Copy(out, ptmx)

	// Wait for the shell's prompt before typing.
	if !lcWaitUntil(5*time.Second, func() bool { return strings.Contains(out.String(), "#") }) {
		cmd.Process.Kill()
		t.Fatalf("no prompt from exec -it sh: %q", out.String())
	}
	io.WriteString(ptmx, "tty; stty size; exit 4\r")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("exec -it sh did not end after exit 4; output %q", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Errorf("exec -it sh; exit 4: exit code %d, output %q", code, out.String())
	}
	time.Sleep(100 * time.Millisecond)
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	var sawTTY, sawSize bool
	for sc.Scan() {
		switch l := strings.TrimSpace(sc.Text()); {
		case strings.HasPrefix(l, "/dev/pts/"):
			sawTTY = true
		case l == "31 97":
			sawSize = true
		}
	}
	if !sawTTY {
		t.Errorf("exec -it: `tty` printed no /dev/pts/N line (Docker's answer): %q", out.String())
	}
	if !sawSize {
		t.Errorf("exec -it: `stty size` did not print the terminal's size 31 97: %q", out.String())
	}
	// The container still runs after the exec.
	if !e.lcInspect("tt").State.Running {
		t.Error("container stopped after exec -it")
	}
}

// TestLifecycleExecSignals: a signal to `hutch exec` reaches the command
// inside, which decides what it does with it (here: exit 7).
func TestLifecycleExecSignals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "sg", "busybox", "sleep", "100")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		bg := e.lcStart("exec", "sg", "sh", "-c", `trap "echo got; exit 7" TERM HUP; echo ready; while :; do sleep 0.05; done`)
		if !lcWaitUntil(5*time.Second, func() bool { return strings.Contains(bg.stdout.String(), "ready") }) {
			t.Fatalf("exec sh never got ready: stderr %q", bg.stderr.String())
		}
		bg.cmd.Process.Signal(sig)
		if code := bg.wait(5 * time.Second); code != 7 || !strings.Contains(bg.stdout.String(), "got") {
			t.Errorf("exec sh after %v: exit %d, stdout %q, stderr %q; want the trap's exit 7", sig, code, bg.stdout.String(), bg.stderr.String())
		}
	}
	// SIGKILL cannot be passed on: the command dies with hutch exec.
	bg := e.lcStart("exec", "sg", "sh", "-c", "echo ready; exec sleep 1000")
	if !lcWaitUntil(5*time.Second, func() bool { return strings.Contains(bg.stdout.String(), "ready") }) {
		t.Fatalf("exec sleep never got ready: stderr %q", bg.stderr.String())
	}
	if ps := e.ok("exec", "sg", "ps"); !strings.Contains(ps, "sleep 1000") {
		t.Fatalf("exec'd sleep 1000 not in the container's ps: %s", ps)
	}
	bg.cmd.Process.Kill()
	bg.wait(5 * time.Second)
	if !lcWaitUntil(5*time.Second, func() bool { return !strings.Contains(e.ok("exec", "sg", "ps"), "sleep 1000") }) {
		t.Errorf("exec'd sleep 1000 outlived its killed hutch exec: %s", e.ok("exec", "sg", "ps"))
	}
}
