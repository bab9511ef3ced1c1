package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Top runs the host's ps with args (Docker's default: -ef) and keeps the
// rows of the container's processes (those in its cgroup).
func (s *Store) Top(ref string, args []string) (header []string, rows [][]string, err error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, nil, err
	}
	if !c.Running() {
		return nil, nil, fmt.Errorf("container %s is not running", c.Name)
	}
	pids, err := s.ociRuntime().Pids(c.ID)
	if cg, older := olderRun(err, c.ID); older {
		pids, err = cg.Pids()
	}
	if err != nil {
		return nil, nil, err
	}
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return nil, nil, invalidf("ps %s: %s", strings.Join(args, " "), strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, nil, fmt.Errorf("ps: %w", err)
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	return filterPs(string(out), in)
}

// filterPs keeps the lines of ps's output whose PID column is in pids, as
// Docker's top: fields split on blanks, the last column takes the rest.
func filterPs(out string, pids map[int]bool) (header []string, rows [][]string, err error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header = strings.Fields(lines[0])
	col := -1
	for i, h := range header {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, nil, invalidf("ps's output has no PID column (give ps options that show it)")
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil || !pids[pid] {
			continue
		}
		if len(f) > len(header) {
			f = append(f[:len(header)-1], strings.Join(f[len(header)-1:], " "))
		}
		rows = append(rows, f)
	}
	return header, rows, nil
}

// Change is one line of diff: A (added), C (changed) or D (deleted), and a
// path in the container.
type Change struct {
	Kind string
	Path string
}

// Diff lists what the container changed in its filesystem: everything in
// its overlay's upper directory, a whiteout as D, a path the image has as C,
// the rest as A. Volumes and binds are not in the upper dir, as in Docker.
func (s *Store) Diff(ref string) ([]Change, error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	spec, err := loadSpec(s.Dir(c.ID))
	if err != nil {
		return nil, err
	}
	lowers := strings.Split(spec.Annotations[annotLowerDir], ":")
	upper := filepath.Join(s.Dir(c.ID), "upper")
	var out []Change
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == upper {
			return filepath.SkipDir // never started: no changes
		}
		if err != nil {
			return err
		}
		if p == upper {
			return nil
		}
		rel := strings.TrimPrefix(p, upper)
		kind := "A"
		if inLower(lowers, rel) {
			kind = "C"
		}
		if d.Type()&fs.ModeCharDevice != 0 {
			var st unix.Stat_t
			if unix.Lstat(p, &st) == nil && st.Rdev == 0 {
				kind = "D" // an overlay whiteout
			}
		}
		out = append(out, Change{Kind: kind, Path: rel})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", c.Name, err)
	}
	return out, nil
}

func inLower(lowers []string, rel string) bool {
	for _, l := range lowers {
		if l == "" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
			return true
		}
	}
	return false
}
