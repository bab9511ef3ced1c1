package cgroups

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setting is one value written to a control file of a group.
type setting struct {
	controller string // the controller that owns the file; "" for v2's core (cgroup.*) files
	file       string
	value      string
	what       string   // for errors: "set <what>: ..."
	optional   bool     // skipped when the file does not exist
	fallback   *setting // written instead when file does not exist
}

// resource is one kind of limit of linux.resources and the controller that
// holds it in each version ("" where the version has none). A zero or unset
// number leaves the kernel's value alone, as in runc.
type resource struct {
	field  string // for errors
	v1, v2 string
	set    func(r *specs.LinuxResources) bool
	// The settings in the order they are written.
	v1Settings, v2Settings func(r *specs.LinuxResources) ([]setting, error)
}

// kinds lists every kind of limit but the device rules (devices.go)
// and the unified map (written as given to the v2 group).
var kinds = []resource{
	{field: "memory", v1: "memory", v2: "memory",
		set:        func(r *specs.LinuxResources) bool { return r.Memory != nil },
		v1Settings: v1Memory, v2Settings: v2Memory},
	{field: "cpu", v1: "cpu", v2: "cpu",
		set: func(r *specs.LinuxResources) bool {
			c := r.CPU
			return c != nil && (c.Shares != nil || c.Quota != nil || c.Burst != nil || c.Period != nil ||
				c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil)
		},
		v1Settings: v1CPU, v2Settings: v2CPU},
	{field: "cpu.cpus/mems", v1: "cpuset", v2: "cpuset",
		set:        func(r *specs.LinuxResources) bool { return r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "") },
		v1Settings: cpuset, v2Settings: cpuset},
	{field: "pids", v1: "pids", v2: "pids",
		set:        func(r *specs.LinuxResources) bool { return r.Pids != nil },
		v1Settings: pids, v2Settings: pids},
	{field: "blockIO", v1: "blkio", v2: "io",
		set:        func(r *specs.LinuxResources) bool { return r.BlockIO != nil },
		v1Settings: v1BlockIO, v2Settings: v2BlockIO},
	{field: "hugepageLimits", v1: "hugetlb", v2: "hugetlb",
		set:        func(r *specs.LinuxResources) bool { return len(r.HugepageLimits) > 0 },
		v1Settings: hugetlb("limit_in_bytes"), v2Settings: hugetlb("max")},
	{field: "network.classID", v1: "net_cls",
		set:        func(r *specs.LinuxResources) bool { return r.Network != nil && r.Network.ClassID != nil },
		v1Settings: netCls},
	{field: "network.priorities", v1: "net_prio",
		set:        func(r *specs.LinuxResources) bool { return r.Network != nil && len(r.Network.Priorities) > 0 },
		v1Settings: netPrio},
	{field: "rdma", v1: "rdma", v2: "rdma",
		set:        func(r *specs.LinuxResources) bool { return len(r.Rdma) > 0 },
		v1Settings: rdma, v2Settings: rdma},
}

func i64(n int64) string  { return strconv.FormatInt(n, 10) }
func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// v2Max is a v2 limit: -1 (or less) is "max".
func v2Max(n int64) string {
	if n < 0 {
		return "max"
	}
	return i64(n)
}

// v1Memory: memory.limit_in_bytes then memory.memsw.limit_in_bytes (memory
// and swap together; the other way round when raising both, see pairs). The
// kernel fields are ignored, as runc does (the kernel dropped them in 5.4),
// and so is useHierarchy, which current kernels keep on.
func v1Memory(r *specs.LinuxResources) ([]setting, error) {
	m := r.Memory
	var s []setting
	limit, swap := val(m.Limit), val(m.Swap)
	if limit == -1 && swap == 0 {
		swap = -1 // unlimited memory: unlimited swap too, as runc does
	}
	if limit != 0 {
		s = append(s, setting{controller: "memory", file: "memory.limit_in_bytes", value: i64(max(limit, -1)), what: "memory limit"})
	}
	if swap != 0 {
		// Missing without swap accounting: Docker then drops the swap limit too.
		s = append(s, setting{controller: "memory", file: "memory.memsw.limit_in_bytes", value: i64(max(swap, -1)), what: "swap limit", optional: true})
	}
	if v := val(m.Reservation); v != 0 {
		s = append(s, setting{controller: "memory", file: "memory.soft_limit_in_bytes", value: i64(max(v, -1)), what: "memory.reservation"})
	}
	if m.Swappiness != nil {
		if *m.Swappiness > 100 {
			return nil, fmt.Errorf("set memory.swappiness: %d is not in 0-100", *m.Swappiness)
		}
		s = append(s, setting{controller: "memory", file: "memory.swappiness", value: u64(*m.Swappiness), what: "memory.swappiness"})
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		s = append(s, setting{controller: "memory", file: "memory.oom_control", value: "1", what: "memory.disableOOMKiller"})
	}
	return s, nil
}

