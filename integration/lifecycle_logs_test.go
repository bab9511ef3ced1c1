//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"
)

// TestLifecycleLogs: stdout and stderr lines are kept apart and written back
// to stdout and stderr; --tail, -t; a last line without newline is kept;
// logs outlive the container and go with rm.
func TestLifecycleLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Pauses keep the order of the two streams in the log deterministic.
	script := `echo out1; sleep 0.05; echo err1 >&2; sleep 0.05; echo out2; sleep 0.05; echo err2 >&2; sleep 0.05; printf partial`
	id := e.lcRunDetached("--name", "lg", "busybox", "sh", "-c", script)
	if code := e.ok("wait", "lg"); code != "0" {
		t.Fatalf("wait lg = %q", code)
	}

	r := e.run("logs", "lg")
	if r.code != 0 || r.stdout != "out1\nout2\npartial" || r.stderr != "err1\nerr2\n" {
		t.Errorf("logs: %s, want stdout %q and stderr %q", r, "out1\nout2\npartial", "err1\nerr2\n")
	}
	r = e.run("logs", "--tail", "2", "lg")
	if r.code != 0 || r.stdout != "partial" || r.stderr != "err2\n" {
		t.Errorf("logs --tail 2: %s, want stdout %q, stderr %q", r, "partial", "err2\n")
	}
	r = e.run("logs", "--tail", "0", "lg")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("logs --tail 0: %s, want nothing", r)
	}
	r = e.run("logs", "-n", "100", "lg")
	if r.stdout != "out1\nout2\npartial" || r.stderr != "err1\nerr2\n" {
		t.Errorf("logs -n 100: %s, want everything", r)
	}
	e.fails(1, "tail", "logs", "--tail", "x", "lg")

	r = e.run("logs", "-t", "lg")
	if r.code != 0 {
		t.Fatalf("logs -t: %s", r)
	}
	got := append(strings.SplitAfter(r.stdout, "\n"), strings.SplitAfter(r.stderr, "\n")...)
	var texts []string
	for _, l := range got {
		if l == "" {
			continue
		}
		ts, text, ok := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil || time.Since(tm) > time.Minute || time.Since(tm) < 0 || !strings.HasSuffix(ts, "Z") {
			t.Errorf("logs -t line %q: want an RFC3339Nano UTC timestamp of the last minute, a space, the text", l)
		}
		texts = append(texts, strings.TrimSuffix(text, "\n"))
	}
	if strings.Join(texts, ",") != "out1,out2,partial,err1,err2" {
		t.Errorf("logs -t texts = %q", texts)
	}
	// Docker's format is fixed-width nanoseconds: 2006-01-02T15:04:05.000000000Z.
	if first, _, _ := strings.Cut(r.stdout, " "); len(first) != len("2006-01-02T15:04:05.000000000Z") {
		t.Errorf("logs -t timestamp %q is not fixed-width nanoseconds", first)
	}
	// -t with --tail.
	if r := e.run("logs", "-t", "--tail", "1", "lg"); r.stderr != "" || !strings.HasSuffix(r.stdout, "Z partial") {
		t.Errorf("logs -t --tail 1: %s", r)
	}

	// Gone with the container.
	e.ok("rm", "lg")
	e.fails(1, "lg", "logs", "lg")
	e.fails(1, id[:12], "logs", id[:12])
}

