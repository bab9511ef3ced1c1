package cgroups

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// minMemory is Docker's lowest accepted --memory: below it a container
// cannot even start its runtime.
const minMemory = 6 << 20

// cpuPeriod is the CFS period used for --cpus, in microseconds (Docker's).
const cpuPeriod = 100000

// Resources turns the --memory, --cpus and --pids-limit flags into OCI
// resource limits, with the swap Docker gives a --memory. An empty string,
// a zero (--memory 0, --cpus 0) or a pidsLimit <= 0 means no limit, as in
// Docker (where -1 and 0 both mean an unlimited --pids-limit). It never returns a nil LinuxResources on success.
func Resources(memory, cpus string, pidsLimit int64) (*specs.LinuxResources, error) {
	return resources(memory, cpus, pidsLimit, runtime.NumCPU())
}

// resources is Resources with the CPU count as a parameter, for tests.
func resources(memory, cpus string, pidsLimit int64, ncpu int) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if memory != "" {
		n, err := parseMemory(memory)
		if err != nil {
			return nil, fmt.Errorf("invalid --memory %q: %w", memory, err)
		}
		if n > 0 {
			swap := dockerSwap(n)
			r.Memory = &specs.LinuxMemory{Limit: &n, Swap: &swap}
		}
	}
	if cpus != "" {
		quota, err := parseCPUs(cpus, ncpu)
		if err != nil {
			return nil, fmt.Errorf("invalid --cpus %q: %w", cpus, err)
		}
		if quota > 0 {
			period := uint64(cpuPeriod)
			r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
		}
	}
	if pidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: &pidsLimit}
	}
	return r, nil
}

// dockerSwap is the memory+swap limit Docker sets when only --memory is
// given: twice the memory (-1, unlimited, if that overflows).
func dockerSwap(limit int64) int64 {
	if limit > math.MaxInt64/2 {
		return -1
	}
	return 2 * limit
}

// sizeRE accepts Docker's size forms: "1048576", "100k", "512m", "1g",
// "1.5g", "512mb", "512MiB", "10b"; case-insensitive.
var sizeRE = sync.OnceValue(func() *regexp.Regexp { // compiled on first use: not every start has -m
	return regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?) ?([bkmg])?(?:i?b)?$`)
})

func parseMemory(s string) (int64, error) {
	m := sizeRE().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, errors.New("want a size such as 512m or 1g (units b, k, m, g)")
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	switch strings.ToLower(m[2]) {
	case "k":
		f *= 1 << 10
	case "m":
		f *= 1 << 20
	case "g":
		f *= 1 << 30
	}
	if f >= math.MaxInt64 {
		return 0, errors.New("size too large")
	}
	n := int64(f)
	if n == 0 {
		return 0, nil // Docker's "no limit"
	}
	if n < minMemory {
		return 0, errors.New("minimum memory limit allowed is 6MB")
	}
	return n, nil
}

// parseCPUs returns the CFS quota for a --cpus value, for period cpuPeriod.
func parseCPUs(s string, ncpu int) (int64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) {
		return 0, errors.New("want a number of CPUs such as 1.5")
	}
	if f == 0 {
		return 0, nil // Docker's "no limit"
	}
	quota := math.Round(f * cpuPeriod)
	// 1000µs (0.01 CPU) is the smallest quota the kernel accepts.
	if quota < 1000 || f > float64(ncpu) {
		return 0, fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
	}
	return int64(quota), nil
}
