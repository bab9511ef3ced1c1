package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// testParent returns a new top-level group path for a test's groups and,
// when the test ends (after the groups' own cleanups), removes what is
// left of it in every hierarchy, deepest first.
func testParent(t *testing.T, l layout) string {
	t.Helper()
	top := "/" + testID(t)
	t.Cleanup(func() {
		for _, root := range roots(l) {
			tree := subtree(root + top)
			if len(tree) > 0 {
				if err := removeTree(tree); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
		assertNoGroup(t, l, top)
	})
	return top
}

// roots lists the mountpoints of every hierarchy of l.
func roots(l layout) []string {
	var out []string
	for _, h := range l.v1 {
		out = append(out, h.dir)
	}
	if l.v2 != "" {
		out = append(out, l.v2)
	}
	return out
}

// assertNoGroup checks that no hierarchy has a group at path.
func assertNoGroup(t *testing.T, l layout, path string) {
	t.Helper()
	for _, r := range roots(l) {
		if exists(r + path) {
			t.Errorf("group left behind: %s", r+path)
		}
	}
}

// createPathT creates the group at path and deletes it when the test ends.
func createPathT(t *testing.T, l layout, path string, res *specs.LinuxResources) *Cgroup {
	t.Helper()
	cg, err := create(l, path, res)
	if err != nil {
		t.Fatalf("create(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := cg.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		assertNoGroup(t, l, path)
	})
	return cg
}

// Groups at any path: the parents are made (v1 cpusets filled, or a
// process could not join), Delete removes only the leaf.
func TestCreatePath(t *testing.T) {
	l := mustLayout(t)
	top := testParent(t, l)
	a, b := top+"/pod/a", top+"/pod/b"
	res, err := Resources("64m", "0.5", 20)
	if err != nil {
		t.Fatal(err)
	}
	ca := createPathT(t, l, a, res)
	cb := createPathT(t, l, b, nil)
	if ca.Path() != a {
		t.Errorf("Path() = %q, want %q", ca.Path(), a)
	}
	for _, r := range roots(l) {
		for _, p := range []string{a, b} {
			if !exists(r + p) {
				t.Errorf("no group %s", r+p)
			}
		}
	}
	cmd := sleeper(t)
	if err := ca.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	assertMemberPath(t, l, cmd.Process.Pid, a)

	loaded, err := load(l, a)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !slices.Equal(loaded.Dirs(), ca.Dirs()) {
		t.Errorf("loaded dirs %v, want %v", loaded.Dirs(), ca.Dirs())
	}
	if err := loaded.Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertNoGroup(t, l, a)
	for _, r := range roots(l) {
		if !exists(r+b) || !exists(r+top+"/pod") {
			t.Errorf("%s: Delete of a sibling removed %s or its parent", r, b)
		}
	}
	if err := cb.Delete(); err != nil {
		t.Fatal(err)
	}
	for _, r := range roots(l) {
		if !exists(r + top + "/pod") {
			t.Errorf("Delete removed the shared parent %s", r+top+"/pod")
		}
	}
}

func TestCreatePathBad(t *testing.T) {
	l := mustLayout(t)
	for _, p := range []string{"", "/", "relative/x", "/a/../b", "/..", "/a/./b", "/a//b", "/a/", "/a\x00b"} {
		if _, err := create(l, p, nil); err == nil || !strings.Contains(err.Error(), "invalid cgroup path") {
			t.Errorf("create(%q) error = %v, want invalid cgroup path", p, err)
		}
		if _, err := LoadPath(p); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("LoadPath(%q) error = %v, want invalid cgroup path", p, err)
		}
	}
}

// A create that fails leaves nothing: not the group, not the parents it
// made. A limit the host cannot set is refused before anything is made.
func TestCreatePathFails(t *testing.T) {
	l := mustLayout(t)
	quota := int64(10) // the kernel refuses a CFS quota under 1ms
	top := testParent(t, l)
	_, err := create(l, top+"/x/leaf", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &quota}})
	if err == nil || !strings.Contains(err.Error(), "set cpu limit") {
		t.Errorf("create error = %v, want set cpu limit", err)
	}
	assertNoGroup(t, l, top)

	// net_cls is v1's alone: a layout with no v1 hierarchy has it nowhere.
	_, err = create(layout{v2: l.v2}, top+"/leaf", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: new(uint32)}})
	if err == nil || !strings.Contains(err.Error(), "set linux.resources.network.classID: ") {
		t.Errorf("create error = %v, want a refused network.classID", err)
	}
	assertNoGroup(t, l, top)
}

