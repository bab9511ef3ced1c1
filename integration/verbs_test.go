//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerbsCreateStart: create prints a full id and leaves a Created
// container (ps -a, inspect); start -a runs it with its output and exit
// code; start -ai feeds it stdin; plain start runs it detached; bad input
// exits 125 and leaves nothing.
func TestVerbsCreateStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run("create", "--name", "c1", "-e", "WHO=world", "busybox", "sh", "-c", `echo hello $WHO; echo oops >&2; exit 3`)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !lcFullID.MatchString(id) || r.stdout != id+"\n" {
		t.Fatalf("create: %s, want one full id line", r)
	}
	_, rows := e.lcPs("-a")
	if row := lcFind(rows, id[:12]); row == nil || row[4] != "Created" {
		t.Errorf("ps -a after create: %q, want STATUS Created", row)
	}
	if d := e.lcInspect("c1"); d.State.Status != "created" || d.State.Running || d.State.Pid != 0 {
		t.Errorf("inspect after create: %+v", d.State)
	}
	if _, rows := e.lcPs(); lcFind(rows, id[:12]) != nil {
		t.Error("ps (running only) lists a created container")
	}

	r = e.run("start", "-a", "c1")
	if r.code != 3 || r.stdout != "hello world\n" || r.stderr != "oops\n" {
		t.Errorf("start -a: %s, want exit 3, hello world / oops", r)
	}
	if d := e.lcInspect("c1"); d.State.Status != "exited" || d.State.ExitCode != 3 {
		t.Errorf("after start -a: %+v", d.State)
	}
	// Plain start: detached, prints the argument.
	if out := e.ok("start", "c1"); out != "c1" {
		t.Errorf("start prints %q", out)
	}
	e.lcWaitExited("c1", 10*time.Second)
	if out := e.ok("logs", "c1"); out != "hello world\nhello world" {
		t.Errorf("logs after two runs: %q", out)
	}

	e.ok("create", "-i", "--name", "cat", "busybox", "sh", "-c", `while read l; do echo got:$l; done; exit 4`)
	r = e.runStdin("a\nb\n", "start", "-ai", "cat")
	if r.code != 4 || r.stdout != "got:a\ngot:b\n" {
		t.Errorf("start -ai: %s, want got:a got:b, exit 4", r)
	}

	e.fails(1, "cannot start and attach several", "start", "-a", "c1", "cat")
	e.fails(1, "no such container", "start", "-a", "nosuch")
	e.fails(1, "no such container", "start", "nosuch")
	before := len(e.ids())
	e.fails(125, "not defined", "create", "--bogus", "busybox")
	e.fails(125, "container name", "create", "--name", "bad name", "busybox")
	e.fails(125, "already in use", "create", "--name", "c1", "busybox")
	e.fails(125, "nosuchimage", "create", "--pull", "never", "nosuchimage")
	e.fails(125, "needs an image", "create")
	if after := len(e.ids()); after != before {
		t.Errorf("failed creates left containers: %d before, %d after", before, after)
	}
}

