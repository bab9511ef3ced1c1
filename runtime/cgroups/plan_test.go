package cgroups

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Where each kind of limit goes on the three kinds of host, with the v2
// tree's controllers given: the unified host's case cannot be seen on a
// hybrid test machine otherwise.
func TestMakePlan(t *testing.T) {
	v1 := func(ctrls ...string) []hierarchy {
		var out []hierarchy
		for _, c := range ctrls {
			out = append(out, hierarchy{dir: "/sys/fs/cgroup/" + c, controllers: []string{c}})
		}
		return out
	}
	unified := layout{v2: "/sys/fs/cgroup", limits2: true}
	hybrid := layout{v1: v1("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"), v2: "/sys/fs/cgroup/unified"}
	legacy := layout{v1: hybrid.v1}
	mem := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptrTo[int64](64 << 20)}}
	huge := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 << 20}}}
	netcls := &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptrTo[uint32](1)}}
	devs := &specs.LinuxResources{Devices: DeviceRules(false)}
	tests := []struct {
		name    string
		l       layout
		avail   []string
		res     *specs.LinuxResources
		v1, v2  []string // files
		ctls    []string
		devV2   bool
		wantErr string
	}{
		{name: "unified memory", l: unified, avail: []string{"cpu", "memory", "pids"}, res: mem, v2: []string{"memory.max"}, ctls: []string{"memory"}},
		{name: "unified io", l: unified, avail: []string{"io"},
			res: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptrTo[uint16](100)}}, v2: []string{"io.bfq.weight"}, ctls: []string{"io"}},
		{name: "unified hugetlb missing", l: unified, avail: []string{"memory"}, res: huge,
			wantErr: "set linux.resources.hugepageLimits: no hugetlb controller in the cgroup v2 tree"},
		{name: "unified net_cls", l: unified, avail: []string{"memory"}, res: netcls,
			wantErr: "set linux.resources.network.classID: cgroup v2 has no net_cls controller"},
		{name: "unified devices", l: unified, res: devs, devV2: true},
		{name: "unified realtime", l: unified, avail: []string{"cpu"},
			res:     &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: ptrTo[uint64](1000)}},
			wantErr: "set cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime group scheduling"},
		{name: "unified swappiness", l: unified, avail: []string{"memory"},
			res:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptrTo[uint64](0)}},
			wantErr: "set memory.swappiness: cgroup v2 has no per-group swappiness"},
		{name: "unified keys", l: unified, avail: []string{"memory"},
			res: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, v2: []string{"memory.high"}, ctls: []string{"memory"}},
		{name: "hybrid memory", l: hybrid, res: mem, v1: []string{"memory.limit_in_bytes"}},
		{name: "hybrid hugetlb in v2", l: hybrid, avail: []string{"hugetlb"}, res: huge,
			v2: []string{"hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"}, ctls: []string{"hugetlb"}},
		{name: "hybrid devices", l: hybrid, res: devs},
		{name: "hybrid net_cls", l: hybrid, avail: []string{"hugetlb"}, res: netcls,
			wantErr: "set linux.resources.network.classID: no net_cls cgroup hierarchy mounted, cgroup v2 has no net_cls controller"},
		{name: "hybrid unified key", l: hybrid, avail: []string{"hugetlb"},
			res:     &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}},
			wantErr: "set unified memory.high: the cgroup v2 tree has no memory controller"},
		{name: "legacy hugetlb", l: legacy, res: huge, wantErr: "set linux.resources.hugepageLimits: no hugetlb cgroup hierarchy mounted"},
		{name: "legacy unified", l: legacy, res: &specs.LinuxResources{Unified: map[string]string{"cgroup.max.depth": "1"}},
			wantErr: "set unified: this host has no cgroup v2 tree"},
		{name: "legacy no devices hierarchy", l: layout{v1: v1("memory")}, res: devs,
			wantErr: "set linux.resources.devices: no devices cgroup hierarchy mounted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := makePlan(tt.l, tt.res, func() ([]string, error) { return tt.avail, nil })
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			files := func(ss []setting) []string {
				var out []string
				for _, s := range ss {
					if !strings.HasPrefix(s.file, "devices.") {
						out = append(out, s.file)
					}
				}
				return out
			}
			if got := files(p.v1); !slices.Equal(got, tt.v1) {
				t.Errorf("v1 files = %v, want %v", got, tt.v1)
			}
			if got := files(p.v2); !slices.Equal(got, tt.v2) {
				t.Errorf("v2 files = %v, want %v", got, tt.v2)
			}
			if !slices.Equal(p.v2ctls, tt.ctls) {
				t.Errorf("v2 controllers = %v, want %v", p.v2ctls, tt.ctls)
			}
			if p.devicesV2 != tt.devV2 {
				t.Errorf("devicesV2 = %v, want %v", p.devicesV2, tt.devV2)
			}
			if tt.res.Devices != nil && !tt.devV2 && !slices.ContainsFunc(p.v1, func(s setting) bool { return s.file == "devices.deny" }) {
				t.Error("device rules not in the v1 settings")
			}
		})
	}
}

// On a v1 or hybrid host, the limits v1 has never make plan read the v2
// tree's controllers: a Docker start pays nothing for the v2 tree.
func TestMakePlanLeavesV2Alone(t *testing.T) {
	hybrid := layout{v1: []hierarchy{{controllers: []string{"memory"}}, {controllers: []string{"cpu"}}, {controllers: []string{"pids"}}, {controllers: []string{"devices"}}}, v2: "/u"}
	res, err := Resources("64m", "1", 10)
	if err != nil {
		t.Fatal(err)
	}
	res.Devices = DeviceRules(false)
	if _, err := makePlan(hybrid, res, func() ([]string, error) {
		t.Error("v2 controllers read")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestSharesRange(t *testing.T) {
	for _, l := range []layout{{v1: []hierarchy{{controllers: []string{"cpu"}}}}, {v2: "/u", limits2: true}} {
		for shares, ok := range map[uint64]bool{1: false, 2: true, 262144: true, 262145: false} {
			_, err := makePlan(l, &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: &shares}}, func() ([]string, error) { return []string{"cpu"}, nil })
			if (err == nil) != ok {
				t.Errorf("limits2=%v shares %d: %v", l.limits2, shares, err)
			}
		}
	}
}