// hugepageSize returns the name of the host's first hugepage size, as the
// hugetlb files name it ("2MB"), "" if it has none.
func hugepageSize() string {
	m, _ := filepath.Glob("/sys/kernel/mm/hugepages/hugepages-*kB")
	if len(m) == 0 {
		return ""
	}
	kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m[0]), "hugepages-"), "kB"))
	if err != nil {
		return ""
	}
	switch {
	case kb%(1<<20) == 0:
		return strconv.Itoa(kb>>20) + "GB"
	case kb%(1<<10) == 0:
		return strconv.Itoa(kb>>10) + "MB"
	}
	return strconv.Itoa(kb) + "KB"
}

// blockDevice returns the major and minor of a block device of the host.
func blockDevice(t *testing.T) specs.LinuxBlockIODevice {
	t.Helper()
	m, _ := filepath.Glob("/sys/block/*/dev")
	if len(m) == 0 {
		t.Fatal("no block device")
	}
	maj, min, _ := strings.Cut(readTrim(t, m[0]), ":")
	a, err1 := strconv.ParseInt(maj, 10, 64)
	b, err2 := strconv.ParseInt(min, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: %q", m[0], readTrim(t, m[0]))
	}
	return specs.LinuxBlockIODevice{Major: a, Minor: b}
}

func ptrTo[T any](v T) *T { return &v }

