package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/user"
)

// execJoin says where an exec's process finds the descriptors its plan names.
type execJoin struct {
	tasks []int  // each v1 cgroup's tasks file (the v2 group is joined at clone)
	ns    []nsFd // the container's namespaces, in execNamespaces' order
}

type nsFd struct {
	fd   int
	kind string // as in /proc/<pid>/ns/ and the setns op
}

// execNamespaces are the container's namespaces an exec joins, in order:
// the cgroup namespace after the cgroups, so its root is theirs.
var execNamespaces = []string{"cgroup", "ipc", "uts", "net", "pid", "mnt"}

// buildExecPlan plans an exec's process for the container's init program:
// join the container's cgroups and namespaces, fork into its pid namespace,
// then run proc as the container's own command is run, under the
// container's seccomp filter (spec's). It is pure.
func buildExecPlan(spec *specs.Spec, proc *specs.Process, join execJoin, lastCap int) (*initPlan, error) {
	p := &initPlan{}
	for _, fd := range join.tasks {
		p.op("tasks", itoa(fd))
	}
	for _, ns := range join.ns {
		p.op("setns", itoa(ns.fd), ns.kind)
	}
	p.op("fork")
	if err := planProcess(p, spec, proc, false, false, lastCap); err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, invalidf("%v", p.err)
	}
	return p, nil
}

// execProcess is what an exec runs: o's command in the container's
// environment (with o's additions, and HOME of u unless set), in its working
// directory unless o names one, as u with the capabilities the container's
// bounding set gives u, and with the container's no_new_privs and rlimits.
func execProcess(spec *specs.Spec, o ExecOptions, u user.User, extraEnv []string) *specs.Process {
	env := spec.Process.Env
	if o.User != "" {
		env = withoutEnv(env, "HOME") // the exec's user brings its own home
	}
	env = mergeEnv(env, extraEnv)
	if u.Home != "" && !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	cwd := spec.Process.Cwd
	if o.Workdir != "" {
		cwd = o.Workdir
	}
	var bounding []string
	if spec.Process.Capabilities != nil {
		bounding = spec.Process.Capabilities.Bounding
	}
	return &specs.Process{
		Terminal:        o.Tty,
		Args:            o.Args,
		Env:             env,
		Cwd:             cwd,
		User:            specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids},
		Capabilities:    caps.Sets(bounding, u.UID),
		NoNewPrivileges: spec.Process.NoNewPrivileges,
		Rlimits:         spec.Process.Rlimits,
	}
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if envKey(e) != key {
			out = append(out, e)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if envKey(e) == key {
			return true
		}
	}
	return false
}
