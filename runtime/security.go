package runtime

import (
	"encoding/hex"
	"strconv"

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

// compileSeccomp is the spec's filter, nil if it has none.
func compileSeccomp(spec *specs.Spec) (*seccomp.Filter, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, nil
	}
	f, err := seccomp.Compile(spec.Linux.Seccomp)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	return f, nil
}

// planSeccomp installs f: the op is "seccomp FLAGS PROGRAM", the program
// (struct sock_filter[]) in hex, since a plan's words end at NUL bytes.
func planSeccomp(p *initPlan, f *seccomp.Filter) {
	p.op("seccomp", strconv.FormatUint(uint64(f.Flags), 10), hex.EncodeToString(f.Bytes()))
}