// Every kind of limit, on this host: written where its controller is (the
// v1 hierarchy, or the v2 group with the controller enabled), or refused,
// naming the field, when the host has the controller nowhere.
func TestResourceKinds(t *testing.T) {
	l := mustLayout(t)
	avail, _ := v2Avail(l.v2)()
	dev := blockDevice(t)
	devs := device(dev)
	page := hugepageSize()
	tests := []struct {
		name   string
		v1, v2 string // the controllers
		res    specs.LinuxResources
		// The lines each file must have, v1's and v2's.
		v1Files, v2Files map[string]string
	}{
		{name: "memory", v1: "memory", v2: "memory",
			res: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptrTo[int64](64 << 20), Reservation: ptrTo[int64](32 << 20),
				Swap: ptrTo[int64](96 << 20), Swappiness: ptrTo[uint64](10), DisableOOMKiller: ptrTo(true),
				Kernel: ptrTo[int64](1 << 20), KernelTCP: ptrTo[int64](1 << 20)}},
			v1Files: map[string]string{"memory.limit_in_bytes": "67108864", "memory.soft_limit_in_bytes": "33554432",
				"memory.memsw.limit_in_bytes": "100663296", "memory.swappiness": "10", "memory.oom_control": "oom_kill_disable 1"},
			v2Files: map[string]string{"memory.max": "67108864", "memory.low": "33554432", "memory.swap.max": "33554432"},
		},
		{name: "cpu", v1: "cpu", v2: "cpu",
			res: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptrTo[uint64](512), Quota: ptrTo[int64](20000), Period: ptrTo[uint64](50000),
				Burst: ptrTo[uint64](1000), RealtimePeriod: ptrTo[uint64](500000), RealtimeRuntime: ptrTo[int64](0)}},
			v1Files: map[string]string{"cpu.shares": "512", "cpu.cfs_quota_us": "20000", "cpu.cfs_period_us": "50000",
				"cpu.cfs_burst_us": "1000", "cpu.rt_period_us": "500000", "cpu.rt_runtime_us": "0"},
		},
		{name: "cpu idle", v1: "cpu", v2: "cpu",
			res:     specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptrTo[int64](1)}},
			v1Files: map[string]string{"cpu.idle": "1"}, v2Files: map[string]string{"cpu.idle": "1"},
		},
		{name: "cpuset", v1: "cpuset", v2: "cpuset",
			res:     specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}},
			v1Files: map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0"}, v2Files: map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0"},
		},
		{name: "pids", v1: "pids", v2: "pids",
			res:     specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptrTo[int64](10)}},
			v1Files: map[string]string{"pids.max": "10"}, v2Files: map[string]string{"pids.max": "10"},
		},
		{name: "blockIO throttles", v1: "blkio", v2: "io",
			res: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 2 << 20}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 200}},
			}},
			v1Files: map[string]string{"blkio.throttle.read_bps_device": devs + " 1048576", "blkio.throttle.write_bps_device": devs + " 2097152",
				"blkio.throttle.read_iops_device": devs + " 100", "blkio.throttle.write_iops_device": devs + " 200"},
			v2Files: map[string]string{"io.max": devs + " rbps=1048576 wbps=2097152 riops=100 wiops=200"},
		},
		{name: "hugepageLimits", v1: "hugetlb", v2: "hugetlb",
			res:     specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: page, Limit: 4 << 20}}},
			v1Files: map[string]string{"hugetlb." + page + ".limit_in_bytes": "4194304"},
			v2Files: map[string]string{"hugetlb." + page + ".max": "4194304"},
		},
		{name: "network classID", v1: "net_cls",
			res:     specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptrTo[uint32](0x100001)}},
			v1Files: map[string]string{"net_cls.classid": "1048577"},
		},
		{name: "network priorities", v1: "net_prio",
			res:     specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 5}}}},
			v1Files: map[string]string{"net_prio.ifpriomap": "lo 5"},
		},
		{name: "rdma", v1: "rdma", v2: "rdma",
			res: specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: ptrTo[uint32](3)}}},
			// No such device here: the kernel refuses it where rdma is.
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "hugepageLimits" && page == "" {
				t.Skip("the host has no hugepages")
			}
			top := testParent(t, l)
			path := top + "/leaf"
			v1 := !l.limits2 && slices.ContainsFunc(l.v1, func(h hierarchy) bool { return h.has(tt.v1) })
			v2 := !v1 && tt.v2 != "" && slices.Contains(avail, tt.v2)
			cg, err := create(l, path, &tt.res)
			if !v1 && !v2 {
				t.Logf("no %s controller: refused: %v", tt.v1, err)
				if err == nil || !strings.HasPrefix(err.Error(), "set linux.resources.") {
					t.Errorf("create error = %v, want the field's controller refused", err)
				}
				assertNoGroup(t, l, top)
				return
			}
			if tt.name == "rdma" {
				if err == nil {
					cg.Delete()
					t.Fatal("rdma limit on a device that does not exist accepted")
				}
				assertNoGroup(t, l, top)
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() {
				if err := cg.Delete(); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			})
			dir, files := cg.v2, tt.v2Files
			if v1 {
				dir, files = cg.dirOf(tt.v1), tt.v1Files
			}
			if files == nil {
				t.Fatal("no files to check")
			}
			t.Logf("in %s", dir)
			for f, want := range files {
				if !exists(filepath.Join(dir, f)) && (f == "memory.memsw.limit_in_bytes" || f == "memory.swap.max") {
					t.Logf("no swap accounting: %s not checked", f)
					continue
				}
				got := readTrim(t, filepath.Join(dir, f))
				if !slices.Contains(strings.Split(got, "\n"), want) {
					t.Errorf("%s = %q, want a line %q", f, got, want)
				}
			}
		})
	}
}

