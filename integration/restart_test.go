//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rsState is what the restart tests read: inspect's view and the record's monitor.
type rsState struct {
	Status       string
	Running      bool
	Restarting   bool
	Pid          int
	ExitCode     int
	RestartCount int
	Policy       string
	MaxRetries   int
	MonitorPid   int // from state.json: 0 once nothing will restart it
}

func (e *env) rsState(ref string) rsState {
	e.t.Helper()
	var ds []struct {
		ID    string `json:"Id"`
		State struct {
			Status              string
			Running, Restarting bool
			Pid, ExitCode       int
		}
		RestartCount int
		HostConfig   struct {
			RestartPolicy struct {
				Name              string
				MaximumRetryCount int
			}
		}
	}
	out := e.ok("inspect", ref)
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
		e.t.Fatalf("inspect %s: %v: %s", ref, err, out)
	}
	d := ds[0]
	var rec struct{ MonitorPid int }
	b, err := os.ReadFile(filepath.Join(e.root, "containers", d.ID, "state.json"))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		e.t.Fatalf("state.json of %s: %v", ref, err)
	}
	return rsState{d.State.Status, d.State.Running, d.State.Restarting, d.State.Pid, d.State.ExitCode,
		d.RestartCount, d.HostConfig.RestartPolicy.Name, d.HostConfig.RestartPolicy.MaximumRetryCount, rec.MonitorPid}
}

// rsIP is inspect's NetworkSettings.IPAddress.
func (e *env) rsIP(ref string) string {
	e.t.Helper()
	ns, _ := e.runInspect(ref)["NetworkSettings"].(map[string]any)
	ip, _ := ns["IPAddress"].(string)
	return ip
}

// rsWait waits (bounded) until cond holds for ref's state and returns it.
func (e *env) rsWait(ref, what string, cond func(rsState) bool) rsState {
	e.t.Helper()
	var st rsState
	if !lcWaitUntil(30*time.Second, func() bool { st = e.rsState(ref); return cond(st) }) {
		e.t.Fatalf("%s: never %s: %+v", ref, what, st)
	}
	return st
}

// TestRestartLoop: an exit-1 command under --restart always restarts with
// Docker's back-off (100 ms, doubling: each gap between runs at least that),
// ps says "Restarting (1) ..." meanwhile, and stop ends the loop; on-failure:2
// stops after two restarts; on-failure does not restart an exit 0; a
// foreground run returns its code and the restarts go on detached.
func TestRestartLoop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "loop", "--restart", "always", "--network", "none", "busybox", "sh", "-c", "echo run; exit 1")
	sawRestarting := false
	st := e.rsWait("loop", "restarted 4 times", func(st rsState) bool {
		if !sawRestarting {
			_, rows := e.lcPs() // no -a: a restarting container is listed
			for _, r := range rows {
				if r[len(r)-1] == "loop" && regexp.MustCompile(`^Restarting \(1\) .* ago$`).MatchString(r[4]) {
					sawRestarting = true
				}
			}
		}
		return st.RestartCount >= 4
	})
	if !sawRestarting {
		t.Errorf("ps never showed loop as Restarting (1)")
	}
	if st.Policy != "always" || st.MaxRetries != 0 {
		t.Errorf("HostConfig.RestartPolicy = %q:%d, want always:0", st.Policy, st.MaxRetries)
	}
	e.ok("stop", "loop")
	st = e.rsState("loop")
	if st.Status != "exited" || st.Running || st.Restarting || st.MonitorPid != 0 || st.ExitCode != 1 {
		t.Errorf("after stop: %+v, want exited 1 with no monitor left", st)
	}
	// The back-off: run k+1 starts at least 100ms·2^k after run k.
	var starts []time.Time
	for _, l := range lcLines(e.ok("logs", "-t", "loop")) {
		ts, _, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("logs -t line %q: %v", l, err)
		}
		starts = append(starts, at)
	}
	// As Docker, RestartCount counts a restart once it is decided: a stop in its back-off prevents its run.
	if len(starts) != st.RestartCount+1 && len(starts) != st.RestartCount {
		t.Errorf("%d runs logged, want RestartCount (%d) or one more", len(starts), st.RestartCount)
	}
	for k := 0; k+1 < len(starts); k++ {
		if gap, min := starts[k+1].Sub(starts[k]), 100*time.Millisecond<<k; gap < min {
			t.Errorf("run %d came %s after run %d: the back-off is at least %s", k+1, gap, k, min)
		}
	}

	e.lcRunDetached("--name", "twice", "--restart", "on-failure:2", "--network", "none", "busybox", "sh", "-c", "echo run; exit 3")
	st = e.rsWait("twice", "done", func(st rsState) bool { return st.MonitorPid == 0 && st.Status == "exited" })
	if st.RestartCount != 2 || st.ExitCode != 3 || st.Policy != "on-failure" || st.MaxRetries != 2 {
		t.Errorf("on-failure:2 ended as %+v, want 2 restarts, exit 3", st)
	}
	if out := e.ok("logs", "twice"); out != "run\nrun\nrun" {
		t.Errorf("on-failure:2 logs %q, want three runs", out)
	}

	// wait returns at a run's exit, with its code, while the loop goes on (Docker's).
	e.lcRunDetached("--name", "waited", "--restart", "always", "--network", "none", "busybox", "sh", "-c", "sleep 0.3; exit 5")
	if out := e.ok("wait", "waited"); out != "5" {
		t.Errorf("wait under --restart always printed %q, want 5", out)
	}
	if st := e.rsState("waited"); st.MonitorPid == 0 {
		t.Errorf("after wait: %+v, want the loop still going", st)
	}
	e.ok("stop", "waited")

	// rm -f during a back-off ends the loop and removes the container.
	id := e.lcRunDetached("--name", "rmme", "--restart", "always", "--network", "none", "busybox", "sh", "-c", "exit 1")
	st = e.rsWait("rmme", "in a back-off", func(st rsState) bool { return st.Restarting && st.RestartCount >= 2 })
	mon := st.MonitorPid
	e.ok("rm", "-f", "rmme")
	if r := e.run("inspect", "rmme"); r.code == 0 || lcAlive(mon) || len(lcCgroupDirs(id)) != 0 {
		t.Errorf("after rm -f in a back-off: inspect %s, monitor %d alive %v, cgroups %v", r, mon, lcAlive(mon), lcCgroupDirs(id))
	}

	e.lcRunDetached("--name", "fine", "--restart", "on-failure", "--network", "none", "busybox", "true")
	st = e.rsWait("fine", "done", func(st rsState) bool { return st.MonitorPid == 0 && st.Status == "exited" })
	if st.RestartCount != 0 || st.ExitCode != 0 {
		t.Errorf("on-failure after exit 0: %+v, want no restart", st)
	}

	r := e.run("run", "--name", "fg", "--restart", "on-failure:1", "--network", "none", "busybox", "sh", "-c", "echo fg; exit 4")
	if r.code != 4 || r.stdout != "fg\n" {
		t.Errorf("foreground run --restart on-failure:1: %s, want exit 4 and one fg", r)
	}
	st = e.rsWait("fg", "done", func(st rsState) bool { return st.MonitorPid == 0 && st.Status == "exited" })
	if st.RestartCount != 1 || st.ExitCode != 4 {
		t.Errorf("foreground on-failure:1 ended as %+v, want 1 restart, exit 4", st)
	}
	if out := e.ok("logs", "fg"); out != "fg\nfg" {
		t.Errorf("foreground on-failure:1 logs %q, want two runs", out)
	}
}

