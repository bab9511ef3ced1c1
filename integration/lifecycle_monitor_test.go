//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lcKillMonitor SIGKILLs pid (a container's monitor) and checks that the
// container's process dies with it, that the next ps -a shows the container
// exited, and that its cgroups are gone. With autoRemove the container must
// be gone instead.
func lcKillMonitor(t *testing.T, e *env, id string, monitor, ctrPid int, autoRemove bool) {
	t.Helper()
	if err := syscall.Kill(monitor, syscall.SIGKILL); err != nil {
		t.Fatalf("kill monitor %d: %v", monitor, err)
	}
	if !lcWaitUntil(3*time.Second, func() bool { return !lcAlive(ctrPid) }) {
		t.Errorf("container process %d still alive 3 s after its monitor %d was killed", ctrPid, monitor)
	}
	_, rows := e.lcPs("-a")
	row := lcFind(rows, id[:12])
	if autoRemove {
		if row != nil {
			t.Errorf("--rm container still listed by ps -a after its monitor died: %q", row)
		}
		if _, err := os.Stat(filepath.Join(e.root, "containers", id)); !os.IsNotExist(err) {
			t.Errorf("--rm container's state dir after its monitor died: %v", err)
		}
	} else {
		if row == nil || !regexp.MustCompile(`^Exited \(\d+\) `).MatchString(row[4]) {
			t.Errorf("ps -a after the monitor died: %q, want Exited", row)
		}
		if d := e.lcInspect(id); d.State.Running || d.State.Status != "exited" || d.State.Pid != 0 {
			t.Errorf("inspect after the monitor died: %+v", d.State)
		}
		if ids := lcLines(e.ok("ps", "-q")); len(ids) != 0 {
			t.Errorf("ps -q after the monitor died: %q", ids)
		}
	}
	// Reconciling freed the cgroups, without waiting for rm.
	if dirs := lcCgroupDirs(id); len(dirs) != 0 {
		t.Errorf("cgroups left after the monitor died and ps ran: %v", dirs)
	}
	if !autoRemove {
		if out := e.ok("rm", id[:12]); out != id[:12] {
			t.Errorf("rm after the monitor died prints %q", out)
		}
		if ids := e.ids(); len(ids) != 0 {
			t.Errorf("containers left after rm: %v", ids)
		}
	}
}

// TestLifecycleMonitorKilled: killing a detached container's monitor kills
// the container; hutch then shows it exited and frees what it held. Also for
// a command run as another user: changing credentials clears the
// parent-death signal, which the init must set again.
func TestLifecycleMonitorKilled(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		autoRemove bool
		asUser     bool
		flags      []string
	}{{"keep", false, false, nil}, {"autorm", true, false, []string{"--rm"}}, {"asuser", false, true, []string{"-u", "1000:1000"}}} {
		name, autoRemove := c.name, c.autoRemove
		args := append(append([]string{}, c.flags...), "--name", name, "busybox", "sleep", "100")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.lcRunDetached(args...)
			pid := e.lcInspect(id).State.Pid
			mons := lcSettledMonitorPids(id)
			if len(mons) != 1 || !lcAlive(pid) {
				t.Fatalf("monitors %v, container pid %d alive %v", mons, pid, lcAlive(pid))
			}
			// The monitor is the container process's parent.
			if ppid := lcProcStatus(t, strconv.Itoa(pid), "PPid")["PPid"]; ppid != strconv.Itoa(mons[0]) {
				t.Errorf("container pid %d has parent %s, monitor is %d", pid, ppid, mons[0])
			}
			if c.asUser {
				// Nothing else runs that could notice the dead monitor and
				// kill the container: only the parent-death signal can.
				lcKillMonitor(t, e, id, mons[0], pid, autoRemove)
				return
			}
			follow := e.lcStart("logs", "-f", id)
			lcKillMonitor(t, e, id, mons[0], pid, autoRemove)
			// It ends; with --rm the container may be gone before it looks again.
			if code := follow.wait(3 * time.Second); code == -1 || (code != 0 && !autoRemove) {
				t.Errorf("logs -f did not return 0 within 3 s of the monitor's death: %d (stderr %q)", code, follow.stderr.String())
			}
		})
	}
}

// TestLifecycleForegroundKilled: a foreground `hutch run` is the container's
// monitor; SIGKILL on it has the same effect.
func TestLifecycleForegroundKilled(t *testing.T) {
	t.Parallel()
	for _, autoRemove := range []bool{false, true} {
		name := "fgkeep"
		if autoRemove {
			name = "fgautorm"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			args := []string{"run", "--name", name, "busybox", "sleep", "100"}
			if autoRemove {
				args = []string{"run", "--rm", "--name", name, "busybox", "sleep", "100"}
			}
			fg := e.lcStart(args...)
			var d lcInspected
			if !lcWaitUntil(5*time.Second, func() bool {
				r := e.run("inspect", name)
				return r.code == 0 && strings.Contains(r.stdout, `"Running": true`)
			}) {
				t.Fatalf("foreground container never ran; run stderr %q", fg.stderr.String())
			}
			d = e.lcInspect(name)
			if ppid := lcProcStatus(t, strconv.Itoa(d.State.Pid), "PPid")["PPid"]; ppid != strconv.Itoa(fg.cmd.Process.Pid) {
				t.Errorf("container pid %d has parent %s, the foreground hutch is %d", d.State.Pid, ppid, fg.cmd.Process.Pid)
			}
			if mons := lcMonitorPids(d.ID); len(mons) != 0 {
				t.Errorf("a foreground run has a separate monitor: %v", mons)
			}
			lcKillMonitor(t, e, d.ID, fg.cmd.Process.Pid, d.State.Pid, autoRemove)
			if code := fg.wait(2 * time.Second); code != 128+9 {
				t.Errorf("killed foreground hutch: wait status %d", code)
			}
		})
	}
}
