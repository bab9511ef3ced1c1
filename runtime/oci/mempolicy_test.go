package oci

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNodeMask(t *testing.T) {
	for list, want := range map[string][]uint64{
		"": nil, "0": {1}, "0-3,7": {0x8f}, " 1 , 3 ": {0xa}, "64": {0, 1}, "62-65": {3 << 62, 3},
	} {
		got, err := nodeMask(list)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("nodeMask(%q) = %x, %v, want %x", list, got, err, want)
		}
	}
	for _, bad := range []string{"a", "1-", "-1", "3-1", "0,,1", "1024", "0-2000"} {
		if got, err := nodeMask(bad); err == nil {
			t.Errorf("nodeMask(%q) = %x, want an error", bad, got)
		}
	}
}

func TestPlanMemoryPolicy(t *testing.T) {
	for _, tc := range []struct {
		mp   specs.LinuxMemoryPolicy
		want []string // the op's arguments; nil: refused
	}{
		{specs.LinuxMemoryPolicy{Mode: specs.MpolDefault}, []string{"0", ""}},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}, []string{"4", ""}},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred}, []string{"1", ""}},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0-1,65", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}},
			[]string{"32770", "3,2"}},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "2-3", Flags: []specs.MemoryPolicyFlagType{specs.MpolFRelativeNodes}},
			[]string{"16387", "c"}},
		{specs.LinuxMemoryPolicy{Mode: "MPOL_NO_SUCH"}, nil},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolBind}, nil},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolDefault, Nodes: "0"}, nil},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "x"}, nil},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{"MPOL_F_NO_SUCH"}}, nil},
	} {
		p := &Plan{}
		err := planMemoryPolicy(p, &tc.mp)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%+v: accepted, want it refused", tc.mp)
			}
			continue
		}
		if ops := opsOf(t, p); err != nil || len(ops) != 1 || !slices.Equal(ops[0], append([]string{"mempolicy"}, tc.want...)) {
			t.Errorf("%+v: ops %q, err %v, want mempolicy %q", tc.mp, ops, err, tc.want)
		}
	}
}