// Block I/O weights need a proportional I/O scheduler (CFQ's blkio.weight,
// BFQ's blkio.bfq.weight): without one the weight is refused, naming the
// field, and nothing is left.
func TestBlockIOWeight(t *testing.T) {
	l := mustLayout(t)
	if l.limits2 || !slices.ContainsFunc(l.v1, func(h hierarchy) bool { return h.has("blkio") }) {
		t.Skip("no v1 blkio hierarchy: the v2 lines are checked by TestBlockIOSettings")
	}
	top := testParent(t, l)
	cg, err := create(l, top+"/leaf", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptrTo[uint16](300)}})
	var blkio string
	for _, h := range l.v1 {
		if h.has("blkio") {
			blkio = h.dir
		}
	}
	if exists(blkio+"/blkio.weight") || exists(blkio+"/blkio.bfq.weight") {
		if err != nil {
			t.Fatal(err)
		}
		defer cg.Delete()
		f := cg.dirOf("blkio") + "/blkio.weight"
		if !exists(f) {
			f = cg.dirOf("blkio") + "/blkio.bfq.weight"
		}
		if got := readTrim(t, f); !strings.Contains(got, "300") {
			t.Errorf("%s = %q, want 300", f, got)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "set blockIO.weight: ") {
		t.Errorf("create error = %v, want blockIO.weight refused", err)
	}
	t.Log(err)
	assertNoGroup(t, l, top)
}

// unified writes v2 files as given: on this host's v2 tree where it has the
// controller (or for the core's cgroup.* files), refused otherwise and on a
// host without v2.
func TestUnified(t *testing.T) {
	l := mustLayout(t)
	top := testParent(t, l)
	if _, err := create(layout{v1: l.v1}, top+"/leaf", &specs.LinuxResources{Unified: map[string]string{"cgroup.max.depth": "3"}}); err == nil ||
		err.Error() != "set unified: this host has no cgroup v2 tree" {
		t.Errorf("create on a v1-only layout: %v, want refused", err)
	}
	assertNoGroup(t, l, top)
	if l.v2 == "" {
		t.Skip("no cgroup v2 tree")
	}
	avail, _ := v2Avail(l.v2)()
	res := &specs.LinuxResources{Unified: map[string]string{"cgroup.max.depth": "3"}}
	if page := hugepageSize(); page != "" && slices.Contains(avail, "hugetlb") {
		res.Unified["hugetlb."+page+".max"] = "2097152"
	}
	cg := createPathT(t, l, top+"/leaf", res)
	for k, v := range res.Unified {
		if got := readTrim(t, cg.v2+"/"+k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, ctl := range []string{"memory", "io", "net_cls"} {
		if slices.Contains(avail, ctl) {
			continue
		}
		_, err := create(l, top+"/other", &specs.LinuxResources{Unified: map[string]string{ctl + ".max": "1"}})
		if want := "set unified " + ctl + ".max: the cgroup v2 tree has no " + ctl + " controller"; err == nil || err.Error() != want {
			t.Errorf("create error = %v, want %q", err, want)
		}
		assertNoGroup(t, l, top+"/other")
	}
	for _, bad := range []string{"noprefix", "../x.y", ".max"} {
		if _, err := create(l, top+"/other", &specs.LinuxResources{Unified: map[string]string{bad: "1"}}); err == nil {
			t.Errorf("unified key %q accepted", bad)
		}
	}
}

// Update changes the limits of a live group: raising memory and swap
// together needs memsw written first, lowering them memory first.
func TestUpdate(t *testing.T) {
	l := mustLayout(t)
	res, err := Resources("64m", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cg := createPathT(t, l, testParent(t, l)+"/leaf", res)
	startIn(t, cg)
	file := cg.v2 + "/memory.max"
	if !l.limits2 {
		file = cg.dirOf("memory") + "/memory.limit_in_bytes"
	}
	for _, mib := range []int64{256, 32, 128} {
		limit, swap := mib<<20, 2*mib<<20
		pids := mib
		err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}, Pids: &specs.LinuxPids{Limit: &pids}})
		if err != nil {
			t.Fatalf("Update to %dm: %v", mib, err)
		}
		if got := readTrim(t, file); got != strconv.FormatInt(limit, 10) {
			t.Errorf("%s = %s, want %d", file, got, limit)
		}
		st, err := cg.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.MemoryLimit != uint64(limit) || st.PidsLimit != uint64(pids) {
			t.Errorf("Stats = %+v, want memory limit %d, pids limit %d", st, limit, pids)
		}
	}
	if err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptrTo[int64](-1)}}); err != nil {
		t.Fatal(err)
	}
	if st, err := cg.Stats(); err != nil || st.MemoryLimit != 0 {
		t.Errorf("Stats after an unlimited update = %+v, %v, want no memory limit", st, err)
	}
	// A limit below the usage, with checkBeforeUpdate.
	err = cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptrTo[int64](1), CheckBeforeUpdate: ptrTo(true)}})
	if err == nil || !strings.Contains(err.Error(), "below the current usage") {
		t.Errorf("Update below usage: %v, want refused", err)
	}
	// Device rules: v1's files take new ones; v2's program stays.
	if d := cg.dirOf("devices"); d != "" && !l.limits2 {
		if err := cg.Update(&specs.LinuxResources{Devices: DeviceRules(false)}); err != nil {
			t.Fatal(err)
		}
		if got := readTrim(t, d+"/devices.list"); !strings.Contains(got, "c 1:3 rwm") || strings.Contains(got, "a *:* rwm") {
			t.Errorf("devices.list after Update = %q, want the default rules", got)
		}
	}
	if l.v2 != "" {
		only2 := createPathT(t, layout{v2: l.v2, limits2: l.limits2}, testParent(t, l)+"/leaf", nil)
		err := only2.Update(&specs.LinuxResources{Devices: DeviceRules(false)})
		if err == nil || !strings.Contains(err.Error(), "cannot change on a live group") {
			t.Errorf("Update of v2 device rules: %v, want refused", err)
		}
	}
	// A kind the host lacks is refused before anything is written.
	err = cg.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptrTo[int64](7)}, Network: &specs.LinuxNetwork{ClassID: ptrTo[uint32](1)}})
	if !slices.ContainsFunc(l.v1, func(h hierarchy) bool { return h.has("net_cls") }) {
		if err == nil || !strings.Contains(err.Error(), "network.classID") {
			t.Errorf("Update with network.classID: %v, want refused", err)
		}
		if st, _ := cg.Stats(); st.PidsLimit == 7 {
			t.Error("a refused Update wrote the pids limit")
		}
	}
}

