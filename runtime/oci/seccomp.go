package oci

import (
	"encoding/hex"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/seccomp"
)

// compileSeccomp is the spec's filter, nil if it has none.
func compileSeccomp(spec *specs.Spec) (*seccomp.Filter, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, nil
	}
	f, err := seccomp.Compile(spec.Linux.Seccomp)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// planSeccomp installs f: the op is "seccomp FLAGS PROGRAM", the program
// (struct sock_filter[]) in hex, since a plan's words end at NUL bytes.
func planSeccomp(p *Plan, f *seccomp.Filter) {
	p.op("seccomp", strconv.FormatUint(uint64(f.Flags), 10), hex.EncodeToString(f.Bytes()))
}