// TestVerbsAttach: attach shows a running container's output from now on,
// passes stdin to a -i container, exits with the container's code; ctrl-p
// ctrl-q on a tty detaches and leaves it running; a stopped container
// cannot be attached to.
func TestVerbsAttach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "late", "busybox", "sh", "-c", `echo early; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo late; echo err >&2; exit 5`)
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "late") == "early" }) {
		t.Fatal("the container never printed early")
	}
	cmd := e.command("attach", "late")
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // not a timed assertion: attach is following by then, or prints "late" anyway
	e.ok("exec", "late", "touch", "/tmp/go")
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code != 5 || out.String() != "late\n" || errb.String() != "err\n" {
		t.Errorf("attach: %v exit %d, stdout %q, stderr %q; want exit 5, late, err", err, code, out.String(), errb.String())
	}
	e.fails(1, "not running", "attach", "late")
	e.fails(1, "no such container", "attach", "nosuch")

	e.lcRunDetached("-i", "--name", "cat", "busybox", "sh", "-c", `while read l; do echo got:$l; [ "$l" = bye ] && exit 6; done`)
	r := e.runStdin("one\nbye\n", "attach", "cat")
	if r.code != 6 || r.stdout != "got:one\ngot:bye\n" {
		t.Errorf("attach with stdin: %s, want got:one got:bye, exit 6", r)
	}

	e.lcRunDetached("-it", "--name", "tty", "busybox", "sh")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = e.command("attach", "tty")
	cmd.Stdin = pr
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	pw.Write([]byte("echo typed > /tmp/seen\n\x10\x11"))
	err = cmd.Wait()
	pw.Close()
	if err != nil {
		t.Errorf("attach detached by ctrl-p ctrl-q: %v, want exit 0", err)
	}
	if !lcWaitUntil(5*time.Second, func() bool { return e.run("exec", "tty", "cat", "/tmp/seen").stdout == "typed\n" }) {
		t.Error("what was typed through attach never reached the tty's shell")
	}
	if d := e.lcInspect("tty"); !d.State.Running {
		t.Errorf("detaching stopped the container: %+v", d.State)
	}
}

// TestVerbsRestartRename: restart gives a running container a new process
// and starts a stopped one; rename moves the name (the old one is free
// again) and refuses a taken, invalid or unchanged one.
func TestVerbsRestartRename(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "web", "busybox", "sleep", "1000")
	pid := e.lcInspect("web").State.Pid
	if out := e.ok("restart", "-t", "0", "web"); out != "web" {
		t.Errorf("restart prints %q", out)
	}
	d := e.lcInspect("web")
	if !d.State.Running || d.State.Pid == pid || d.State.Pid == 0 {
		t.Errorf("after restart: %+v, want running with a new pid (was %d)", d.State, pid)
	}
	e.ok("stop", "-t", "0", "web")
	e.ok("restart", "web")
	if d := e.lcInspect("web"); !d.State.Running {
		t.Errorf("restart of a stopped container: %+v", d.State)
	}
	e.fails(1, "no such container", "restart", "nosuch")

	e.ok("rename", "web", "site")
	if d := e.lcInspect("site"); d.Name != "/site" || !d.State.Running {
		t.Errorf("after rename: %s %+v", d.Name, d.State)
	}
	e.fails(1, "no such object", "inspect", "web")
	e.ok("create", "--name", "web", "busybox") // the old name is free
	e.fails(1, "already in use", "rename", "site", "web")
	e.fails(1, "container name", "rename", "site", "bad/name")
	e.fails(1, "current name", "rename", "site", "site")
	e.fails(1, "no such container", "rename", "nosuch", "x")
	e.fails(1, "needs a container and its new name", "rename", "site")
	if d := e.lcInspect("site"); d.Name != "/site" {
		t.Errorf("failed renames changed the name to %s", d.Name)
	}

	// On a user-defined network the new name resolves at once, the old one
	// no more (--dns 127.0.0.1: other names go to loopback, nowhere else).
	e.ok("network", "create", "rn")
	e.lcRunDetached("--name", "a1", "--network", "rn", "--dns", "127.0.0.1", "busybox", "sleep", "1000")
	e.lcRunDetached("--name", "b1", "--network", "rn", "--dns", "127.0.0.1", "busybox", "sleep", "1000")
	e.ok("rename", "a1", "a2")
	if r := e.run("exec", "b1", "nslookup", "a2"); r.code != 0 || !regexp.MustCompile(`Name:\s+a2\nAddress:\s+\d+\.`).MatchString(r.stdout) {
		t.Errorf("nslookup of the new name: %s", r)
	}
	if r := e.run("exec", "b1", "nslookup", "a1"); r.code == 0 {
		t.Errorf("the old name still resolves: %s", r)
	}
}

