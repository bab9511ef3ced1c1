package oci

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// planTimeNamespace makes the container's new time namespace, with the
// clocks' offsets of linux.timeOffsets written before any process is in
// it (time_namespaces(7): they are fixed from then on). The init itself
// stays outside; the command enters it at its exec.
func planTimeNamespace(p *Plan, spec *specs.Spec) error {
	found, joined := hasNamespace(spec, specs.TimeNamespace)
	offsets := spec.Linux.TimeOffsets
	switch {
	case len(offsets) > 0 && !found:
		return errors.New("linux.timeOffsets: needs a time namespace of the container's own (linux.namespaces type time)")
	case len(offsets) > 0 && joined:
		return errors.New("linux.timeOffsets: the time namespace is joined by path: its offsets are set already")
	case !found || joined:
		return nil
	}
	p.op("timens")
	if len(offsets) == 0 {
		return nil
	}
	var lines []string
	for _, clock := range sortedKeys(offsets) {
		o := offsets[clock]
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("linux.timeOffsets: clock %q: not monotonic or boottime", clock)
		}
		if o.Nanosecs >= 1e9 {
			return fmt.Errorf("linux.timeOffsets: %s: nanosecs %d is a second or more", clock, o.Nanosecs)
		}
		lines = append(lines, fmt.Sprintf("%s %d %d", clock, o.Secs, o.Nanosecs))
	}
	p.op("write", "/proc/self/timens_offsets", strings.Join(lines, "\n"))
	return nil
}
