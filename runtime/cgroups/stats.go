package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Pids returns every process in the group and the groups below it, in any
// hierarchy, sorted: a process moved into a subgroup of one hierarchy only
// is still found. A group gone meanwhile gives no pids, not an error.
func (c *Cgroup) Pids() ([]int, error) {
	var out []int
	for _, d := range c.Dirs() {
		for _, g := range subtree(d) {
			pids, err := readPids(g + "/cgroup.procs")
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("list processes of cgroup %s: %w", c.path, err)
			}
			out = append(out, pids...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Stats is what the group uses now. A value the host does not account
// (its controller is nowhere) is 0; a limit of 0 is no limit.
type Stats struct {
	MemoryUsage uint64 // bytes
	MemoryLimit uint64 // bytes
	CPUUsage    uint64 // nanoseconds of CPU time, all CPUs
	Pids        uint64 // processes and threads
	PidsLimit   uint64
}

// Stats reads the group's memory, CPU and pids use, from the v1 hierarchy
// with each controller, else from the v2 group.
func (c *Cgroup) Stats() (Stats, error) {
	var st Stats
	type stat struct {
		v1ctl, v1file, v2file string
		dst                   *uint64
		scale                 uint64 // v2 value times this
	}
	for _, s := range []stat{
		{"memory", "memory.usage_in_bytes", "memory.current", &st.MemoryUsage, 1},
		{"memory", "memory.limit_in_bytes", "memory.max", &st.MemoryLimit, 1},
		{"cpuacct", "cpuacct.usage", "cpu.stat", &st.CPUUsage, 1000},
		{"pids", "pids.current", "pids.current", &st.Pids, 1},
		{"pids", "pids.max", "pids.max", &st.PidsLimit, 1},
	} {
		file, scale := "", uint64(1)
		if d := c.dirOf(s.v1ctl); d != "" {
			file = d + "/" + s.v1file
		} else if c.v2 != "" {
			file, scale = c.v2+"/"+s.v2file, s.scale
		} else {
			continue
		}
		v, err := readFile(file)
		if errors.Is(err, fs.ErrNotExist) && file == c.v2+"/"+s.v2file {
			continue // the controller is not enabled for the v2 group
		}
		if err != nil {
			return Stats{}, fmt.Errorf("read stats of cgroup %s: %w", c.path, err)
		}
		n, err := parseStat(strings.TrimSpace(v), "usage_usec")
		if err != nil {
			return Stats{}, fmt.Errorf("read stats of cgroup %s: %s: %w", c.path, file, err)
		}
		*s.dst = n * scale
	}
	// v1's "no limit" is the largest page-aligned number.
	if st.MemoryLimit >= 1<<62 {
		st.MemoryLimit = 0
	}
	return st, nil
}

// parseStat reads a number from a control file: a plain number, "max"
// (0: no limit), or, in a flat keyed file such as cpu.stat, key's value.
func parseStat(v, key string) (uint64, error) {
	if v == "max" {
		return 0, nil
	}
	if strings.ContainsRune(v, '\n') || strings.HasPrefix(v, key+" ") {
		for line := range strings.Lines(v) {
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), key+" "); ok {
				return strconv.ParseUint(n, 10, 64)
			}
		}
		return 0, fmt.Errorf("no %s", key)
	}
	return strconv.ParseUint(v, 10, 64)
}