// v2Memory: memory.max, memory.swap.max (swap alone: the spec's swap is
// memory+swap), memory.low for the reservation. v2 has no OOM killer switch:
// disableOOMKiller is ignored, as runc does; it has no swappiness either.
func v2Memory(r *specs.LinuxResources) ([]setting, error) {
	m := r.Memory
	var s []setting
	limit := val(m.Limit)
	if limit != 0 {
		s = append(s, setting{controller: "memory", file: "memory.max", value: v2Max(limit), what: "memory limit"})
	}
	swap, err := v2Swap(val(m.Swap), limit)
	if err != nil {
		return nil, fmt.Errorf("set swap limit: %w", err)
	}
	if swap != 0 {
		// Missing without swap accounting.
		s = append(s, setting{controller: "memory", file: "memory.swap.max", value: v2Max(swap), what: "swap limit", optional: true})
	}
	if v := val(m.Reservation); v != 0 {
		s = append(s, setting{controller: "memory", file: "memory.low", value: v2Max(v), what: "memory.reservation"})
	}
	if m.Swappiness != nil {
		return nil, errors.New("set memory.swappiness: cgroup v2 has no per-group swappiness")
	}
	return s, nil
}

// v2Swap turns the spec's memory+swap into v2's swap alone: 0 unset, -1
// unlimited. Unlimited memory with swap unset means both unlimited.
func v2Swap(swap, limit int64) (int64, error) {
	switch {
	case limit == -1 && swap == 0:
		return -1, nil
	case swap == 0 || swap == -1:
		return swap, nil
	case limit <= 0:
		return 0, errors.New("a swap limit needs a memory limit")
	case swap < limit:
		return 0, fmt.Errorf("memory+swap %d is below the memory limit %d", swap, limit)
	}
	return swap - limit, nil
}

func val[T int64 | uint64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

// v1CPU: shares, the CFS period before the quota, burst, the realtime
// period before its runtime, idle.
func v1CPU(r *specs.LinuxResources) ([]setting, error) {
	c := r.CPU
	var s []setting
	add := func(file, value, what string) {
		s = append(s, setting{controller: "cpu", file: file, value: value, what: what})
	}
	if v := val(c.Shares); v != 0 {
		if err := checkShares(v); err != nil {
			return nil, err
		}
		add("cpu.shares", u64(v), "cpu.shares")
	}
	if v := val(c.Period); v != 0 {
		add("cpu.cfs_period_us", u64(v), "cpu limit")
	}
	if v := val(c.Quota); v != 0 {
		add("cpu.cfs_quota_us", i64(max(v, -1)), "cpu limit")
	}
	if c.Burst != nil {
		add("cpu.cfs_burst_us", u64(*c.Burst), "cpu.burst")
	}
	if v := val(c.RealtimePeriod); v != 0 {
		add("cpu.rt_period_us", u64(v), "cpu.realtimePeriod")
	}
	if c.RealtimeRuntime != nil {
		add("cpu.rt_runtime_us", i64(max(*c.RealtimeRuntime, -1)), "cpu.realtimeRuntime")
	}
	if c.Idle != nil {
		add("cpu.idle", i64(*c.Idle), "cpu.idle")
	}
	return s, nil
}

// v2CPU: cpu.weight from the shares, cpu.max ("quota period", "max" for
// none), cpu.max.burst, cpu.idle. v2 has no realtime group scheduling.
func v2CPU(r *specs.LinuxResources) ([]setting, error) {
	c := r.CPU
	if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
		return nil, errors.New("set cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime group scheduling")
	}
	var s []setting
	add := func(file, value, what string) {
		s = append(s, setting{controller: "cpu", file: file, value: value, what: what})
	}
	if v := val(c.Shares); v != 0 {
		if err := checkShares(v); err != nil {
			return nil, err
		}
		add("cpu.weight", u64(sharesToWeight(v)), "cpu.shares")
	}
	if quota, period := val(c.Quota), val(c.Period); quota != 0 || period != 0 {
		v := "max"
		if quota > 0 {
			v = i64(quota)
		}
		if period != 0 {
			v += " " + u64(period)
		}
		add("cpu.max", v, "cpu limit")
	}
	if c.Burst != nil {
		add("cpu.max.burst", u64(*c.Burst), "cpu.burst")
	}
	if c.Idle != nil {
		add("cpu.idle", i64(*c.Idle), "cpu.idle")
	}
	return s, nil
}

// checkShares refuses shares outside the kernel's range, which v1 would
// clamp silently.
func checkShares(v uint64) error {
	if v < 2 || v > 262144 {
		return fmt.Errorf("set cpu.shares: %d is not in 2-262144", v)
	}
	return nil
}