// TestVerbsPause: a paused container's counter does not advance; ps shows
// (Paused), inspect paused; exec and a second pause are refused; unpause
// lets it run on; stop of a paused container works.
func TestVerbsPause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "count", "busybox", "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.02; done`)
	counter := func() string { return e.ok("exec", "count", "cat", "/tmp/n") }
	if !lcWaitUntil(5*time.Second, func() bool { return counter() != "" }) {
		t.Fatal("counter never started")
	}
	if out := e.ok("pause", "count"); out != "count" {
		t.Errorf("pause prints %q", out)
	}
	_, rows := e.lcPs()
	if row := lcFind(rows, id[:12]); row == nil || !strings.HasSuffix(row[4], "(Paused)") {
		t.Errorf("ps after pause: %q, want Up ... (Paused)", row)
	}
	var st struct {
		State struct {
			Status  string
			Paused  bool
			Running bool
		}
	}
	inspectInto(t, e, "count", &st)
	if st.State.Status != "paused" || !st.State.Paused || !st.State.Running {
		t.Errorf("inspect after pause: %+v", st.State)
	}
	n1 := readCounter(t, e, id)
	time.Sleep(300 * time.Millisecond) // a running loop would advance ~15 times
	if n2 := readCounter(t, e, id); n2 != n1 {
		t.Errorf("counter advanced while paused: %s then %s", n1, n2)
	}
	e.fails(1, "paused", "exec", "count", "true")
	e.fails(1, "already paused", "pause", "count")

	e.ok("unpause", "count")
	if !lcWaitUntil(5*time.Second, func() bool { return readCounter(t, e, id) != n1 }) {
		t.Error("counter did not advance after unpause")
	}
	inspectInto(t, e, "count", &st)
	if st.State.Status != "running" || st.State.Paused {
		t.Errorf("inspect after unpause: %+v", st.State)
	}
	e.fails(1, "not paused", "unpause", "count")

	e.ok("pause", "count")
	e.ok("stop", "-t", "1", "count")
	if d := e.lcInspect("count"); d.State.Running || d.State.ExitCode != 137 {
		t.Errorf("stop of a paused container: %+v", d.State)
	}
	e.fails(1, "not running", "pause", "count")
	e.fails(1, "no such container", "pause", "nosuch")
}

// readCounter reads the counter file through the container's upper dir:
// exec would not run inside a frozen container.
func readCounter(t *testing.T, e *env, id string) string {
	t.Helper()
	b, err := os.ReadFile(e.root + "/containers/" + id + "/upper/tmp/n")
	if err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func inspectInto(t *testing.T, e *env, ref string, v any) {
	t.Helper()
	out := e.ok("inspect", ref)
	out = strings.TrimSpace(out)
	out = strings.TrimSuffix(strings.TrimPrefix(out, "["), "]")
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
}

// TestVerbsTopDiff: top lists the container's processes in ps -ef's
// columns (and ps's own with options), not the host's; diff names what the
// container added, changed and deleted.
func TestVerbsTopDiff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "box", "busybox", "sh", "-c", `mkdir /tmp/new; echo x > /tmp/new/f; rm /bin/vi; echo ready; exec sleep 1000`)
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "box") == "ready" }) {
		t.Fatal("never ready")
	}
	pid := e.lcInspect("box").State.Pid
	lines := lcLines(e.ok("top", "box"))
	if len(lines) != 2 || lcColumnSep.Split(lines[0], -1)[0] != "UID" || !strings.HasPrefix(lines[0], "UID") || !strings.Contains(lines[0], "PID") || !strings.HasSuffix(lines[0], "CMD") {
		t.Fatalf("top: %q, want ps -ef's header and one process", lines)
	}
	if f := strings.Fields(lines[1]); f[1] != strconv.Itoa(pid) || !strings.HasSuffix(lines[1], "sleep 1000") {
		t.Errorf("top row %q, want pid %d running sleep 1000", lines[1], pid)
	}
	if lines := lcLines(e.ok("top", "box", "-o", "pid,comm")); len(lines) != 2 || lines[0] != "PID"+strings.Repeat(" ", len(lines[0])-len("PIDCOMMAND"))+"COMMAND" ||
		strings.Join(lcColumnSep.Split(lines[1], -1), " ") != strconv.Itoa(pid)+" sleep" {
		t.Errorf("top -o pid,comm: %q", lines)
	}
	e.fails(1, "no PID column", "top", "box", "-o", "comm")
	e.fails(1, "no such container", "top", "nosuch")

	want := "C /bin\nD /bin/vi\nC /tmp\nA /tmp/new\nA /tmp/new/f"
	if out := e.ok("diff", "box"); out != want {
		t.Errorf("diff: %q, want %q", out, want)
	}
	e.ok("stop", "-t", "0", "box")
	e.fails(1, "not running", "top", "box")
	if out := e.ok("diff", "box"); out != want {
		t.Errorf("diff of the stopped container: %q", out)
	}
	e.ok("create", "--name", "fresh", "busybox")
	if out := e.ok("diff", "fresh"); out != "" {
		t.Errorf("diff of a created container: %q", out)
	}
	e.fails(1, "no such container", "diff", "nosuch")
}

