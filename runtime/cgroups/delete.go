package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// deleteTimeout bounds how long Delete waits for killed processes to leave.
const deleteTimeout = 3 * time.Second

// Delete kills every process left in the group and removes the group (and
// any group the container made below it) from every hierarchy. A group
// already gone is not an error. Processes take a moment to leave a group
// after SIGKILL, so removal is retried until deleteTimeout.
func (c *Cgroup) Delete() error {
	dirs := c.Dirs()
	deadline := time.Now().Add(deleteTimeout)
	delay := 5 * time.Millisecond
	for {
		var trees [][]string
		for _, d := range dirs {
			trees = append(trees, subtree(d))
		}
		killAll(slices.Concat(trees...))
		var left []string
		var errs []error
		for i, t := range trees {
			if err := removeTree(t); err != nil {
				left = append(left, dirs[i])
				errs = append(errs, err)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("delete cgroup %s: %w", c.path, errors.Join(errs...))
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
		dirs = left
	}
}

// subtree lists dir and every group below it, parents first. A missing dir
// gives an empty list.
func subtree(dir string) []string {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	out := []string{dir}
	for i := 0; i < len(out); i++ {
		entries, err := os.ReadDir(out[i])
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join(out[i], e.Name()))
			}
		}
	}
	return out
}

// removeTree removes the groups of a subtree, children first.
func removeTree(tree []string) error {
	for _, d := range slices.Backward(tree) {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", d, err)
		}
	}
	return nil
}

// killAll sends SIGKILL to every process in the given groups. On v2,
// cgroup.kill does it atomically, forks included; the per-pid pass covers v1
// and kernels without cgroup.kill.
func killAll(groups []string) {
	for _, d := range groups {
		// Missing on v1 and before Linux 5.14; the loop below does it then.
		if f, err := os.OpenFile(filepath.Join(d, "cgroup.kill"), os.O_WRONLY, 0); err == nil {
			_, _ = f.Write([]byte("1"))
			f.Close()
		}
	}
	for _, d := range groups {
		procs := filepath.Join(d, "cgroup.procs")
		pids, err := readPids(procs)
		if err != nil {
			continue
		}
		for _, pid := range pids {
			killPid(procs, pid)
		}
	}
}

// killPid kills pid if it is still listed in procs. The pid was read a
// moment ago and may since have been reused by an unrelated process: take
// a pidfd first, then check the pid is still in the group. If the number
// changed hands after that, the pidfd refers to a process that is already
// dead and the signal does nothing.
func killPid(procs string, pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	pids, err := readPids(procs)
	if err != nil || !slices.Contains(pids, pid) {
		return
	}
	_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
}

func readPids(path string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var pids []int
	s := bufio.NewScanner(f)
	for s.Scan() {
		if pid, err := strconv.Atoi(s.Text()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, s.Err()
}