// procState returns the state letter of /proc/<pid>/stat.
func procState(t *testing.T, pid int) string {
	t.Helper()
	s := readTrim(t, "/proc/"+strconv.Itoa(pid)+"/stat")
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// Freeze and Thaw a real process, through the v1 freezer and through v2's
// cgroup.freeze (the host's v2 tree alone).
func TestFreezeThaw(t *testing.T) {
	host := mustLayout(t)
	layouts := map[string]layout{"host": host}
	if host.v2 != "" && !host.limits2 {
		layouts["v2"] = layout{v2: host.v2}
	}
	for name, l := range layouts {
		t.Run(name, func(t *testing.T) {
			cg := createPathT(t, l, testParent(t, l)+"/leaf", nil)
			cmd := sleeper(t)
			pid := cmd.Process.Pid
			if err := cg.Add(pid); err != nil {
				t.Fatal(err)
			}
			if s, err := cg.FreezerState(); err != nil || s != Thawed {
				t.Fatalf("FreezerState = %q, %v, want thawed", s, err)
			}
			if err := cg.Freeze(); err != nil {
				t.Fatalf("Freeze: %v", err)
			}
			if s, err := cg.FreezerState(); err != nil || s != Frozen {
				t.Errorf("FreezerState = %q, %v, want frozen", s, err)
			}
			if d := cg.dirOf("freezer"); d != "" {
				if got := readTrim(t, d+"/freezer.state"); got != "FROZEN" {
					t.Errorf("freezer.state = %q", got)
				}
			} else if f, err := v2Frozen(cg.v2); err != nil || !f {
				t.Errorf("cgroup.events frozen = %v, %v", f, err)
			}
			t.Logf("frozen sleep is in state %s", procState(t, pid))
			if cg.dirOf("freezer") == "" {
				// v2 lets a fatal signal kill a frozen process.
				if err := cg.Thaw(); err != nil {
					t.Fatalf("Thaw: %v", err)
				}
				if s, err := cg.FreezerState(); err != nil || s != Thawed {
					t.Errorf("FreezerState after Thaw = %q, %v", s, err)
				}
				if f, err := v2Frozen(cg.v2); err != nil || f {
					t.Errorf("cgroup.events frozen after Thaw = %v, %v", f, err)
				}
				return
			}
			// v1: a SIGTERM stays pending while the process is frozen, and
			// is delivered once it is thawed.
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			var ws unix.WaitStatus
			if p, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != nil || p != 0 {
				t.Errorf("a frozen process ended on SIGTERM: wait4 = %d, %v", p, err)
			}
			if err := cg.Thaw(); err != nil {
				t.Fatalf("Thaw: %v", err)
			}
			if s, err := cg.FreezerState(); err != nil || s != Thawed {
				t.Errorf("FreezerState after Thaw = %q, %v", s, err)
			}
			if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
				t.Errorf("sleep after thaw: %v, want terminated", err)
			}
		})
	}
}

