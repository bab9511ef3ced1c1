package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hutchrt/hutch/runtime/cgroups"
)

// Sample is one reading of a container's resource use, for stats.
type Sample struct {
	At               time.Time
	CPU              uint64 // ns of CPU time, all CPUs
	MemUsage         uint64
	MemLimit         uint64 // 0: none (stats shows the host's memory)
	NetRx, NetTx     uint64 // bytes, every interface but lo
	BlockRd, BlockWr uint64
	Pids             uint64
}

// Sample reads a running container's cgroup and network counters; a
// stopped container gives a zero Sample.
func (s *Store) Sample(c *Container) (Sample, error) {
	sm := Sample{At: time.Now()}
	if !c.Running() {
		return sm, nil
	}
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		return sm, err
	}
	st, err := cg.Stats()
	if err != nil {
		return sm, err
	}
	sm.CPU, sm.MemUsage, sm.MemLimit, sm.Pids = st.CPUUsage, st.MemoryUsage, st.MemoryLimit, st.Pids
	if sm.BlockRd, sm.BlockWr, err = cg.BlockIO(); err != nil {
		return sm, err
	}
	// The init's /proc/PID/net/dev is its network namespace's.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", c.Pid)); err == nil && alive(c.Pid, c.PidStart) {
		sm.NetRx, sm.NetTx = parseNetDev(string(b))
	}
	return sm, nil
}

// parseNetDev sums received and sent bytes over /proc/net/dev's
// interfaces, loopback left out (Docker counts the container's networks).
func parseNetDev(s string) (rx, tx uint64) {
	for line := range strings.Lines(s) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx
}