// TestVerbsUpdate: update changes a running container's memory, CPU and
// pids limits in its cgroup, and they hold after a restart; bad values
// change nothing.
func TestVerbsUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "u", "--memory", "128m", "busybox", "sleep", "1000")
	limits := func() (mem, quota, pids string) {
		pid := e.lcInspect("u").State.Pid
		mem = ociCgroupRead(t, pid, "memory", "memory.limit_in_bytes", "memory.max")
		quota = ociCgroupRead(t, pid, "cpu", "cpu.cfs_quota_us", "cpu.max")
		pids = ociCgroupRead(t, pid, "pids", "pids.max", "pids.max")
		return
	}
	if out := e.ok("update", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", "u"); out != "u" {
		t.Errorf("update prints %q", out)
	}
	check := func(when string) {
		mem, quota, pids := limits()
		if mem != "67108864" || !strings.HasPrefix(quota, "50000") || pids != "50" {
			t.Errorf("%s: memory %s, cpu quota %s, pids %s; want 67108864, 50000, 50", when, mem, quota, pids)
		}
	}
	check("after update")
	e.ok("restart", "-t", "0", "u")
	check("after restart")
	e.fails(1, "invalid --memory", "update", "--memory", "lots", "u")
	e.fails(1, "give --memory", "update", "u")
	e.fails(1, "no such container", "update", "--memory", "64m", "nosuch")
	check("after bad updates")
}

// TestVerbsStats: stats --no-stream shows Docker's columns; a container
// burning CPU shows a high CPU %, its memory limit and one process; a
// stopped one (with -a) shows zeros.
func TestVerbsStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "burn", "--memory", "64m", "busybox", "sh", "-c", `while :; do :; done`)
	e.ok("create", "--name", "idle", "busybox")
	lines := lcLines(e.ok("stats", "--no-stream", "-a", "burn", "idle"))
	if len(lines) != 3 {
		t.Fatalf("stats: %q, want a header and two rows", lines)
	}
	header := lcColumnSep.Split(lines[0], -1)
	if strings.Join(header, "|") != "CONTAINER ID|NAME|CPU %|MEM USAGE / LIMIT|MEM %|NET I/O|BLOCK I/O|PIDS" {
		t.Errorf("header %q", header)
	}
	row := lcColumnSep.Split(lines[1], -1)
	if len(row) != 8 || row[0] != id[:12] || row[1] != "burn" || !strings.HasSuffix(row[3], " / 64MiB") || row[7] != "1" {
		t.Fatalf("burn's row %q", row)
	}
	cpu, err := strconv.ParseFloat(strings.TrimSuffix(row[2], "%"), 64)
	if err != nil || cpu < 10 {
		t.Errorf("burn's CPU %% = %q, want > 10%%", row[2])
	}
	if idle := lcColumnSep.Split(lines[2], -1); len(idle) != 8 || idle[1] != "idle" || idle[2] != "0.00%" || idle[3] != "0B / 0B" || idle[7] != "0" {
		t.Errorf("idle's row %q", idle)
	}
	// Without arguments: the running ones only.
	if lines := lcLines(e.ok("stats", "--no-stream")); len(lines) != 2 || !strings.HasPrefix(lines[1], id[:12]) {
		t.Errorf("stats --no-stream: %q, want burn alone", lines)
	}
	e.fails(1, "no such container", "stats", "--no-stream", "nosuch")
}

