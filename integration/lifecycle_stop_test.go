//go:build integration

package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLifecycleStop: stop -t 1 on a shell that ignores TERM kills it after
// about a second (Exited (137)); a TERM trap exits with its own code at once;
// stop of an exited container is fine.
func TestLifecycleStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "deaf", "busybox", "sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.1; done`)
	e.lcRunDetached("--name", "trap", "busybox", "sh", "-c", `trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done`)
	pid := e.lcInspect("deaf").State.Pid
	// Signal only once the shells have set their traps.
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "deaf") == "ready" && e.ok("logs", "trap") == "ready" }) {
		t.Fatal("the shells never became ready")
	}

	begin := time.Now()
	if out := e.ok("stop", "-t", "1", "deaf"); out != "deaf" {
		t.Errorf("stop prints %q, want the argument as given (deaf)", out)
	}
	if took := time.Since(begin); took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("stop -t 1 of a TERM-ignoring shell took %s, want about 1 s", took)
	}
	d := e.lcInspect("deaf")
	if d.State.Running || d.State.Status != "exited" || d.State.ExitCode != 137 || d.State.Pid != 0 {
		t.Errorf("after stop -t 1: %+v, want exited 137, Pid 0", d.State)
	}
	if lcAlive(pid) {
		t.Errorf("container process %d alive after stop", pid)
	}
	_, rows := e.lcPs("-a")
	if row := lcFind(rows, d.ID[:12]); row == nil || !regexp.MustCompile(`^Exited \(137\) `).MatchString(row[4]) {
		t.Errorf("ps -a after stop: %q, want Exited (137)", row)
	}

	begin = time.Now()
	e.ok("stop", "-t", "10", "trap")
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("stop of a shell that exits on TERM took %s", took)
	}
	if d := e.lcInspect("trap"); d.State.Running || d.State.ExitCode != 7 {
		t.Errorf("after stop of a TERM trap: %+v, want exited 7", d.State)
	}
	if out := e.ok("logs", "trap"); out != "ready\ngot-term" {
		t.Errorf("logs of the trap = %q", out)
	}

	// Stopping what is already stopped is not an error (as Docker); nor for several.
	if out := e.ok("stop", "deaf", "trap"); out != "deaf\ntrap" {
		t.Errorf("stop of exited containers prints %q", out)
	}
	if d := e.lcInspect("deaf"); d.State.ExitCode != 137 {
		t.Errorf("second stop changed the exit code to %d", d.State.ExitCode)
	}
	// Default pid 1 without a handler: SIGTERM does nothing, the default -t 10
	// would be long; -t 0 kills at once.
	e.lcRunDetached("--name", "plain", "busybox", "sleep", "100")
	begin = time.Now()
	e.ok("stop", "-t", "0", "plain")
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("stop -t 0 took %s", took)
	}
	if d := e.lcInspect("plain"); d.State.Running || d.State.ExitCode != 137 {
		t.Errorf("after stop -t 0: %+v", d.State)
	}
}

