package runtime

import (
	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/seccomp"
)

// seccompProfile is the container's seccomp profile, picked as Docker picks
// it: none when privileged or unconfined, else the given profile or Docker's
// default (github.com/moby/profiles/seccomp, Docker's own), either resolved
// for the capabilities in spec. A given profile is compiled here too, so a
// bad one fails before anything exists.
func seccompProfile(so securityOpts, privileged bool, spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch {
	case privileged || so.seccomp == "unconfined":
		return nil, nil
	case so.seccomp == "":
		return profiles.GetDefaultProfile(spec)
	}
	p, err := profiles.LoadProfile(so.seccomp, spec)
	if err != nil {
		return nil, invalidf("--security-opt seccomp: %v", err)
	}
	if p != nil {
		if _, err := seccomp.Compile(p); err != nil {
			return nil, invalidf("--security-opt %v", err)
		}
	}
	return p, nil
}
