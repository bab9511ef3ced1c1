//go:build integration

package integration

// config.md's process.scheduler (sched_setattr) and process.ioPriority
// (ioprio_set), for the container's process and for an exec's.

import (
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const schedWhy = "runc 1.1.5 ignores process.scheduler and process.ioPriority (runc 1.2 has them)"

// schedScript prints the shell's own /proc stat line (read, a builtin: no
// fork, which a SCHED_DEADLINE process may not do) and its I/O priority.
const schedScript = `read -r l < /proc/$$/stat; echo "$l"; ionice -p $$`

// ociStat is the 1-based field n of a /proc/PID/stat line.
func ociStat(t *testing.T, line string, n int) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < n-2 {
		t.Fatalf("not a stat line: %q", line)
	}
	return f[n-3]
}

// wantSched checks policy (stat's field 41), rt priority (40), nice (19)
// and ionice's line.
func wantSched(policy, prio, nice, ionice string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		l := runLines(out)
		if len(l) < 2 {
			t.Fatalf("output %q: want a stat line and ionice's", out)
		}
		if got := ociStat(t, l[0], 41); got != policy {
			t.Errorf("policy %s, want %s", got, policy)
		}
		if got := ociStat(t, l[0], 40); got != prio {
			t.Errorf("rt priority %s, want %s", got, prio)
		}
		if got := ociStat(t, l[0], 19); got != nice {
			t.Errorf("nice %s, want %s", got, nice)
		}
		if ionice != "" && l[1] != ionice {
			t.Errorf("ionice %q, want %q", l[1], ionice)
		}
	}
}

// withRealtime gives a container a realtime budget where the host has
// realtime group scheduling (cgroup v1's cpu.rt_runtime_us, 0 in a new
// group): SCHED_FIFO and SCHED_RR need one there. Its parent, this suite's
// own group, needs one too to hand it out.
func withRealtime(t *testing.T, s *specs.Spec) {
	t.Helper()
	dir := "/sys/fs/cgroup/cpu" + ociCgroupParent
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"); err != nil {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.rt_runtime_us"), []byte("200000"), 0o644); err != nil {
		t.Fatal(err)
	}
	runtime := int64(10000)
	if s.Linux.Resources.CPU == nil {
		s.Linux.Resources.CPU = &specs.LinuxCPU{}
	}
	s.Linux.Resources.CPU.RealtimeRuntime = &runtime
}

func TestOCIScheduler(t *testing.T) {
	t.Parallel()
	sched := func(s specs.Scheduler) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.Scheduler = &s }
	}
	cases := []ociProcessCase{
		{name: "sched-batch-nice", edit: sched(specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}),
			check: wantSched("3", "0", "7", "")},
		{name: "sched-idle", edit: sched(specs.Scheduler{Policy: specs.SchedIdle}), check: wantSched("5", "0", "0", "")},
		{name: "sched-other-nice", edit: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: -5}),
			check: wantSched("0", "0", "-5", "")},
		{name: "sched-fifo", edit: func(s *specs.Spec) {
			withRealtime(t, s)
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
		}, check: wantSched("1", "10", "0", "")},
		{name: "sched-rr", edit: func(s *specs.Spec) {
			withRealtime(t, s)
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Priority: 42}
		}, check: wantSched("2", "42", "0", "")},
		// The flag's effect: the shell keeps the policy, its child (a
		// subshell, not the last command, which sh would not fork; busybox
		// runs cat in-process) does not.
		{name: "sched-reset-on-fork", script: `read -r l < /proc/$$/stat; echo "$l"; (read -r l < /proc/self/stat; echo "$l"); :`, edit: func(s *specs.Spec) {
			withRealtime(t, s)
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 5,
				Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
		}, check: func(t *testing.T, out string) {
			l := runLines(out)
			if len(l) != 2 {
				t.Fatalf("output %q: want two stat lines", out)
			}
			if a, b := ociStat(t, l[0], 41), ociStat(t, l[1], 41); a != "1" || b != "0" {
				t.Errorf("policies %s (the shell) and %s (its child), want 1 and 0", a, b)
			}
		}},
		{name: "sched-deadline", edit: sched(specs.Scheduler{Policy: specs.SchedDeadline,
			Runtime: 1000000, Deadline: 10000000, Period: 10000000,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}),
			check: wantSched("6", "0", "0", "")},
		{name: "ioprio-be", edit: func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 5}
		}, check: wantSched("0", "0", "0", "best-effort: prio 5")},
		{name: "ioprio-rt", edit: func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 2}
		}, check: wantSched("0", "0", "0", "realtime: prio 2")},
		{name: "ioprio-idle", edit: func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		}, check: wantSched("0", "0", "0", "idle")},
	}
	for i := range cases {
		if cases[i].script == "" {
			cases[i].script = schedScript
		}
		cases[i].skip, cases[i].why = []string{"runc"}, schedWhy
	}
	ociRunCases(t, cases)
}