// Pids lists every process of the group and its subgroups.
func TestPids(t *testing.T) {
	l := mustLayout(t)
	cg := createPathT(t, l, testParent(t, l)+"/leaf", nil)
	var want []int
	for range 3 {
		cmd := sleeper(t)
		if err := cg.Add(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		want = append(want, cmd.Process.Pid)
	}
	// The third in a subgroup of one hierarchy only.
	d := cg.Dirs()[0]
	if err := os.Mkdir(d+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(d+"/sub/cgroup.procs", strconv.Itoa(want[2])); err != nil {
		t.Fatal(err)
	}
	got, err := cg.Pids()
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Pids = %v, %v, want %v", got, err, want)
	}
	if err := cg.Delete(); err != nil {
		t.Fatal(err)
	}
	if got, err := cg.Pids(); err != nil || len(got) != 0 {
		t.Errorf("Pids after Delete = %v, %v", got, err)
	}
}

// Stats of a process started in the group: its CPU time and memory are
// charged to the group.
func TestStats(t *testing.T) {
	l := mustLayout(t)
	res, err := Resources("64m", "", 20)
	if err != nil {
		t.Fatal(err)
	}
	cg := createPathT(t, l, testParent(t, l)+"/leaf", res)
	startIn(t, cg)
	st, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.MemoryLimit != 64<<20 || st.MemoryUsage == 0 || st.CPUUsage == 0 || st.Pids != 1 || st.PidsLimit != 20 {
		t.Errorf("Stats = %+v, want memory limit 64m, some memory and CPU used, 1 pid of 20", st)
	}
}

func TestConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 512: 20, 1024: 39, 262144: 10000, 1 << 20: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{0: 0, 10: 1, 500: 4950, 1000: 10000, 5: 1, 2000: 10000} {
		if got := blkioWeightToIOWeight(w); got != want {
			t.Errorf("blkioWeightToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
	dev := specs.LinuxBlockIODevice{Major: 8, Minor: 16}
	for _, tt := range []struct {
		rate      uint64
		key, want string
	}{
		{1048576, "rbps", "8:16 rbps=1048576"},
		{0, "wiops", "8:16 wiops=max"},
	} {
		if got := ioMaxLine(specs.LinuxThrottleDevice{LinuxBlockIODevice: dev, Rate: tt.rate}, tt.key); got != tt.want {
			t.Errorf("ioMaxLine(%d, %s) = %q, want %q", tt.rate, tt.key, got, tt.want)
		}
	}
	for _, tt := range []struct {
		swap, limit, want int64
		err               string
	}{
		{0, 0, 0, ""},
		{0, 64, 0, ""},
		{-1, 64, -1, ""},
		{0, -1, -1, ""},
		{128, 64, 64, ""},
		{64, 64, 0, ""},
		{32, 64, 0, "below the memory limit"},
		{128, 0, 0, "needs a memory limit"},
	} {
		got, err := v2Swap(tt.swap, tt.limit)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("v2Swap(%d, %d) error = %v, want %q", tt.swap, tt.limit, err, tt.err)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("v2Swap(%d, %d) = %d, %v, want %d", tt.swap, tt.limit, got, err, tt.want)
		}
	}
}

// startIn starts a process in the group the cheap way (cloned into the v2
// group, "0" written to each v1 tasks file), so that what it does is
// charged to the group, does some work, and waits for it to exec sleep.
func startIn(t *testing.T, cg *Cgroup) *exec.Cmd {
	t.Helper()
	script := "for f; do echo 0 > $f || exit 1; done; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; exec sleep 30"
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, cg.TaskFiles()...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if dir := cg.UnifiedDir(); dir != "" {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(f.Fd())
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never exec'd sleep")
		}
	}
}

func TestBlockIOSettings(t *testing.T) {
	d := specs.LinuxBlockIODevice{Major: 8, Minor: 0}
	b := &specs.LinuxBlockIO{
		Weight:                  ptrTo[uint16](500),
		WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: d, Weight: ptrTo[uint16](100)}},
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: d, Rate: 1000}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: d, Rate: 0}},
	}
	lines := func(ss []setting) []string {
		var out []string
		for _, s := range ss {
			line := s.file + " " + s.value
			if s.fallback != nil {
				line += " | " + s.fallback.file + " " + s.fallback.value
			}
			out = append(out, line)
		}
		return out
	}
	v1, err := v1BlockIO(&specs.LinuxResources{BlockIO: b})
	if err != nil {
		t.Fatal(err)
	}
	want1 := []string{
		"blkio.weight 500 | blkio.bfq.weight 500",
		"blkio.weight_device 8:0 100 | blkio.bfq.weight_device 8:0 100",
		"blkio.throttle.read_bps_device 8:0 1000",
		"blkio.throttle.write_iops_device 8:0 0",
	}
	if got := lines(v1); !slices.Equal(got, want1) {
		t.Errorf("v1:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want1, "\n"))
	}
	v2, err := v2BlockIO(&specs.LinuxResources{BlockIO: b})
	if err != nil {
		t.Fatal(err)
	}
	want2 := []string{
		"io.bfq.weight 500 | io.weight 4950",
		"io.bfq.weight 8:0 100 | io.weight 8:0 910",
		"io.max 8:0 rbps=1000",
		"io.max 8:0 wiops=max",
	}
	if got := lines(v2); !slices.Equal(got, want2) {
		t.Errorf("v2:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want2, "\n"))
	}
	b.LeafWeight = ptrTo[uint16](10)
	if _, err := v2BlockIO(&specs.LinuxResources{BlockIO: b}); err == nil || !strings.Contains(err.Error(), "leafWeight") {
		t.Errorf("v2 leafWeight: %v, want refused", err)
	}
}

// A shorter CFS period with the old quota would exceed the parent's
// quota/period ratio: the kernel refuses it until the quota is lowered, so
// Update writes the pair the other way round.
func TestUpdateCPUPeriod(t *testing.T) {
	l := mustLayout(t)
	cpu := func(quota int64, period uint64) *specs.LinuxResources {
		return &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &quota, Period: &period}}
	}
	top := testParent(t, l)
	createPathT(t, l, top, cpu(100000, 100000)) // one CPU
	cg := createPathT(t, l, top+"/leaf", cpu(100000, 100000))
	if err := cg.Update(cpu(50000, 50000)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := map[string]string{"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "50000"}
	dir := cg.dirOf("cpu")
	if l.limits2 {
		want, dir = map[string]string{"cpu.max": "50000 50000"}, cg.v2
	}
	for f, v := range want {
		if got := readTrim(t, dir+"/"+f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
}
