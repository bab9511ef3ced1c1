package cgroups

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/hutchrt/hutch/runtime/mountinfo"
)

// unifiedRoot is where a cgroup2-only host mounts the v2 tree.
const unifiedRoot = "/sys/fs/cgroup"

// layout says where groups live on this host.
type layout struct {
	v1      []hierarchy // v1 hierarchies, in the order groups are joined
	v2      string      // mountpoint of the cgroup2 tree, "" if none
	limits2 bool        // limits go to the v2 tree (unified mode) rather than v1
}

// hierarchy is one mounted cgroup v1 hierarchy.
type hierarchy struct {
	dir         string   // its mountpoint
	controllers []string // e.g. "cpu", "cpuacct"; named ones as "name=systemd"
	noprefix    bool     // cpuset files lack their "cpuset." prefix
}

func (h hierarchy) has(controller string) bool {
	return slices.Contains(h.controllers, controller)
}

// hostLayout reads this process's layout once, on first use: hutch commands
// that never touch a cgroup do not pay for it.
var hostLayout = sync.OnceValues(func() (layout, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return layout{}, err
	}
	return parseMountinfo(string(b))
})

// v1Order is the order in which the v1 hierarchies are joined and listed by
// TaskFiles (the one containerd/cgroups used). Hierarchies with none of
// these controllers come last, in mount order.
var v1Order = []string{
	"name=systemd", "freezer", "pids", "net_cls", "net_prio", "perf_event",
	"cpuset", "cpu", "cpuacct", "memory", "blkio", "rdma", "devices", "hugetlb",
}

func rank(h hierarchy) int {
	r := len(v1Order)
	for _, c := range h.controllers {
		if i := slices.Index(v1Order, c); i >= 0 && i < r {
			r = i
		}
	}
	return r
}

// mount is the part of a mountinfo line parseMountinfo needs.
type mount struct {
	id, parent, dev, dir, fstype, super string
}

// parseMountinfo works out the layout from /proc/self/mountinfo:
//
//   - unified: cgroup2 at /sys/fs/cgroup; v1 mounts, if any, are ignored;
//   - legacy: v1 hierarchies only;
//   - hybrid: v1 hierarchies, which get the limits, and a cgroup2 tree
//     elsewhere (/sys/fs/cgroup/unified), which gets only the group;
//   - a cgroup2 tree mounted elsewhere and no v1 counts as unified.
//
// Mounts hidden by another mount are skipped. A hierarchy mounted twice is
// used through its mount under /sys/fs/cgroup, else its first one.
func parseMountinfo(info string) (layout, error) {
	var all, cg []mount
	for line := range strings.Lines(info) {
		m, ok := parseMountLine(strings.TrimSuffix(line, "\n"))
		if !ok {
			continue
		}
		all = append(all, m)
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			cg = append(cg, m)
		}
	}
	parents := make(map[string]string, len(all))
	for _, m := range all {
		parents[m.id] = m.parent
	}
	cg = slices.DeleteFunc(cg, func(m mount) bool { return hidden(m, all, parents) })
	// Under /sys/fs/cgroup first, keeping mount order otherwise.
	slices.SortStableFunc(cg, func(a, b mount) int {
		return boolInt(!underSysFS(a.dir)) - boolInt(!underSysFS(b.dir))
	})

	var l layout
	seen := map[string]bool{}
	for _, m := range cg {
		if seen[m.dev] {
			continue
		}
		seen[m.dev] = true
		if m.fstype == "cgroup2" {
			if l.v2 == "" || m.dir == unifiedRoot {
				l.v2 = m.dir
			}
			continue
		}
		h := hierarchy{dir: m.dir}
		for _, o := range strings.Split(m.super, ",") {
			switch {
			case o == "noprefix":
				h.noprefix = true
			case strings.HasPrefix(o, "name=") || slices.Contains(v1Controllers, o):
				h.controllers = append(h.controllers, o)
			}
		}
		l.v1 = append(l.v1, h)
	}
	if l.v2 == unifiedRoot || l.v2 != "" && len(l.v1) == 0 {
		return layout{v2: l.v2, limits2: true}, nil
	}
	if len(l.v1) == 0 {
		return layout{}, errors.New("no cgroup filesystem mounted")
	}
	slices.SortStableFunc(l.v1, func(a, b hierarchy) int { return rank(a) - rank(b) })
	return l, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func underSysFS(dir string) bool {
	return dir == unifiedRoot || strings.HasPrefix(dir, unifiedRoot+"/")
}

// hidden tells whether mount m cannot be reached by its path: some other
// mount sits on its directory or on a directory above it, without being
// one of the mounts m itself hangs from. (mountinfo is not in parent-first
// order, so the mount tree is followed rather than the line order.)
func hidden(m mount, all []mount, parents map[string]string) bool {
	chain := map[string]bool{m.id: true}
	for id := m.parent; id != "" && !chain[id]; id = parents[id] {
		chain[id] = true
	}
	for _, a := range all {
		if !chain[a.id] && (a.dir == m.dir || a.dir == "/" || strings.HasPrefix(m.dir, a.dir+"/")) {
			return true
		}
	}
	return false
}

// v1Controllers are the controllers a v1 hierarchy can have; its other
// super options (rw, xattr, seclabel, release_agent=...) are mount options.
var v1Controllers = []string{
	"cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
	"net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc", "debug",
}

// parseMountLine splits a mountinfo line:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// into mount id, parent id, device (1st to 3rd fields), mountpoint (5th),
// and, after the "-", filesystem type and super options (1st and 3rd).
func parseMountLine(line string) (mount, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return mount{}, false
	}
	f := strings.Fields(pre)
	p := strings.Fields(post)
	if len(f) < 6 || len(p) < 3 {
		return mount{}, false
	}
	return mount{id: f[0], parent: f[1], dev: f[2], dir: mountinfo.Unescape(f[4]), fstype: p[0], super: p[2]}, true
}
