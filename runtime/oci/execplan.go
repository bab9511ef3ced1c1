package oci

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecJoin says where an exec's process finds the descriptors its plan names.
type ExecJoin struct {
	Tasks []int  // each v1 cgroup's tasks file (the v2 group is joined at clone)
	NS    []NsFd // the container's namespaces, in ExecNamespaces' order
	// Detach: the process that enters reports the command's pid and exits
	// (runc exec --detach); otherwise it waits for the command, passing
	// signals on, and exits with its status.
	Detach bool
	// Preserve hands the command the descriptors at PreserveFirst.. as
	// its 3.. (runc exec --preserve-fds).
	Preserve, PreserveFirst int
}

// ExecNamespaces are the namespaces an exec joins, in order: the user
// namespace first, for the rights in the others; the cgroup namespace after
// the cgroups, so its root is theirs.
var ExecNamespaces = []string{"user", "cgroup", "ipc", "uts", "net", "pid", "mnt"}

// BuildExec plans an exec's process for the container's init program:
// join the container's cgroups and namespaces, fork into its pid namespace,
// then run proc as the container's own command is run, under the
// container's seccomp filter (spec's). It is pure.
func BuildExec(spec *specs.Spec, proc *specs.Process, join ExecJoin, lastCap int) (*Plan, error) {
	p := &Plan{}
	initial, final, err := execAffinity(proc.ExecCPUAffinity)
	if err != nil {
		return nil, err
	}
	if initial != nil { // the v2 group is joined at the clone: the v1 ones
		p.op("affinity", hexWords(initial))
	}
	for _, fd := range join.Tasks {
		p.op("tasks", itoa(fd))
	}
	if final != nil { // after the cgroups (a v1 cpuset's resets it)
		p.op("affinity", hexWords(final))
	}
	for _, ns := range join.NS {
		p.op("setns", itoa(ns.Fd), ns.Kind)
	}
	mode := "wait"
	if join.Detach {
		mode = "detach"
	}
	p.op("fork", mode)
	o := processOptions{preserve: join.Preserve, preserveFirst: join.PreserveFirst}
	if err := planProcess(p, spec, proc, o, lastCap); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	return p, nil
}
