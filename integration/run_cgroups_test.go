//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runReadCgroup returns a trimmed cgroup file of the host.
func runReadCgroup(t *testing.T, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"/sys/fs/cgroup"}, parts...)...))
	if err != nil {
		t.Errorf("%v", err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// -m, --cpus and --pids-limit are written to the container's own cgroup
// (v1 controllers on this hybrid host), and the container's process is in
// that cgroup in every hierarchy; rm removes the groups.
func TestRunCgroupLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.ok("run", "-d", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "busybox", "sleep", "30")
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a full id", id)
	}
	pid := e.runPid(id)
	group := "/hutch/" + id
	if got := runReadCgroup(t, "memory", group, "memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %q, want 67108864", got)
	}
	quota := runReadCgroup(t, "cpu", group, "cpu.cfs_quota_us")
	period := runReadCgroup(t, "cpu", group, "cpu.cfs_period_us")
	if quota != "50000" || period != "100000" {
		t.Errorf("cpu.cfs_quota_us/period = %s/%s, want 50000/100000", quota, period)
	}
	if got := runReadCgroup(t, "pids", group, "pids.max"); got != "20" {
		t.Errorf("pids.max = %q, want 20", got)
	}
	cg := runProcCgroups(t, pid)
	for _, ctl := range []string{"memory", "cpu", "pids", "cpuacct", "blkio", "devices", "freezer", "cpuset", ""} {
		if _, ok := cg[ctl]; !ok {
			continue // not mounted on this host
		}
		if cg[ctl] != group {
			t.Errorf("process %d is in %s cgroup %q, want %s", pid, ctl, cg[ctl], group)
		}
	}
	for _, ctl := range []string{"memory", "cpu", "pids"} {
		if cg[ctl] != group {
			t.Errorf("process %d is in %s cgroup %q, want %s", pid, ctl, cg[ctl], group)
		}
		procs := runReadCgroup(t, ctl, group, "cgroup.procs")
		if !strings.Contains("\n"+procs+"\n", "\n"+strconv.Itoa(pid)+"\n") {
			t.Errorf("%s%s/cgroup.procs = %q, want pid %d in it", ctl, group, procs, pid)
		}
	}

	// Without limits the group exists and has none.
	id2 := e.ok("run", "-d", "busybox", "sleep", "30")
	if got := runReadCgroup(t, "pids", "hutch", id2, "pids.max"); got != "max" {
		t.Errorf("no --pids-limit: pids.max = %q, want max", got)
	}
	if got := runReadCgroup(t, "cpu", "hutch", id2, "cpu.cfs_quota_us"); got != "-1" {
		t.Errorf("no --cpus: cpu.cfs_quota_us = %q, want -1", got)
	}
	e.ok("rm", "-f", id, id2)
	for _, ctl := range []string{"memory", "cpu", "pids", "unified"} {
		for _, i := range []string{id, id2} {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", ctl, "hutch", i)); !os.IsNotExist(err) {
				t.Errorf("after rm -f: cgroup %s/hutch/%s still there (err %v)", ctl, i, err)
			}
		}
	}
}

// --pids-limit stops a fork loop; without it the same loop runs.
func TestRunPidsLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `for i in $(seq 50); do sleep 5 & done; echo started`
	r := e.run("run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c", script)
	if r.code == 0 || !strings.Contains(r.stderr, "can't fork") || strings.Contains(r.stdout, "started") {
		t.Errorf("50 processes under --pids-limit 20: %s, want a fork failure", r)
	}
	// The same without a limit starts them all (and pid 1 exiting ends them).
	if got := e.runSh(script + `; for i in $(seq 50); do n=$(ps -o comm | grep -cx sleep); [ $n -ge 50 ] && break; sleep 0.1; done; echo $n`); got != "started\n50" {
		t.Errorf("50 processes without a limit: %q, want all started", got)
	}
}

// --pids-limit 0 and -1 mean unlimited, as Docker's.
func TestRunPidsLimitUnlimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, v := range []string{"0", "-1"} {
		r := e.run("run", "-d", "--pids-limit", v, "busybox", "sleep", "30")
		if r.code != 0 {
			t.Errorf("--pids-limit %s: %s, want unlimited", v, r)
			continue
		}
		id := strings.TrimSpace(r.stdout)
		if got := runReadCgroup(t, "pids", "hutch", id, "pids.max"); got != "max" {
			t.Errorf("--pids-limit %s: pids.max = %q, want max", v, got)
		}
		e.ok("rm", "-f", id)
	}
}

// -m is enforced: a process that allocates more is killed by the OOM
// killer, exit 137, and inspect says OOMKilled.
func TestRunMemoryLimitEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alloc := `BEGIN { s = sprintf("%64000000s", ""); print length(s) }`
	if got := e.ok("run", "--rm", "busybox", "awk", alloc); got != "64000000" {
		t.Fatalf("64 MB string without a limit: %q", got)
	}
	r := e.run("run", "--name", "oom", "-m", "16m", "busybox", "awk", alloc)
	if r.code != 137 || strings.Contains(r.stdout, "64000000") {
		t.Errorf("64 MB string under -m 16m: %s, want exit 137 (OOM kill)", r)
	}
	st, _ := e.runInspect("oom")["State"].(map[string]any)
	if st["OOMKilled"] != true || st["ExitCode"] != float64(137) {
		t.Errorf("inspect after an OOM kill: State %v, want OOMKilled true, ExitCode 137", st)
	}
}
