//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A detached container's idle monitor is the C shim: one thread, no Go
// runtime, and it still logs both streams and records the exit.
func TestDetachedMonitorIsShim(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "-d", "--name", "s", "busybox", "sh", "-c", "echo out; echo err >&2; sleep 1; exit 6")
	e.ok("run", "-di", "--name", "i", "busybox", "sh", "-c", "read x; exit 6")
	for _, name := range []string{"s", "i"} {
		mon := monitorPid(t, e, name)
		status, err := os.ReadFile(filepath.Join("/proc", mon, "status"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(status), "\nThreads:\t1\n") {
			t.Errorf("%s: idle monitor %s is not the single-threaded shim:\n%s", name, mon, status)
		}
	}
	// The -di one waits for input that never comes (its stdin is held open).
	if code := e.ok("wait", "s"); code != "6" {
		t.Errorf("wait s = %q, want 6", code)
	}
	r := e.run("logs", "s")
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("logs s: %s", r)
	}
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(e.ok("ps"), " i\n") && !strings.HasSuffix(e.ok("ps"), " i") {
		t.Errorf("-di container stopped although its stdin is held open:\n%s", e.ok("ps", "-a"))
	}
	e.ok("kill", "i")
	if code := e.ok("wait", "i"); code != "137" {
		t.Errorf("wait i = %q, want 137", code)
	}
}

// monitorPid finds the monitor of a container by its command line.
func monitorPid(t *testing.T, e *env, name string) string {
	t.Helper()
	full := e.ok("inspect", name)
	i := strings.Index(full, `"Id": "`)
	id := full[i+7 : i+7+64]
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "_monitor\x00"+e.root+"\x00"+id) {
			return filepath.Base(filepath.Dir(p))
		}
	}
	t.Fatalf("no monitor for %s", name)
	return ""
}
