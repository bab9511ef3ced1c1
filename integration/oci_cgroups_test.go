//go:build integration

package integration

// config-linux.md's control groups: cgroupsPath and resources, as the host
// and the container see them; update, pause and resume.

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ociCgroupRead reads file (v1) or v2file (v2) of controller ctl of pid's
// cgroup.
func ociCgroupRead(t *testing.T, pid int, ctl, file, v2file string) string {
	t.Helper()
	cg := runProcCgroups(t, pid)
	var path string
	if p, ok := cg[ctl]; ok {
		path = filepath.Join("/sys/fs/cgroup", ctl, p, file)
	} else if p, ok := cg[""]; ok && v2file != "" {
		path = filepath.Join("/sys/fs/cgroup", p, v2file)
	} else {
		t.Fatalf("pid %d has no %s cgroup: %v", pid, ctl, cg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// An absolute cgroupsPath is relative to the cgroup mounts; resources land
// in its files, which the container sees as its own.
func TestOCICgroups(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := shSpec(`cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max
cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
echo ready; exec sleep 1000`)
	limit, pids, quota, period, shares := int64(64<<20), int64(10), int64(50000), uint64(100000), uint64(512)
	spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	spec.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares}
	c := e.create("cg", spec)
	pid := c.state().Pid
	cg := runProcCgroups(t, pid)
	for _, ctl := range []string{"memory", "pids", "cpu", "freezer", "devices"} {
		if p, ok := cg[ctl]; ok && p != spec.Linux.CgroupsPath {
			t.Errorf("%s cgroup %q, want cgroupsPath %q", ctl, p, spec.Linux.CgroupsPath)
		}
	}
	if p, ok := cg[""]; ok && len(cg) == 1 && p != spec.Linux.CgroupsPath {
		t.Errorf("cgroup %q, want cgroupsPath %q", p, spec.Linux.CgroupsPath)
	}
	for _, f := range []struct{ ctl, v1, v2, want string }{
		{"memory", "memory.limit_in_bytes", "memory.max", "67108864"},
		{"pids", "pids.max", "pids.max", "10"},
		{"cpu", "cpu.cfs_quota_us", "", "50000"},
		{"cpu", "cpu.cfs_period_us", "", "100000"},
		{"cpu", "cpu.shares", "", "512"},
	} {
		if got := ociCgroupRead(t, pid, f.ctl, f.v1, f.v2); got != f.want {
			t.Errorf("%s: %q, want %q", f.v1, got, f.want)
		}
	}
	c.start()
	c.waitOut("ready")
	if got := c.out(); got != "67108864\n10\nready\n" {
		t.Errorf("container's own memory and pids limits %q, want 67108864 and 10", got)
	}

	// update --resources changes them in place.
	newLimit, newPids := int64(32<<20), int64(20)
	res, _ := json.Marshal(specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &newLimit}, Pids: &specs.LinuxPids{Limit: &newPids}})
	rf := filepath.Join(e.dir, "res.json")
	if err := os.WriteFile(rf, res, 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("update", "--resources", rf, c.id)
	if got := ociCgroupRead(t, pid, "memory", "memory.limit_in_bytes", "memory.max"); got != "33554432" {
		t.Errorf("memory limit after update %q, want 33554432", got)
	}
	if got := ociCgroupRead(t, pid, "pids", "pids.max", "pids.max"); got != "20" {
		t.Errorf("pids limit after update %q, want 20", got)
	}
}

// pause freezes every process of the container (state "paused"); resume
// thaws them.
func TestOCIPauseResume(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("pause", shSpec("while :; do echo tick; sleep 0.02; done"))
	e.fails("resume", c.id) // not paused
	c.start()
	c.waitOut("tick")
	pid := c.state().Pid
	e.ok("pause", c.id)
	if st := c.state(); st.Status != "paused" {
		t.Errorf("state after pause %q, want paused", st.Status)
	}
	if got := ociCgroupRead(t, pid, "freezer", "freezer.state", "cgroup.freeze"); got != "FROZEN" && got != "1" {
		t.Errorf("freezer state %q, want frozen", got)
	}
	// Frozen: the output stops growing (the process cannot run to write).
	n := len(c.out())
	e.fails("pause", c.id) // already paused
	if len(c.out()) != n {
		t.Errorf("a paused container wrote output")
	}
	e.ok("resume", c.id)
	if st := c.state(); st.Status != specs.StateRunning {
		t.Errorf("state after resume %q, want running", st.Status)
	}
	runWaitFor(t, 10*time.Second, "output after resume", func() bool { return len(c.out()) > n })
	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	e.fails("pause", c.id) // stopped
	c.delete()
}

// A relative cgroupsPath is placed where the runtime chooses, ending in
// it, and the same value gives the same place each time; delete removes it.
func TestOCICgroupsPathRelative(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	relParent := strings.TrimPrefix(ociCgroupParent, "/") + "-rel"
	rel := relParent + "/" + e.tag
	var first map[string]string
	parents := map[string]bool{} // where the runtime made relParent, per hierarchy
	for _, name := range []string{"rel1", "rel2"} {
		spec := shSpec("exec sleep 1000")
		spec.Linux.CgroupsPath = rel
		c := e.create(name, spec)
		cg := runProcCgroups(t, c.state().Pid)
		for ctl, p := range cg {
			// On a hybrid host the v2 hierarchy ("") has no controllers:
			// a runtime need not join it there.
			if ctl == "" && len(cg) > 1 {
				continue
			}
			if !strings.HasSuffix(p, "/"+rel) {
				t.Errorf("%s cgroup %q, want one ending in the relative cgroupsPath %q", ctl, p, rel)
				continue
			}
			parents[strings.TrimSuffix(p, "/"+e.tag)] = true
		}
		if first == nil {
			first = cg
		} else if !maps.Equal(first, cg) {
			t.Errorf("the same cgroupsPath gave %v, then %v", first, cg)
		}
		c.delete("--force")
		for _, p := range cg {
			if m, _ := filepath.Glob("/sys/fs/cgroup/*" + p); len(m) > 0 {
				t.Errorf("after delete: cgroup %v left", m)
			}
		}
	}
	// relParent is the test's to remove (the runtime made it for the test).
	for p := range parents {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + p)
		for _, d := range dirs {
			var err error
			for i := 0; i < 50; i++ {
				if err = os.Remove(d); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil && !os.IsNotExist(err) {
				t.Errorf("cleanup: %v", err)
			}
		}
	}
}
