package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

func loadCgroup(p string) (*cgroups.Cgroup, error) { return cgroups.LoadPath(p) }

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

// groupDirs are cg's directories: each v1 hierarchy's, then v2's.
func groupDirs(cg *cgroups.Cgroup) []string {
	var dirs []string
	for _, t := range cg.TaskFiles() {
		dirs = append(dirs, path.Dir(t))
	}
	if d := cg.UnifiedDir(); d != "" {
		dirs = append(dirs, d)
	}
	return dirs
}

// cgroupPids are the processes in cg and its subgroups, from the first
// hierarchy that has the group.
func cgroupPids(cg *cgroups.Cgroup) ([]int, error) {
	dirs := groupDirs(cg)
	if len(dirs) == 0 {
		return nil, nil
	}
	var pids []int
	err := filepath.WalkDir(dirs[0], func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids, err
}

// freezerDir is cg's v1 freezer group, or "" (then v2's cgroup.freeze).
func freezerDir(cg *cgroups.Cgroup) string {
	for _, d := range groupDirs(cg) {
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			return d
		}
	}
	return ""
}

func frozen(cg *cgroups.Cgroup) bool {
	if d := freezerDir(cg); d != "" {
		b, _ := os.ReadFile(filepath.Join(d, "freezer.state"))
		return strings.TrimSpace(string(b)) != "THAWED"
	}
	if d := cg.UnifiedDir(); d != "" {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.freeze"))
		return strings.TrimSpace(string(b)) == "1"
	}
	return false
}

// setFrozen freezes or thaws cg and waits until the kernel says it is done.
func setFrozen(cg *cgroups.Cgroup, freeze bool) error {
	file, value, want := "", "", ""
	if d := freezerDir(cg); d != "" {
		file, value, want = filepath.Join(d, "freezer.state"), "THAWED", "THAWED"
		if freeze {
			value, want = "FROZEN", "FROZEN"
		}
	} else if d := cg.UnifiedDir(); d != "" {
		if _, err := os.Stat(filepath.Join(d, "cgroup.freeze")); err == nil {
			file, value, want = filepath.Join(d, "cgroup.freeze"), "0", "0"
			if freeze {
				value, want = "1", "1"
			}
		}
	}
	if file == "" {
		return errors.New("no freezer cgroup on this host")
	}
	for i := 0; i < 1000; i++ {
		if err := os.WriteFile(file, []byte(value), 0); err != nil {
			return fmt.Errorf("freezer: %w", err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("freezer: %w", err)
		}
		if strings.TrimSpace(string(b)) == want {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("freezer: the group did not settle")
}

// cgroupBinds are cg's groups (at path) by hierarchy name.
func cgroupBinds(cg *cgroups.Cgroup, p string) []CgroupBind {
	var out []CgroupBind
	for _, dir := range groupDirs(cg) {
		mount := strings.TrimSuffix(dir, p)
		name := path.Base(mount)
		if mount == "/sys/fs/cgroup" { // a v2-only host
			name = ""
		}
		out = append(out, CgroupBind{Name: name, Source: dir})
	}
	return out
}
