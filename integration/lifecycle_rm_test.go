//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLifecycleRm: rm refuses a running container without -f and leaves it
// alone; rm -f kills it and frees everything; rm takes several containers.
func TestLifecycleRm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "busy", "busybox", "sleep", "100")
	pid := e.lcInspect("busy").State.Pid
	mons := lcSettledMonitorPids(id)
	if len(mons) != 1 {
		t.Fatalf("monitor processes of %s: %v, want one", id, mons)
	}

	e.fails(1, "busy", "rm", "busy")
	d := e.lcInspect("busy")
	if !d.State.Running || d.State.Pid != pid || !lcAlive(pid) || !lcAlive(mons[0]) {
		t.Errorf("rm without -f touched the running container: %+v", d.State)
	}
	if out := e.ok("exec", "busy", "echo", "still"); out != "still" {
		t.Errorf("exec after a refused rm = %q", out)
	}

	if out := e.ok("rm", "-f", "busy"); out != "busy" {
		t.Errorf("rm -f prints %q, want busy", out)
	}
	if lcAlive(pid) || lcAlive(mons[0]) || len(lcMonitorPids(id)) != 0 {
		t.Errorf("after rm -f: container pid alive %v, monitor alive %v", lcAlive(pid), lcAlive(mons[0]))
	}
	if dirs := lcCgroupDirs(id); len(dirs) != 0 {
		t.Errorf("after rm -f: cgroups left %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(e.root, "containers", id)); !os.IsNotExist(err) {
		t.Errorf("after rm -f: state dir: %v", err)
	}
	if out := e.ok("ps", "-aq"); out != "" {
		t.Errorf("ps -aq after rm -f = %q", out)
	}
	e.fails(1, "busy", "inspect", "busy")
	// The name is free again.
	e.lcRunDetached("--name", "busy", "busybox", "true")

	// Several at once, by name, short id and full id, running and exited.
	a := e.lcRunDetached("--name", "a", "busybox", "sleep", "100")
	b := e.lcRunDetached("--name", "b", "busybox", "true")
	e.ok("wait", "b")
	e.ok("wait", "busy")
	if out := e.ok("rm", "busy", b[:12]); out != "busy\n"+b[:12] {
		t.Errorf("rm busy %s prints %q", b[:12], out)
	}
	// One of several failing: the others are still removed, exit 1.
	r := e.run("rm", "-f", "nosuch", a)
	if r.code != 1 || r.stdout != a+"\n" {
		t.Errorf("rm -f nosuch %s: %s, want exit 1 and %s removed", a[:12], r, a[:12])
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left after rm: %v", ids)
	}
	if dirs := lcCgroupDirs(a); len(dirs) != 0 {
		t.Errorf("cgroups of a left: %v", dirs)
	}
	e.fails(1, "needs", "rm")
}