// TestLifecycleLogsForeground: a foreground run's output goes to the caller
// and to the log.
func TestLifecycleLogsForeground(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run("run", "--name", "fg", "busybox", "sh", "-c", "echo fgout; echo fgerr >&2; exit 2")
	if r.code != 2 || r.stdout != "fgout\n" || r.stderr != "fgerr\n" {
		t.Fatalf("foreground run: %s", r)
	}
	r = e.run("logs", "fg")
	if r.code != 0 || r.stdout != "fgout\n" || r.stderr != "fgerr\n" {
		t.Errorf("logs of a foreground run: %s, want stdout fgout, stderr fgerr", r)
	}
	// A long line (past any pipe or read buffer) comes back whole.
	r = e.run("run", "--name", "long", "busybox", "sh", "-c", `head -c 200000 /dev/zero | tr '\0' a; echo; echo end`)
	want := strings.Repeat("a", 200000) + "\nend\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("run of a long line: exit %d, %d bytes of stdout, want %d", r.code, len(r.stdout), len(want))
	}
	if r = e.run("logs", "long"); r.stdout != want {
		t.Errorf("logs of a 200000-byte line: %d bytes, want %d, equal %v", len(r.stdout), len(want), r.stdout == want)
	}
	// Interactive input is not logged, the output it causes is.
	r = e.runStdin("typed\n", "run", "-i", "--name", "fgi", "busybox", "sh", "-c", "read x; echo got-$x")
	if r.code != 0 || r.stdout != "got-typed\n" {
		t.Fatalf("run -i: %s", r)
	}
	if out := e.ok("logs", "fgi"); out != "got-typed" {
		t.Errorf("logs of run -i = %q, want got-typed", out)
	}
}

// TestLifecycleLogsFollow: logs -f prints what exists, then new lines as they
// come, and returns once the container stops.
func TestLifecycleLogsFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "fl", "busybox", "sh", "-c",
		`echo first; while [ ! -e /go ]; do sleep 0.05; done; echo second; echo second-err >&2; sleep 0.3; echo third`)

	f := e.lcStart("logs", "-f", "fl")
	if !lcWaitUntil(5*time.Second, func() bool { return f.stdout.String() == "first\n" }) {
		t.Fatalf("logs -f: stdout %q, want first", f.stdout.String())
	}
	time.Sleep(300 * time.Millisecond)
	if f.exited() {
		t.Fatalf("logs -f returned while the container runs: stdout %q stderr %q", f.stdout.String(), f.stderr.String())
	}
	e.ok("exec", "fl", "touch", "/go")
	if !lcWaitUntil(5*time.Second, func() bool { return f.stdout.String() == "first\nsecond\n" && f.stderr.String() == "second-err\n" }) {
		t.Fatalf("logs -f after the trigger: stdout %q stderr %q", f.stdout.String(), f.stderr.String())
	}
	if code := f.wait(5 * time.Second); code != 0 {
		t.Fatalf("logs -f did not return 0 within 5 s of the container's exit: %d (stdout %q)", code, f.stdout.String())
	}
	if got := f.stdout.String(); got != "first\nsecond\nthird\n" {
		t.Errorf("logs -f stdout = %q, want first, second, third", got)
	}
	if st := e.lcInspect("fl").State; st.Running || st.ExitCode != 0 {
		t.Errorf("after logs -f returned: Running %v, exit %d", st.Running, st.ExitCode)
	}

	// -f on an exited container prints everything and returns at once.
	r := e.run("logs", "-f", "fl")
	if r.code != 0 || r.stdout != "first\nsecond\nthird\n" || r.stderr != "second-err\n" {
		t.Errorf("logs -f of an exited container: %s", r)
	}

	// -f --tail 0 on a running container prints only new lines; the
	// follower also ends when the container is stopped from outside.
	e.lcRunDetached("--name", "fl2", "busybox", "sh", "-c",
		`echo old; while [ ! -e /go ]; do sleep 0.05; done; echo new; sleep 100`)
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "fl2") == "old" }) {
		t.Fatal("fl2 printed nothing")
	}
	f = e.lcStart("logs", "-f", "--tail", "0", "fl2")
	time.Sleep(200 * time.Millisecond)
	e.ok("exec", "fl2", "touch", "/go")
	if !lcWaitUntil(5*time.Second, func() bool { return f.stdout.String() == "new\n" }) {
		t.Fatalf("logs -f --tail 0: stdout %q, want only new", f.stdout.String())
	}
	e.ok("kill", "fl2")
	if code := f.wait(5 * time.Second); code != 0 {
		t.Errorf("logs -f did not return 0 within 5 s of kill: %d", code)
	}
}
