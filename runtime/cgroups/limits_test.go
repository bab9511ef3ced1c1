package cgroups

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSettings(t *testing.T) {
	i64 := func(n int64) *int64 { return &n }
	u64 := func(n uint64) *uint64 { return &n }
	mustRes := func(memory, cpus string, pids int64) *specs.LinuxResources {
		r, err := resources(memory, cpus, pids, 4)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	type file struct{ name, value string }
	tests := []struct {
		name   string
		res    *specs.LinuxResources
		v1, v2 []file
	}{
		{name: "none", res: &specs.LinuxResources{}},
		{name: "all flags", res: mustRes("64m", "0.5", 50),
			v1: []file{
				{"memory.limit_in_bytes", "67108864"},
				{"memory.memsw.limit_in_bytes", "134217728"},
				{"cpu.cfs_period_us", "100000"},
				{"cpu.cfs_quota_us", "50000"},
				{"pids.max", "50"},
			},
			v2: []file{
				{"memory.max", "67108864"},
				{"memory.swap.max", "67108864"},
				{"cpu.max", "50000 100000"},
				{"pids.max", "50"},
			},
		},
		{name: "memory", res: mustRes("1g", "", 0),
			v1: []file{{"memory.limit_in_bytes", "1073741824"}, {"memory.memsw.limit_in_bytes", "2147483648"}},
			v2: []file{{"memory.max", "1073741824"}, {"memory.swap.max", "1073741824"}},
		},
		{name: "cpus", res: mustRes("", "1.5", 0),
			v1: []file{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "150000"}},
			v2: []file{{"cpu.max", "150000 100000"}},
		},
		{name: "pids limit 0", res: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}},
			v1: []file{{"pids.max", "max"}},
			v2: []file{{"pids.max", "max"}},
		},
		{name: "pids limit unset", res: &specs.LinuxResources{Pids: &specs.LinuxPids{}},
			v1: []file{{"pids.max", "max"}},
			v2: []file{{"pids.max", "max"}},
		},
		{name: "explicit swap", res: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(100 << 20)}},
			v1: []file{{"memory.limit_in_bytes", "67108864"}, {"memory.memsw.limit_in_bytes", "104857600"}},
			v2: []file{{"memory.max", "67108864"}, {"memory.swap.max", "37748736"}},
		},
		{name: "unlimited swap", res: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(-1)}},
			v1: []file{{"memory.limit_in_bytes", "67108864"}, {"memory.memsw.limit_in_bytes", "-1"}},
			v2: []file{{"memory.max", "67108864"}, {"memory.swap.max", "max"}},
		},
		{name: "huge memory", res: mustRes("4194304g", "", 0),
			v1: []file{{"memory.limit_in_bytes", "4503599627370496"}, {"memory.memsw.limit_in_bytes", "9007199254740992"}},
			v2: []file{{"memory.max", "4503599627370496"}, {"memory.swap.max", "4503599627370496"}},
		},
		{name: "swap unset", res: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 62)}},
			v1: []file{{"memory.limit_in_bytes", "4611686018427387904"}},
			v2: []file{{"memory.max", "4611686018427387904"}},
		},
		{name: "no memory limit", res: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}},
			v1: []file{{"memory.limit_in_bytes", "-1"}, {"memory.memsw.limit_in_bytes", "-1"}},
			v2: []file{{"memory.max", "max"}, {"memory.swap.max", "max"}},
		},
		{name: "memory limit 0 is unset", res: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(0)}}},
		{name: "no quota", res: &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1), Period: u64(50000)}},
			v1: []file{{"cpu.cfs_period_us", "50000"}, {"cpu.cfs_quota_us", "-1"}},
			v2: []file{{"cpu.max", "max 50000"}},
		},
		{name: "quota only", res: &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(20000)}},
			v1: []file{{"cpu.cfs_quota_us", "20000"}},
			v2: []file{{"cpu.max", "20000"}},
		},
		{name: "shares", res: &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512)}},
			v1: []file{{"cpu.shares", "512"}},
			v2: []file{{"cpu.weight", "20"}},
		},
	}
	files := func(s []setting) []file {
		var out []file
		for _, x := range s {
			out = append(out, file{x.file, x.value})
		}
		return out
	}
	for _, tt := range tests {
		if got := files(settingsOf(t, tt.res, false)); !slices.Equal(got, tt.v1) {
			t.Errorf("%s: v1 = %v, want %v", tt.name, got, tt.v1)
		}
		if got := files(settingsOf(t, tt.res, true)); !slices.Equal(got, tt.v2) {
			t.Errorf("%s: v2 = %v, want %v", tt.name, got, tt.v2)
		}
	}

	// Where the v1 files go, and which may be missing.
	for _, s := range settingsOf(t, mustRes("64m", "1", 10), false) {
		ctrl := s.file[:len(s.controller)]
		if s.controller != ctrl {
			t.Errorf("%s: controller %q", s.file, s.controller)
		}
		if s.optional != (s.file == "memory.memsw.limit_in_bytes") {
			t.Errorf("%s: optional = %v", s.file, s.optional)
		}
	}
	for _, s := range settingsOf(t, mustRes("64m", "1", 10), true) {
		if s.optional != (s.file == "memory.swap.max") {
			t.Errorf("%s: optional = %v", s.file, s.optional)
		}
	}
}

// settingsOf lists the v1 (or v2) settings of every kind r sets.
func settingsOf(t *testing.T, r *specs.LinuxResources, v2 bool) []setting {
	t.Helper()
	var out []setting
	for _, k := range kinds {
		if !k.set(r) {
			continue
		}
		f := k.v1Settings
		if v2 {
			f = k.v2Settings
		}
		s, err := f(r)
		if err != nil {
			t.Fatalf("%s: %v", k.field, err)
		}
		out = append(out, s...)
	}
	return out
}