// sharesToWeight maps v1's cpu.shares (2-262144, default 1024) linearly
// onto v2's cpu.weight (1-10000, default 100), as runc and crun have done
// (ConvertCPUSharesToCgroupV2Value): 2 -> 1, 262144 -> 10000, 1024 -> 39.
// 0 stays 0 (unset); out-of-range shares are clamped first.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + (shares-2)*9999/262142
}

// blkioWeightToIOWeight maps v1's blkio.weight (10-1000) onto v2's
// io.weight (1-10000), as runc's ConvertBlkIOToIOWeightValue: 10 -> 1,
// 1000 -> 10000. 0 stays 0 (unset).
func blkioWeightToIOWeight(weight uint16) uint64 {
	if weight == 0 {
		return 0
	}
	w := uint64(min(max(weight, 10), 1000))
	return 1 + (w-10)*9999/990
}

// cpuset: the CPUs and memory nodes (v1 and v2 name them alike; a v1
// hierarchy mounted noprefix drops the "cpuset." when it is written).
func cpuset(r *specs.LinuxResources) ([]setting, error) {
	var s []setting
	if c := r.CPU.Cpus; c != "" {
		s = append(s, setting{controller: "cpuset", file: "cpuset.cpus", value: c, what: "cpu.cpus"})
	}
	if m := r.CPU.Mems; m != "" {
		s = append(s, setting{controller: "cpuset", file: "cpuset.mems", value: m, what: "cpu.mems"})
	}
	return s, nil
}

func pids(r *specs.LinuxResources) ([]setting, error) {
	v := "max"
	if l := val(r.Pids.Limit); l > 0 {
		v = i64(l)
	}
	return []setting{{controller: "pids", file: "pids.max", value: v, what: "pids limit"}}, nil
}

func device(d specs.LinuxBlockIODevice) string {
	return i64(d.Major) + ":" + i64(d.Minor)
}

// v1BlockIO: the weights (blkio.weight is CFQ's, gone since Linux 5.0;
// BFQ's blkio.bfq.weight is written when it is missing), then the
// throttles, one line per device (rate 0 removes a device's limit).
// leafWeight is CFQ's alone.
func v1BlockIO(r *specs.LinuxResources) ([]setting, error) {
	b := r.BlockIO
	var s []setting
	weight := func(file, value, what string) setting {
		return setting{controller: "blkio", file: "blkio." + file, value: value, what: what,
			fallback: &setting{controller: "blkio", file: "blkio.bfq." + file, value: value, what: what}}
	}
	if v := val16(b.Weight); v != 0 {
		s = append(s, weight("weight", strconv.Itoa(int(v)), "blockIO.weight"))
	}
	if v := val16(b.LeafWeight); v != 0 {
		s = append(s, setting{controller: "blkio", file: "blkio.leaf_weight", value: strconv.Itoa(int(v)), what: "blockIO.leafWeight"})
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			s = append(s, weight("weight_device", device(d.LinuxBlockIODevice)+" "+strconv.Itoa(int(*d.Weight)), "blockIO.weightDevice"))
		}
		if d.LeafWeight != nil {
			s = append(s, setting{controller: "blkio", file: "blkio.leaf_weight_device", value: device(d.LinuxBlockIODevice) + " " + strconv.Itoa(int(*d.LeafWeight)), what: "blockIO.weightDevice"})
		}
	}
	for _, t := range throttles(b) {
		for _, d := range t.devs {
			s = append(s, setting{controller: "blkio", file: "blkio.throttle." + t.v1, value: device(d.LinuxBlockIODevice) + " " + u64(d.Rate), what: "blockIO." + t.field})
		}
	}
	return s, nil
}

type throttle struct {
	field, v1, v2 string
	devs          []specs.LinuxThrottleDevice
}