// An exec's process.scheduler and process.ioPriority (--process) are its
// own: the container's process keeps its own.
func TestOCIExecScheduler(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(schedWhy, "runc")
	spec := shSpec("echo ready; exec sleep 1000")
	spec.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 2}
	c := e.create("exec-sched", spec)
	c.start()
	c.waitOut("ready")
	p := specs.Process{Args: []string{"sh", "-c", schedScript}, Env: []string{"PATH=/bin"}, Cwd: "/",
		Scheduler:  &specs.Scheduler{Policy: specs.SchedIdle},
		IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 1}}
	pf := filepath.Join(e.dir, "process.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	wantSched("5", "0", "0", "best-effort: prio 1")(t, e.ok("exec", "--process", pf, c.id))
	// The container's own: as its spec says.
	st := procFile(t, c.state().Pid, "stat")
	if got := ociStat(t, st, 41); got != "3" {
		t.Errorf("the container's process: policy %s, want 3 (SCHED_BATCH)", got)
	}
	if got := ociStat(t, st, 19); got != "2" {
		t.Errorf("the container's process: nice %s, want 2", got)
	}

	// Bad values: one line of error, nothing run.
	p.Scheduler = &specs.Scheduler{Policy: "SCHED_NO_SUCH"}
	p.Args = []string{"sh", "-c", "echo ran"}
	b, _ = json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.fails("exec", "--process", pf, c.id); strings.Contains(r.stdout, "ran") {
		t.Errorf("exec with a bad scheduler: the process ran")
	}
}

const mempolicyWhy = "runc 1.1.5 ignores linux.memoryPolicy (runc 1.3 has it)"

// linux.memoryPolicy: the container's process runs under it (its first
// mapping's policy in numa_maps, which shows the process's own), and so
// does an exec's. Node 0 is on every NUMA host.
func TestOCIMemoryPolicy(t *testing.T) {
	t.Parallel()
	const script = `read -r l < /proc/$$/numa_maps; set -- $l; echo "$2"`
	mpol := func(mode specs.MemoryPolicyModeType, nodes string) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: mode, Nodes: nodes} }
	}
	cases := []ociProcessCase{
		{name: "mempolicy-bind", edit: mpol(specs.MpolBind, "0"), check: want("bind:0\n")},
		{name: "mempolicy-interleave", edit: mpol(specs.MpolInterleave, "0"), check: want("interleave:0\n")},
		{name: "mempolicy-preferred", edit: mpol(specs.MpolPreferred, "0"), check: want("prefer:0\n")},
		{name: "mempolicy-local", edit: mpol(specs.MpolLocal, ""), check: want("local\n")},
		{name: "mempolicy-unset", check: want("default\n")},
	}
	for i := range cases {
		cases[i].script = script
		cases[i].skip, cases[i].why = []string{"runc"}, mempolicyWhy
	}
	ociRunCases(t, cases)

	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		e := newOCIEnv(t)
		e.skipFor(mempolicyWhy, "runc")
		spec := shSpec("echo ready; exec sleep 1000")
		spec.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0"}
		c := e.create("mempolicy-exec", spec)
		c.start()
		c.waitOut("ready")
		if got := e.ok("exec", c.id, "sh", "-c", script); got != "interleave:0\n" {
			t.Errorf("exec's policy %q, want interleave:0", got)
		}
	})
}

// process.execCPUAffinity: an exec's process runs on its final CPUs (the
// container's own process is not touched); config.json's is the default
// of an exec without --process.
func TestOCIExecCPUAffinity(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor("runc 1.1.5 has no execCPUAffinity (runc 1.2 does)", "runc")
	if goruntime.NumCPU() < 2 {
		t.Skip("one CPU: any process runs on CPU 0 alone")
	}
	spec := shSpec("echo ready; exec sleep 1000")
	spec.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"}
	c := e.create("exec-affinity", spec)
	c.start()
	c.waitOut("ready")
	const script = "grep Cpus_allowed_list /proc/self/status"
	if own, host := ociStatus(procFile(t, c.state().Pid, "status"), "Cpus_allowed_list"),
		ociStatus(readFile("/proc/self/status"), "Cpus_allowed_list"); own != host {
		t.Errorf("the container's process runs on CPUs %s, want the runtime's %s (execCPUAffinity is not its)", own, host)
	}
	if got := ociStatus(e.ok("exec", c.id, "sh", "-c", script), "Cpus_allowed_list"); got != "0" {
		t.Errorf("exec: CPUs %q, want config.json's execCPUAffinity 0", got)
	}
	p := specs.Process{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}, Cwd: "/",
		ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "0"}}
	pf := filepath.Join(e.dir, "process.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ociStatus(e.ok("exec", "--process", pf, c.id), "Cpus_allowed_list"); got != "0" {
		t.Errorf("exec --process: CPUs %q, want 0", got)
	}
	p.ExecCPUAffinity = &specs.CPUAffinity{Final: "0-x"}
	b, _ = json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails("exec", "--process", pf, c.id)
}
