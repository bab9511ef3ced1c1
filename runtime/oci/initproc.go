package oci

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

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
func (j CgroupJoin) Close() error {
	if j.Unified != nil {
		j.Unified.Close()
	}
	for _, f := range j.Tasks {
		f.Close()
	}
	return nil
}

// sealedSelf is a sealed in-memory copy of the hutch binary. The process
// that enters a container runs from it, so nothing in the container can reach
// and overwrite the host's binary through /proc/<pid>/exe (CVE-2019-5736).
func sealedSelf() (*os.File, error) {
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

// InitClone says how to clone a container's init.
type InitClone struct {
	Cloneflags uintptr    // the namespaces the clone makes
	Cgroup     CgroupJoin // cloned into its v2 group; the plan joins the v1 ones
	// Files go to the init after its sync socket: Files[i] is at FileFd(i),
	// where its plan names it (namespaces to join, tasks files, the fifo).
	Files                 []*os.File
	Stdin, Stdout, Stderr *os.File // nil: /dev/null
	// DieWithParent kills the init when the thread that cloned it exits
	// (hutch's monitor); an OCI init outlives `create`.
	DieWithParent bool
	// UIDMappings and GIDMappings make the init root in the new user
	// namespace the clone makes (CLONE_NEWUSER in Cloneflags).
	UIDMappings, GIDMappings []syscall.SysProcIDMap
	Arg                      string // shown in the init's argv, for ps
	// Sealed runs the init from a sealed copy of hutch (sealedSelf): an
	// exec's process enters a running container, whose processes could
	// otherwise reach the host's binary through /proc/<pid>/exe.
	Sealed bool
}

// FileFd is where the init finds InitClone.Files[i].
func FileFd(i int) int { return 4 + i }

// Init is a cloned init before its command runs, and its sync socket.
type Init struct {
	Cmd  *exec.Cmd
	sock *os.File
}

// Clone clones the init program (runtime/containerinit) into new
// namespaces and the cgroup; it waits for its plan (Send).
func Clone(c InitClone) (*Init, error) {
	binary, files := "/proc/self/exe", append([]*os.File{}, c.Files...)
	if c.Sealed {
		self, err := sealedSelf()
		if err != nil {
			return nil, err
		}
		defer self.Close()
		binary = fmt.Sprintf("/proc/self/fd/%d", FileFd(len(files)))
		files = append(files, self)
	}
	parent, child, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer child.Close()
	args := []string{InitCommand}
	if c.Arg != "" {
		args = append(args, c.Arg)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{InitEnv + "=1"}
	cmd.ExtraFiles = append([]*os.File{child}, files...)
	// Only files that are there: a nil *os.File in the io interfaces would
	// not be exec's nil (which is /dev/null).
	if c.Stdin != nil {
		cmd.Stdin = c.Stdin
	}
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	if c.Stderr != nil {
		cmd.Stderr = c.Stderr
	}
	// Setsid: a terminal's signals reach the runtime, which passes them on once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: c.Cloneflags, Setsid: true}
	if c.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = unix.SIGKILL
	}
	if c.Cgroup.Unified != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(c.Cgroup.Unified.Fd())
	}
	if c.Cloneflags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings, cmd.SysProcAttr.GidMappings = c.UIDMappings, c.GIDMappings
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// The clone keeps the host's ids, unmapped there: become the
		// namespace's root before the exec, which then gives the init its
		// capabilities in the namespace.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	if err := cmd.Start(); err != nil {
		parent.Close()
		return nil, fmt.Errorf("start init: %w", err)
	}
	return &Init{Cmd: cmd, sock: parent}, nil
}

// Pid is the init's pid.
func (i *Init) Pid() int { return i.Cmd.Process.Pid }

// Send sends the init its plan.
func (i *Init) Send(p *Plan) error { return sendPlan(i.sock, p) }

// Await reads the init's messages until its verdict (see await).
func (i *Init) Await(ev Events) error { return await(i.sock, ev) }

// Close lets go of the sync socket.
func (i *Init) Close() error { return i.sock.Close() }

// Kill kills the init and reaps it: the undo of Clone.
func (i *Init) Kill() {
	i.Cmd.Process.Kill()
	i.Cmd.Wait()
}