// TestLifecycleKill: kill sends SIGKILL by default, or the signal -s names;
// killing a stopped container is an error.
func TestLifecycleKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "k", "busybox", "sh", "-c",
		`trap "echo got-usr1" USR1; trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done`)
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "k") == "ready" }) {
		t.Fatal("container never became ready")
	}
	if out := e.ok("kill", "-s", "USR1", "k"); out != "k" {
		t.Errorf("kill prints %q, want k", out)
	}
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "k") == "ready\ngot-usr1" }) {
		t.Errorf("after kill -s USR1: logs %q, want got-usr1", e.ok("logs", "k"))
	}
	if !e.lcInspect("k").State.Running {
		t.Fatal("USR1 (trapped) stopped the container")
	}
	// Long flag with SIG prefix, then a number (USR1 is 10 on x86 and arm);
	// one at a time, as standard signals do not queue.
	for i, sig := range []string{"SIGUSR1", "10"} {
		e.ok("kill", "--signal", sig, "k")
		if !lcWaitUntil(5*time.Second, func() bool { return strings.Count(e.ok("logs", "k"), "got-usr1") == i+2 }) {
			t.Errorf("after kill --signal %s: logs %q", sig, e.ok("logs", "k"))
		}
	}
	e.ok("kill", "-s", "TERM", "k")
	d := e.lcWaitExited("k", 5*time.Second)
	if d.State.ExitCode != 9 || !strings.HasSuffix(e.ok("logs", "k"), "got-term") {
		t.Errorf("after kill -s TERM: exit %d, logs %q; want 9 and got-term", d.State.ExitCode, e.ok("logs", "k"))
	}
	e.fails(1, "k", "kill", "k")
	e.fails(1, "k", "kill", "-s", "TERM", "k")

	// Default: SIGKILL, even for a process that ignores everything else.
	e.lcRunDetached("--name", "k2", "busybox", "sh", "-c", `trap "" TERM INT USR1; while :; do sleep 0.1; done`)
	pid := e.lcInspect("k2").State.Pid
	e.ok("kill", "k2")
	d = e.lcWaitExited("k2", 5*time.Second)
	if d.State.ExitCode != 137 || lcAlive(pid) {
		t.Errorf("after kill: exit %d (want 137), pid alive %v", d.State.ExitCode, lcAlive(pid))
	}
	e.fails(1, "BOGUS", "kill", "-s", "BOGUS", "k2")
}

// TestLifecycleStartWait: start runs a stopped container again (same id,
// new StartedAt, logs appended); wait prints the exit code.
func TestLifecycleStartWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "s", "busybox", "sh", "-c", `echo run; sleep 100`)
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "s") == "run" }) {
		t.Fatalf("logs = %q", e.ok("logs", "s"))
	}
	first := e.lcInspect("s")
	e.ok("kill", "s")
	if out := e.ok("wait", "s"); out != "137" {
		t.Errorf("wait on a killed container = %q, want 137", out)
	}
	exited := e.lcInspect("s")

	if out := e.ok("start", "s"); out != "s" {
		t.Errorf("start prints %q, want s", out)
	}
	// Running as soon as start returns.
	d := e.lcInspect("s")
	if !d.State.Running || d.ID != id || !lcAlive(d.State.Pid) || d.State.Pid == first.State.Pid {
		t.Errorf("after start: id %s running %v pid %d (before %d)", d.ID, d.State.Running, d.State.Pid, first.State.Pid)
	}
	if !d.State.StartedAt.After(first.State.StartedAt) || !d.State.StartedAt.After(exited.State.FinishedAt.Add(-time.Millisecond)) {
		t.Errorf("StartedAt %s not after the first start %s and the exit %s", d.State.StartedAt, first.State.StartedAt, exited.State.FinishedAt)
	}
	if ids := lcLines(e.ok("ps", "-q")); len(ids) != 1 || ids[0] != id[:12] {
		t.Errorf("ps -q after start = %q", ids)
	}
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "s") == "run\nrun" }) {
		t.Errorf("logs after start = %q, want run twice", e.ok("logs", "s"))
	}
	// start of a running container is a no-op.
	e.ok("start", "s")
	if d2 := e.lcInspect("s"); d2.State.Pid != d.State.Pid {
		t.Errorf("start of a running container changed its pid %d -> %d", d.State.Pid, d2.State.Pid)
	}
	e.ok("kill", "s")

	// wait blocks until the exit and prints its code.
	e.lcRunDetached("--name", "w", "busybox", "sh", "-c", "sleep 0.5; exit 5")
	begin := time.Now()
	if out := e.ok("wait", "w"); out != "5" {
		t.Errorf("wait = %q, want 5", out)
	}
	if took := time.Since(begin); took < 300*time.Millisecond {
		t.Errorf("wait returned after %s, before the container exited", took)
	}
	// Several, and an exited one returns at once.
	if out := e.ok("wait", "w", "s"); out != "5\n137" {
		t.Errorf("wait w s = %q, want 5 and 137", out)
	}
	// A container started again exits with its new code.
	e.ok("start", "w")
	if out := e.ok("wait", "w"); out != "5" {
		t.Errorf("wait after start = %q", out)
	}
	if out := e.ok("logs", "w"); out != "" {
		t.Errorf("logs of w = %q", out)
	}
}
