package oci

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/cgroups"
)

// relativeParent is where a relative linux.cgroupsPath, or none, puts a
// container's group.
const relativeParent = "/hutch-oci"

// cgroupPath is the group the spec asks for, made absolute.
func cgroupPath(spec *specs.Spec, id string) string {
	p := spec.Linux.CgroupsPath
	switch {
	case p == "":
		return relativeParent + "/" + id
	case strings.HasPrefix(p, "/"):
		return path.Clean(p)
	}
	return path.Join(relativeParent, p)
}

// enterCgroup moves pid into cg's v1 groups by cgroup.procs (the slow way:
// a process in a new user namespace cannot write the tasks files itself).
func enterCgroup(cg *cgroups.Cgroup, pid int) error {
	for _, tasks := range cg.TaskFiles() {
		procs := path.Join(path.Dir(tasks), "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

func frozen(cg *cgroups.Cgroup) bool {
	st, err := cg.FreezerState()
	return err == nil && st == cgroups.Frozen
}

func setFrozen(cg *cgroups.Cgroup, freeze bool) error {
	if freeze {
		return cg.Freeze()
	}
	return cg.Thaw()
}

// CgroupBinds are cg's groups by hierarchy name, for
// InitOptions.CgroupBinds.
func CgroupBinds(cg *cgroups.Cgroup) []CgroupBind {
	var out []CgroupBind
	for _, dir := range cg.Dirs() {
		mount := strings.TrimSuffix(dir, cg.Path())
		name := path.Base(mount)
		if mount == "/sys/fs/cgroup" { // a v2-only host
			name = ""
		}
		out = append(out, CgroupBind{Name: name, Source: dir})
	}
	return out
}