// TestVerbsExecWaitPrune: exec -d returns at once and its command runs on;
// exec --privileged has every capability the plain exec lacks; wait
// --condition next-exit waits through a start, removed until rm;
// container prune removes the stopped containers only; version and info.
func TestVerbsExecWaitPrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "up", "busybox", "sleep", "1000")
	if out := e.ok("exec", "-d", "up", "sh", "-c", "echo bg > /tmp/bg"); out != "" {
		t.Errorf("exec -d prints %q", out)
	}
	if !lcWaitUntil(5*time.Second, func() bool { return e.run("exec", "up", "cat", "/tmp/bg").stdout == "bg\n" }) {
		t.Error("exec -d's command never ran")
	}
	capEff := func(args ...string) string {
		out := e.ok(append(append([]string{"exec"}, args...), "up", "grep", "CapEff", "/proc/self/status")...)
		return strings.TrimSpace(strings.TrimPrefix(out, "CapEff:"))
	}
	plain, priv := capEff(), capEff("--privileged")
	p, _ := strconv.ParseUint(plain, 16, 64)
	q, _ := strconv.ParseUint(priv, 16, 64)
	if p&q != p || q == p || q&(1<<21) == 0 { // CAP_SYS_ADMIN is bit 21
		t.Errorf("CapEff: plain %s, --privileged %s; want a superset with CAP_SYS_ADMIN", plain, priv)
	}
	e.fails(1, "no such container", "exec", "-d", "nosuch", "true")

	// A gate in a host directory: the container exits once the test says so.
	gate := t.TempDir()
	e.ok("create", "--name", "later", "-v", gate+":/gate", "busybox", "sh", "-c", `while [ ! -e /gate/go ]; do sleep 0.05; done; rm /gate/go; exit 9`)
	remover := e.command("wait", "--condition", "removed", "later")
	var rout syncBuffer
	remover.Stdout = &rout
	if err := remover.Start(); err != nil {
		t.Fatal(err)
	}
	defer remover.Process.Kill() // if a check below fails before rm
	waiter := e.command("wait", "--condition", "next-exit", "later")
	var out syncBuffer
	waiter.Stdout = &out
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	e.ok("start", "later")
	if err := os.WriteFile(gate+"/go", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := waiter.Wait(); err != nil || out.String() != "9\n" {
		t.Errorf("wait --condition next-exit: %v, %q, want 9", err, out.String())
	}
	e.ok("create", "--name", "stopped", "busybox")
	e.ok("rm", "later")
	if err := remover.Wait(); err != nil || rout.String() != "9\n" {
		t.Errorf("wait --condition removed: %v, %q, want 9", err, rout.String())
	}
	e.fails(1, "invalid condition", "wait", "--condition", "sometime", "up")

	e.fails(1, "not running", "exec", "-d", "stopped", "true")
	stopped := e.lcInspect("stopped").ID
	r := e.runStdin("n\n", "container", "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING! This will remove all stopped containers.") || strings.Contains(r.stdout, "Deleted") {
		t.Errorf("container prune, answered n: %s", r)
	}
	out2 := e.ok("container", "prune", "-f")
	if !strings.HasPrefix(out2, "Deleted Containers:\n"+stopped+"\n\nTotal reclaimed space: ") {
		t.Errorf("container prune -f: %q", out2)
	}
	if d := e.lcInspect("up"); !d.State.Running {
		t.Error("prune touched a running container")
	}
	e.fails(1, "no such object", "inspect", "stopped")

	if out := e.ok("version"); !strings.Contains(out, "Version:") || !strings.Contains(out, "OS/Arch:    linux/") {
		t.Errorf("version: %q", out)
	}
	info := e.ok("info")
	for _, want := range []string{"Containers: 1\n Running: 1\n Paused: 0\n Stopped: 0\n", "Images: 1\n", "Storage Driver: overlay\n", "Hutch Root Dir: " + e.root} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
}

