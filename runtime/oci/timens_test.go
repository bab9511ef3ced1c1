package oci

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPlanTimeNamespace(t *testing.T) {
	offs := map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}, "boottime": {Secs: 100}}
	for _, tc := range []struct {
		name    string
		ns      *specs.LinuxNamespace
		offsets map[string]specs.LinuxTimeOffset
		want    [][]string // nil with ok: no ops
		ok      bool
	}{
		{name: "none", ok: true},
		{name: "new", ns: &specs.LinuxNamespace{Type: specs.TimeNamespace}, ok: true, want: [][]string{{"timens"}}},
		{name: "new-offsets", ns: &specs.LinuxNamespace{Type: specs.TimeNamespace}, offsets: offs, ok: true,
			want: [][]string{{"timens"}, {"write", "/proc/self/timens_offsets", "boottime 100 0\nmonotonic -5 7"}}},
		{name: "joined", ns: &specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"}, ok: true},
		{name: "offsets-no-namespace", offsets: offs},
		{name: "offsets-joined", ns: &specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"}, offsets: offs},
		{name: "unknown-clock", ns: &specs.LinuxNamespace{Type: specs.TimeNamespace},
			offsets: map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}},
		{name: "nanosecs-over", ns: &specs.LinuxNamespace{Type: specs.TimeNamespace},
			offsets: map[string]specs.LinuxTimeOffset{"boottime": {Nanosecs: 1e9}}},
	} {
		spec := testSpec()
		if tc.ns != nil {
			spec.Linux.Namespaces = append(spec.Linux.Namespaces, *tc.ns)
		}
		spec.Linux.TimeOffsets = tc.offsets
		p := &Plan{}
		err := planTimeNamespace(p, spec)
		if !tc.ok {
			if err == nil {
				t.Errorf("%s: accepted, want it refused", tc.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var ops [][]string
		if len(p.Bytes()) > 0 {
			ops = opsOf(t, p)
		}
		if !slices.EqualFunc(ops, tc.want, slices.Equal) {
			t.Errorf("%s: ops %q, want %q", tc.name, ops, tc.want)
		}
	}
}
