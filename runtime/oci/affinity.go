package oci

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxCPU bounds the CPU numbers an affinity list may name (the kernel's
// NR_CPUS is at most 8192).
const maxCPU = 8191

// execAffinity is an exec's process.execCPUAffinity as two masks: the
// CPUs it runs on while it joins the container's cgroups (initial) and
// after (final); nil: left as the kernel has it. (The container's own
// process has none: config.json's is its execs' default, as runc's.)
func execAffinity(a *specs.CPUAffinity) (initial, final []uint64, err error) {
	if a == nil {
		return nil, nil, nil
	}
	if initial, err = listMask(a.Initial, maxCPU); err != nil {
		return nil, nil, fmt.Errorf("process.execCPUAffinity.initial %q: %w", a.Initial, err)
	}
	if final, err = listMask(a.Final, maxCPU); err != nil {
		return nil, nil, fmt.Errorf("process.execCPUAffinity.final %q: %w", a.Final, err)
	}
	return initial, final, nil
}