// TestVerbsLogsSinceUntil: --since and --until cut the log at a time taken
// from the log itself (-t), in RFC 3339 and Unix seconds; a relative
// --since keeps recent output; a bad time is one line, exit 1.
func TestVerbsLogsSinceUntil(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "talk", "busybox", "sh", "-c", `echo one; sleep 0.2; echo two; exec sleep 1000`)
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "talk") == "one\ntwo" }) {
		t.Fatal("never printed one and two")
	}
	lines := lcLines(e.ok("logs", "-t", "talk"))
	stamp, _, _ := strings.Cut(lines[1], " ")
	at, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		t.Fatalf("logs -t line %q: %v", lines[1], err)
	}
	if out := e.ok("logs", "--since", stamp, "talk"); out != "two" {
		t.Errorf("--since two's time: %q", out)
	}
	if out := e.ok("logs", "--until", stamp, "talk"); out != "one" {
		t.Errorf("--until two's time: %q", out)
	}
	unix := fmt.Sprintf("%d.%09d", at.Unix(), at.Nanosecond())
	if out := e.ok("logs", "--since", unix, "talk"); out != "two" {
		t.Errorf("--since %s: %q", unix, out)
	}
	if out := e.ok("logs", "--since", "10m", "--details", "talk"); out != "one\ntwo" {
		t.Errorf("--since 10m: %q", out)
	}
	if out := e.ok("logs", "--until", "2000-01-01", "talk"); out != "" {
		t.Errorf("--until 2000-01-01: %q", out)
	}
	e.fails(1, "failed to parse value as time or duration", "logs", "--since", "yesterday", "talk")
}

// TestVerbsSystemDf: system df counts images, containers (active: running)
// and volumes (active: used) with Docker's columns; what a stopped
// container holds is reclaimable.
func TestVerbsSystemDf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "up", "-v", "data:/data", "busybox", "sleep", "1000")
	e.ok("run", "--name", "done", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /big")
	e.ok("volume", "create", "spare")
	lines := lcLines(e.ok("system", "df"))
	if len(lines) != 4 || strings.Join(lcColumnSep.Split(lines[0], -1), "|") != "TYPE|TOTAL|ACTIVE|SIZE|RECLAIMABLE" {
		t.Fatalf("system df: %q", lines)
	}
	want := map[string][2]string{"Images": {"1", "1"}, "Containers": {"2", "1"}, "Local Volumes": {"2", "1"}}
	for _, l := range lines[1:] {
		f := lcColumnSep.Split(l, -1)
		w, ok := want[f[0]]
		if !ok || len(f) != 5 || f[1] != w[0] || f[2] != w[1] {
			t.Errorf("row %q, want TOTAL %s ACTIVE %s", f, w[0], w[1])
		}
		if f[0] == "Containers" && (f[4] == "0B (0%)" || !strings.HasSuffix(f[4], "%)")) {
			t.Errorf("containers' reclaimable %q: the stopped one wrote 100 kB", f[4])
		}
	}
	e.fails(1, "takes no arguments", "system", "df", "x")
}
