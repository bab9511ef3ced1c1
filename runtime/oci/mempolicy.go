package oci

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mpolModeOf is set_mempolicy(2)'s mode for the spec's names.
var mpolModeOf = map[specs.MemoryPolicyModeType]int{
	specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
	specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
}

// mpolFlagOf is set_mempolicy(2)'s mode flags for the spec's names.
var mpolFlagOf = map[specs.MemoryPolicyFlagType]int{
	specs.MpolFNumaBalancing: 1 << 13, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFStaticNodes: 1 << 15,
}

// maxNumaNode bounds the node numbers a nodes list may name (the
// kernel's MAX_NUMNODES is at most 1024).
const maxNumaNode = 1023

// planMemoryPolicy sets linux.memoryPolicy (set_mempolicy(2)) for the
// container's process and its execs: the kernel checks the nodes against
// the host's; the rest is checked here, before anything is made.
func planMemoryPolicy(p *Plan, mp *specs.LinuxMemoryPolicy) error {
	if mp == nil {
		return nil
	}
	mode, ok := mpolModeOf[mp.Mode]
	if !ok {
		return fmt.Errorf("linux.memoryPolicy.mode %q: not one of %s", mp.Mode, joinKeys(mpolModeOf))
	}
	for _, f := range mp.Flags {
		bit, ok := mpolFlagOf[f]
		if !ok {
			return fmt.Errorf("linux.memoryPolicy.flags: %q is not one of %s", f, joinKeys(mpolFlagOf))
		}
		mode |= bit
	}
	words, err := nodeMask(mp.Nodes)
	if err != nil {
		return fmt.Errorf("linux.memoryPolicy.nodes %q: %w", mp.Nodes, err)
	}
	switch mp.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if words != nil {
			return fmt.Errorf("linux.memoryPolicy: %s takes no nodes", mp.Mode)
		}
	case specs.MpolBind, specs.MpolInterleave, specs.MpolWeightedInterleave, specs.MpolPreferredMany:
		if words == nil {
			return fmt.Errorf("linux.memoryPolicy: %s needs nodes", mp.Mode)
		}
	}
	p.op("mempolicy", itoa(mode), hexWords(words))
	return nil
}

// nodeMask turns a node list ("0-3,7") into set_mempolicy's nodemask, in
// 64-bit words; nil for an empty list.
func nodeMask(list string) ([]uint64, error) { return listMask(list, maxNumaNode) }

// listMask turns a list of numbers and ranges ("0-3,7", a cpuset's form)
// into a bit mask in 64-bit words; nil for an empty list.
func listMask(list string, max int) ([]uint64, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var words []uint64
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		switch {
		case err != nil || first < 0:
			return nil, fmt.Errorf("%q is not a number or a range", part)
		case last < first:
			return nil, fmt.Errorf("range %q ends before it starts", part)
		case last > max:
			return nil, errors.New("a number over " + strconv.Itoa(max))
		}
		for n := first; n <= last; n++ {
			for len(words) <= n/64 {
				words = append(words, 0)
			}
			words[n/64] |= 1 << (n % 64)
		}
	}
	return words, nil
}

// hexWords is a mask as the init reads it: 64-bit words in hex, comma-separated.
func hexWords(words []uint64) string {
	hex := make([]string, len(words))
	for i, w := range words {
		hex[i] = strconv.FormatUint(w, 16)
	}
	return strings.Join(hex, ",")
}