// TestRestartAfterHostKill: --restart always starts the container again
// when its process is killed from the host, with its address and published
// port; hutch kill ends the loop; start --all-restartable starts "always"
// whatever stopped it and "unless-stopped" unless a user did, as Docker's
// daemon at its start (here after the monitors died as at a reboot).
func TestRestartAfterHostKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "web", "--restart", "always", "-p", "127.0.0.1::80", "busybox", "sh", "-c", "echo up; exec sleep 1000")
	ip := e.rsIP("web")
	pid := e.rsState("web").Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := e.rsWait("web", "running again", func(st rsState) bool { return st.Running && !st.Restarting && st.Pid != pid })
	if st.RestartCount != 1 {
		t.Errorf("after a host kill: %+v, want RestartCount 1", st)
	}
	if got := e.rsIP("web"); got != ip || ip == "" {
		t.Errorf("address after the restart %q, want %q", got, ip)
	}
	if port := e.ok("port", "web"); !strings.HasPrefix(port, "80/tcp -> 127.0.0.1:") {
		t.Errorf("port after the restart: %q", port)
	}
	if out := e.ok("logs", "web"); out != "up\nup" {
		t.Errorf("logs after the restart %q, want both runs", out)
	}

	e.ok("kill", "web")
	st = e.rsState("web")
	if st.Status != "exited" || st.MonitorPid != 0 || st.RestartCount != 1 {
		t.Errorf("after hutch kill: %+v, want exited, no monitor, still 1 restart", st)
	}

	e.lcRunDetached("--name", "us-stopped", "--restart", "unless-stopped", "--network", "none", "busybox", "sleep", "1000")
	e.lcRunDetached("--name", "us-crashed", "--restart", "unless-stopped", "--network", "none", "busybox", "sleep", "1000")
	e.lcRunDetached("--name", "of", "--restart", "on-failure", "--network", "none", "busybox", "sleep", "1000")
	e.ok("stop", "-t", "0", "us-stopped")
	// As a reboot does: the monitors die (and their containers with them).
	for _, name := range []string{"us-crashed", "of"} {
		if mon := e.rsState(name).MonitorPid; mon == 0 || syscall.Kill(mon, syscall.SIGKILL) != nil {
			t.Fatalf("kill the monitor of %s (%d)", name, mon)
		}
	}
	for _, name := range []string{"us-crashed", "of"} {
		e.rsWait(name, "exited", func(st rsState) bool { return st.Status == "exited" })
	}
	out := strings.Fields(e.ok("start", "--all-restartable"))
	if strings.Join(out, " ") != "us-crashed web" && strings.Join(out, " ") != "web us-crashed" {
		t.Errorf("start --all-restartable started %q, want web and us-crashed", out)
	}
	for name, want := range map[string]bool{"web": true, "us-crashed": true, "us-stopped": false, "of": false} {
		if st := e.rsState(name); st.Running != want {
			t.Errorf("after start --all-restartable %s: %+v, want running %v", name, st, want)
		}
	}
	e.fails(1, "", "start", "--all-restartable", "web")
}

// TestRestartBadInput: a bad policy, a negative count and --restart with
// --rm fail with one line and 125, leaving no container.
func TestRestartBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--restart", "sometimes"}, "unknown policy 'sometimes'"},
		{[]string{"--restart", "on-failure:-1"}, "maximum retry count cannot be negative"},
		{[]string{"--restart", "on-failure:x"}, "maximum retry count must be an integer"},
		{[]string{"--restart", "always:3"}, "maximum retry count can only be used with 'on-failure'"},
		{[]string{"--rm", "--restart", "always"}, "conflicting options: cannot specify both --restart and --rm"},
	} {
		e.fails(125, c.want, append(append([]string{"run", "-d"}, c.args...), "busybox", "true")...)
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("bad input left containers %v", ids)
	}
}
