package cgroups

import (
	"strings"
	"testing"
)

func TestResources(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		memory, cpus string
		pids         int64
		wantMem      int64 // 0: no memory limit
		wantQuota    int64 // 0: no CPU limit
		wantPids     int64 // 0: no pids limit
		wantErr      string
	}{
		{},
		{memory: "512m", wantMem: 512 * mib},
		{memory: "512M", wantMem: 512 * mib},
		{memory: "512mb", wantMem: 512 * mib},
		{memory: "512MiB", wantMem: 512 * mib},
		{memory: "1g", wantMem: 1 << 30},
		{memory: "1.5G", wantMem: 3 << 29},
		{memory: "10000k", wantMem: 10000 << 10},
		{memory: "1048576000", wantMem: 1048576000},
		{memory: "6291456b", wantMem: 6 * mib},
		{memory: "6m", wantMem: 6 * mib},
		{memory: "0"}, // Docker's "no limit"
		{memory: "0m"},
		{memory: "100k", wantErr: `invalid --memory "100k": minimum memory limit allowed is 6MB`},
		{memory: "1048576", wantErr: `invalid --memory "1048576": minimum memory limit allowed is 6MB`},
		{memory: "12q", wantErr: `invalid --memory "12q": `},
		{memory: "-1g", wantErr: `invalid --memory "-1g": `},
		{memory: "m", wantErr: `invalid --memory "m": `},
		{memory: "99999999999g", wantErr: `invalid --memory "99999999999g": size too large`},
		{cpus: "1.5", wantQuota: 150000},
		{cpus: "0.01", wantQuota: 1000},
		{cpus: "4", wantQuota: 400000},
		{cpus: "4.01", wantErr: `invalid --cpus "4.01": range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available`},
		{cpus: "0"}, // Docker's "no limit"
		{cpus: "0.0"},
		{cpus: "0.004", wantErr: "range of CPUs"}, // rounds to a quota of 400µs: too small, not zero
		{cpus: "0.001", wantErr: "range of CPUs"},
		{cpus: "-1", wantErr: "range of CPUs"},
		{cpus: "NaN", wantErr: `invalid --cpus "NaN": `},
		{cpus: "inf", wantErr: "range of CPUs"},
		{cpus: "abc", wantErr: `invalid --cpus "abc": `},
		{pids: 100, wantPids: 100},
		{pids: -1},
		{pids: 0},
		{memory: "64m", cpus: "0.5", pids: 10, wantMem: 64 * mib, wantQuota: 50000, wantPids: 10},
	}
	for _, tt := range tests {
		r, err := resources(tt.memory, tt.cpus, tt.pids, 4)
		name := "resources(" + tt.memory + ", " + tt.cpus + ")"
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s error = %v, want %q", name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := r.Memory; (got == nil) != (tt.wantMem == 0) || got != nil && (*got.Limit != tt.wantMem || *got.Swap != 2*tt.wantMem) {
			t.Errorf("%s memory = %+v, want limit %d, swap twice that (Docker's)", name, got, tt.wantMem)
		}
		if got := r.CPU; (got == nil) != (tt.wantQuota == 0) || got != nil && (*got.Quota != tt.wantQuota || *got.Period != 100000) {
			t.Errorf("%s cpu = %+v, want quota %d period 100000", name, got, tt.wantQuota)
		}
		if got := r.Pids; (got == nil) != (tt.wantPids == 0) || got != nil && *got.Limit != tt.wantPids {
			t.Errorf("%s pids = %+v, want %d", name, got, tt.wantPids)
		}
	}
}

func TestDockerSwap(t *testing.T) {
	for limit, want := range map[int64]int64{64 << 20: 128 << 20, 1 << 62: -1, 1<<62 - 1: 1<<63 - 2} {
		if got := dockerSwap(limit); got != want {
			t.Errorf("dockerSwap(%d) = %d, want %d", limit, got, want)
		}
	}
}
