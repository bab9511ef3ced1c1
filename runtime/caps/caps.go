// Package caps decides which Linux capabilities a container gets and turns
// them into the masks the init (runtime/containerinit) applies just before
// the container's command, or an exec's, is executed.
//
// Names are the kernel's ("CAP_CHOWN"), as in the OCI spec. Resolution follows
// Docker's --cap-add/--cap-drop/--privileged rules, except that a capability
// missing from this host's bounding set is silently left out: no process can
// grant it, and "--cap-add ALL" or "--privileged" must still work on hosts
// whose bounding set was narrowed (as on the CI host, which lacks
// CAP_SYS_RESOURCE).
package caps

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultCaps is Docker's default set (moby oci/caps/defaults.go), in Docker's order.
var defaultCaps = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// Default returns Docker's default capability set. The slice is a fresh copy.
func Default() []string {
	return slices.Clone(defaultCaps)
}

// byName maps "CAP_CHOWN" to its number for every capability the library knows.
var byName = func() map[string]capability.Cap {
	m := make(map[string]capability.Cap)
	for _, c := range capability.ListKnown() {
		m[name(c)] = c
	}
	return m
}()

func name(c capability.Cap) string {
	return "CAP_" + strings.ToUpper(c.String())
}

// Host returns the capabilities in the calling thread's bounding set, sorted:
// everything --privileged may grant on this host.
func Host() ([]string, error) {
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("list supported capabilities: %w", err)
	}
	var out []string
	for _, c := range supported {
		ok, err := capability.GetBound(c)
		if err != nil {
			return nil, fmt.Errorf("read bounding set: %w", err)
		}
		if ok {
			out = append(out, name(c))
		}
	}
	slices.Sort(out)
	return out, nil
}

// Resolve computes a container's capability list with Docker's semantics:
// privileged gets every host capability (add and drop are then ignored, as in
// Docker); otherwise "ALL" in add means every host capability minus drop,
// "ALL" in drop means only add, and else Default() minus drop plus add.
// Names are case-insensitive, with or without the CAP_ prefix. The result is
// sorted, without duplicates, and holds only capabilities of the host's
// bounding set.
func Resolve(add, drop []string, privileged bool) ([]string, error) {
	host, err := Host()
	if err != nil {
		return nil, err
	}
	if privileged {
		return host, nil
	}
	addN, err := normalize(add)
	if err != nil {
		return nil, err
	}
	dropN, err := normalize(drop)
	if err != nil {
		return nil, err
	}
	return resolve(host, addN, dropN), nil
}

// resolve is Resolve's pure core; add and drop are already normalized.
func resolve(host, add, drop []string) []string {
	var caps []string
	switch {
	case slices.Contains(add, "ALL"):
		for _, c := range host {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		caps = slices.Clone(add)
	default:
		for _, c := range defaultCaps {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, add...)
	}
	caps = slices.DeleteFunc(caps, func(c string) bool {
		return c == "ALL" || !slices.Contains(host, c)
	})
	slices.Sort(caps)
	return slices.Compact(caps)
}

// normalize turns user input ("net_admin", "CAP_NET_ADMIN", "all") into
// canonical names ("CAP_NET_ADMIN", "ALL").
func normalize(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if _, ok := byName[c]; !ok {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
		out = append(out, c)
	}
	return out, nil
}

// Sets builds the OCI capability sets for a process running as uid, the way
// Docker does. Root gets caps in Bounding, Effective and Permitted; a non-root
// user only in Bounding, so it has no effective capabilities (what execve
// would leave it anyway). Inheritable and Ambient stay empty for everyone:
// Docker stopped filling Inheritable after CVE-2022-24769 (inheritable caps
// survive a setuid to a non-root user and are then granted by any file with
// inheritable file capabilities), and root needs neither to keep its
// capabilities across execve.
func Sets(caps []string, uid uint32) *specs.LinuxCapabilities {
	s := &specs.LinuxCapabilities{
		Bounding:    append([]string{}, caps...),
		Effective:   []string{},
		Permitted:   []string{},
		Inheritable: []string{},
		Ambient:     []string{},
	}
	if uid == 0 {
		s.Effective = append([]string{}, caps...)
		s.Permitted = append([]string{}, caps...)
	}
	return s
}

// Mask is the bit mask of the named capabilities, bit n for capability n,
// as capset(2) and the init (runtime/containerinit) take them.
func Mask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		m |= 1 << uint(c)
	}
	return m, nil
}

// LastCap is the highest capability number the running kernel knows.
func LastCap() (int, error) {
	c, err := capability.LastCap()
	if err != nil {
		return 0, fmt.Errorf("read the last capability: %w", err)
	}
	return int(c), nil
}

// Known is every capability name the library knows, sorted.
func Known() []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
