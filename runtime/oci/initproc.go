package oci

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/cgroups"
	_ "github.com/hutchrt/hutch/runtime/containerinit" // the container's init, and exec's way in, before Go starts
)

// InitCommand is the hidden argv[1] of the re-exec'd init; the init itself
// is C (runtime/containerinit), run before the Go runtime starts, and what
// it does is planned in plan.go.
const InitCommand = "_init"

// InitEnv, set in the init's environment, makes the C init take over.
const InitEnv = "_HUTCH_INIT"

// CgroupJoin is what a new process needs to enter a container's cgroup
// without the slow global lock (see package cgroups).
type CgroupJoin struct {
	Unified *os.File   // the v2 group, for CLONE_INTO_CGROUP; nil if none
	Tasks   []*os.File // each v1 group's tasks file, open for writing "0"
}

// OpenCgroupJoin opens cg's ways in.
func OpenCgroupJoin(cg *cgroups.Cgroup) (j CgroupJoin, err error) {
	if dir := cg.UnifiedDir(); dir != "" {
		if j.Unified, err = os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0); err != nil {
			return j, fmt.Errorf("open cgroup: %w", err)
		}
	}
	for _, p := range cg.TaskFiles() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			j.Close()
			return CgroupJoin{}, fmt.Errorf("open cgroup: %w", err)
		}
		j.Tasks = append(j.Tasks, f)
	}
	return j, nil
}

// Close closes what OpenCgroupJoin opened.
func (j CgroupJoin) Close() {
	if j.Unified != nil {
		j.Unified.Close()
	}
	for _, f := range j.Tasks {
		f.Close()
	}
}

// SealedSelf is a sealed in-memory copy of the hutch binary. The process
// that enters a container runs from it, so nothing in the container can reach
// and overwrite the host's binary through /proc/<pid>/exe (CVE-2019-5736).
func SealedSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("hutch", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hutch-sealed")
	// A plain read/write copy: io.Copy would splice, and spliced pages still
	// pinned make F_SEAL_WRITE fail with EBUSY.
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{src}, make([]byte, 256<<10)); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return f, nil
}

// ExitStatus is the shell's exit code for a wait status: 128+n for signal n.
func ExitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
