//go:build integration

package integration

import (
	"sync"
	"testing"
	"time"
)

// TestLifecycleStartParallel: several `start` of one stopped container at
// once give one running container: one monitor, one process.
func TestLifecycleStartParallel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "s", "busybox", "sleep", "100")
	e.ok("kill", "s")
	e.ok("wait", "s")

	var wg sync.WaitGroup
	results := make([]result, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run("start", "s")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("parallel start %d: %s", i, r)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if mons := lcSettledMonitorPids(id); len(mons) != 1 {
		t.Errorf("after 6 parallel starts: %d monitors %v, want 1", len(mons), mons)
	}
	if procs := lcCgroupProcs(id); len(procs) != 1 {
		t.Errorf("after 6 parallel starts: %d processes in the container's cgroup %v, want 1", len(procs), procs)
	}
	if d := e.lcInspect("s"); !d.State.Running || !lcAlive(d.State.Pid) {
		t.Errorf("after parallel starts: %+v", d.State)
	}
}

// TestLifecycleKillThenStart: kill (SIGKILL) returns once the container has
// stopped, as Docker's does, so a start right after runs it again.
func TestLifecycleKillThenStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "ks", "busybox", "sleep", "100")
	for i := 0; i < 5; i++ {
		e.ok("kill", "ks")
		if d := e.lcInspect("ks"); d.State.Running {
			t.Errorf("round %d: inspect right after kill says Running (pid %d alive %v)", i, d.State.Pid, lcAlive(d.State.Pid))
		}
		e.ok("start", "ks")
		time.Sleep(100 * time.Millisecond)
		if d := e.lcInspect("ks"); !d.State.Running || !lcAlive(d.State.Pid) {
			t.Fatalf("round %d: kill then start left the container %s (exit %d)", i, d.State.Status, d.State.ExitCode)
		}
	}
}

// TestLifecycleWaitAutoRemove: wait on a --rm container prints its exit code
// (Docker's `docker wait` does), though the container is gone afterwards.
func TestLifecycleWaitAutoRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--rm", "--name", "wr", "busybox", "sh", "-c", "sleep 0.5; exit 4")
	r := e.run("wait", "wr")
	if r.code != 0 || r.stdout != "4\n" {
		t.Errorf("wait on a --rm container: %s, want 4", r)
	}
	if !lcWaitUntil(2*time.Second, func() bool { return len(e.ids()) == 0 }) {
		t.Errorf("--rm container left: %v", e.ids())
	}
}
