package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/user"
)

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
	if o.Privileged {
		if all, err := caps.Resolve(nil, nil, true); err == nil {
			bounding = all
		}
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