func throttles(b *specs.LinuxBlockIO) []throttle {
	return []throttle{
		{"throttleReadBpsDevice", "read_bps_device", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "write_bps_device", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "read_iops_device", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "write_iops_device", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

func val16(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}

// v2BlockIO: BFQ's io.bfq.weight takes the v1 weight (1-1000) as it is;
// without BFQ, io.weight takes it converted. The throttles are io.max
// lines, "major:minor rbps=N" (0: "max", no limit, as 0 is in v1).
// leafWeight has no v2 counterpart.
func v2BlockIO(r *specs.LinuxResources) ([]setting, error) {
	b := r.BlockIO
	if b.LeafWeight != nil || hasLeafWeight(b.WeightDevice) {
		return nil, errors.New("set blockIO.leafWeight: cgroup v2 has no leaf weight")
	}
	var s []setting
	weight := func(dev string, w uint16, what string) setting {
		return setting{controller: "io", file: "io.bfq.weight", value: dev + strconv.Itoa(int(w)), what: what,
			fallback: &setting{controller: "io", file: "io.weight", value: dev + u64(blkioWeightToIOWeight(w)), what: what}}
	}
	if v := val16(b.Weight); v != 0 {
		s = append(s, weight("", v, "blockIO.weight"))
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			s = append(s, weight(device(d.LinuxBlockIODevice)+" ", *d.Weight, "blockIO.weightDevice"))
		}
	}
	for _, t := range throttles(b) {
		for _, d := range t.devs {
			s = append(s, setting{controller: "io", file: "io.max", value: ioMaxLine(d, t.v2), what: "blockIO." + t.field})
		}
	}
	return s, nil
}

func hasLeafWeight(devs []specs.LinuxWeightDevice) bool {
	for _, d := range devs {
		if d.LeafWeight != nil {
			return true
		}
	}
	return false
}

// ioMaxLine is one line of v2's io.max: "major:minor key=rate", where key is
// rbps, wbps, riops or wiops, and a rate of 0 is "max" (no limit).
func ioMaxLine(d specs.LinuxThrottleDevice, key string) string {
	rate := "max"
	if d.Rate != 0 {
		rate = u64(d.Rate)
	}
	return device(d.LinuxBlockIODevice) + " " + key + "=" + rate
}

// pageSizeRE is a hugepage size as the hugetlb files name it: "2MB", "1GB", "64KB".
var pageSizeRE = regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`)

// hugetlb writes each size's limit, and the reservation limit (rsvd, Linux
// 5.7+) where the kernel has it, as runc does: the spec asks for
// reservation limits if supported.
func hugetlb(suffix string) func(r *specs.LinuxResources) ([]setting, error) {
	return func(r *specs.LinuxResources) ([]setting, error) {
		var s []setting
		for _, h := range r.HugepageLimits {
			if !pageSizeRE.MatchString(h.Pagesize) {
				return nil, fmt.Errorf("set hugepageLimits: page size %q: want a size such as 2MB or 1GB", h.Pagesize)
			}
			what := "hugepageLimits " + h.Pagesize
			s = append(s,
				setting{controller: "hugetlb", file: "hugetlb." + h.Pagesize + "." + suffix, value: u64(h.Limit), what: what},
				setting{controller: "hugetlb", file: "hugetlb." + h.Pagesize + ".rsvd." + suffix, value: u64(h.Limit), what: what, optional: true},
			)
		}
		return s, nil
	}
}

func netCls(r *specs.LinuxResources) ([]setting, error) {
	return []setting{{controller: "net_cls", file: "net_cls.classid", value: strconv.FormatUint(uint64(*r.Network.ClassID), 10), what: "network.classID"}}, nil
}

// netPrio writes one "interface priority" line per interface.
func netPrio(r *specs.LinuxResources) ([]setting, error) {
	var s []setting
	for _, p := range r.Network.Priorities {
		if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") {
			return nil, fmt.Errorf("set network.priorities: bad interface name %q", p.Name)
		}
		s = append(s, setting{controller: "net_prio", file: "net_prio.ifpriomap", value: p.Name + " " + strconv.FormatUint(uint64(p.Priority), 10), what: "network.priorities"})
	}
	return s, nil
}

// rdma writes one "device hca_handle=N hca_object=N" line per device to
// rdma.max (the same in v1 and v2); unset is "max".
func rdma(r *specs.LinuxResources) ([]setting, error) {
	var s []setting
	for dev, l := range r.Rdma {
		if dev == "" || strings.ContainsAny(dev, " \t\n") {
			return nil, fmt.Errorf("set rdma: bad device name %q", dev)
		}
		n := func(p *uint32) string {
			if p == nil {
				return "max"
			}
			return strconv.FormatUint(uint64(*p), 10)
		}
		s = append(s, setting{controller: "rdma", file: "rdma.max", value: dev + " hca_handle=" + n(l.HcaHandles) + " hca_object=" + n(l.HcaObjects), what: "rdma " + dev})
	}
	return s, nil
}

// unifiedSettings writes linux.resources.unified as given, each key a file
// of the v2 group ("memory.high", "cgroup.max.depth"); the controller is the
// key's prefix, "" for the core's cgroup.* files.
func unifiedSettings(u map[string]string) ([]setting, error) {
	var s []setting
	for k, v := range u {
		ctrl, _, ok := strings.Cut(k, ".")
		if !ok || ctrl == "" || strings.ContainsAny(k, "/\x00") {
			return nil, fmt.Errorf("set unified %q: not a cgroup v2 file name", k)
		}
		if ctrl == "cgroup" {
			ctrl = ""
		}
		s = append(s, setting{controller: ctrl, file: k, value: v, what: "unified " + k})
	}
	return s, nil
}

// v2Controllers are the controllers enabled for the groups on a unified
// host, when it offers them, whether or not a limit needs them yet.
var v2Controllers = []string{"cpu", "memory", "pids"}
