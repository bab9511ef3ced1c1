package cgroups

import (
	"math"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setting is one value Create writes to a control file of the group.
type setting struct {
	controller string // v1: the hierarchy that has the file; "" on v2
	file       string
	value      string
	what       string // for errors: "set <what>: ..."
	optional   bool   // skipped when the file does not exist
}

// Only the limits Resources makes are applied: memory (with Docker's
// default swap), CPU quota and pids, and the device rules (DeviceRules).
// Other fields of LinuxResources are ignored.

// swapTotal returns memory+swap for memory limit: Swap when set, else
// twice the limit, as Docker does when only --memory is given. -1 means
// unlimited.
func swapTotal(m *specs.LinuxMemory, limit int64) int64 {
	if m.Swap != nil && *m.Swap != 0 {
		return max(*m.Swap, -1)
	}
	if limit > math.MaxInt64/2 {
		return -1
	}
	return 2 * limit
}

func memoryLimit(r *specs.LinuxResources) (int64, bool) {
	if r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit <= 0 {
		return 0, false
	}
	return *r.Memory.Limit, true
}

func pidsValue(p *specs.LinuxPids) string {
	if p.Limit == nil || *p.Limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(*p.Limit, 10)
}

// v1Settings lists the v1 control files for r, in the order they must be
// written: memory.limit_in_bytes before memory.memsw.limit_in_bytes (the
// kernel wants limit <= memsw at all times), the CFS period before the
// quota.
func v1Settings(r *specs.LinuxResources) []setting {
	var s []setting
	if limit, ok := memoryLimit(r); ok {
		s = append(s,
			setting{controller: "memory", file: "memory.limit_in_bytes", value: strconv.FormatInt(limit, 10), what: "memory limit"},
			// Missing without swap accounting.
			setting{controller: "memory", file: "memory.memsw.limit_in_bytes", value: strconv.FormatInt(swapTotal(r.Memory, limit), 10), what: "swap limit", optional: true},
		)
	}
	if c := r.CPU; c != nil {
		if c.Period != nil && *c.Period > 0 {
			s = append(s, setting{controller: "cpu", file: "cpu.cfs_period_us", value: strconv.FormatUint(*c.Period, 10), what: "cpu limit"})
		}
		if c.Quota != nil {
			s = append(s, setting{controller: "cpu", file: "cpu.cfs_quota_us", value: strconv.FormatInt(max(*c.Quota, -1), 10), what: "cpu limit"})
		}
	}
	if r.Pids != nil {
		s = append(s, setting{controller: "pids", file: "pids.max", value: pidsValue(r.Pids), what: "pids limit"})
	}
	return append(s, v1DeviceSettings(r.Devices)...)
}

// v2Settings lists the v2 control files for r. memory.swap.max holds swap
// alone, so Docker's default (memory+swap = 2x memory) is swap = memory.
func v2Settings(r *specs.LinuxResources) []setting {
	var s []setting
	if limit, ok := memoryLimit(r); ok {
		swap := "max"
		if total := swapTotal(r.Memory, limit); total >= 0 {
			swap = strconv.FormatInt(max(total-limit, 0), 10)
		}
		s = append(s,
			setting{file: "memory.max", value: strconv.FormatInt(limit, 10), what: "memory limit"},
			// Missing without swap accounting.
			setting{file: "memory.swap.max", value: swap, what: "swap limit", optional: true},
		)
	}
	if c := r.CPU; c != nil && (c.Quota != nil || c.Period != nil) {
		v := "max"
		if c.Quota != nil && *c.Quota > 0 {
			v = strconv.FormatInt(*c.Quota, 10)
		}
		if c.Period != nil && *c.Period > 0 {
			v += " " + strconv.FormatUint(*c.Period, 10)
		}
		s = append(s, setting{file: "cpu.max", value: v, what: "cpu limit"})
	}
	if r.Pids != nil {
		s = append(s, setting{file: "pids.max", value: pidsValue(r.Pids), what: "pids limit"})
	}
	return s
}

// v2Controllers are the controllers Create enables for the groups below
// /hutch in unified mode, when the host offers them.
var v2Controllers = []string{"cpu", "memory", "pids"}
