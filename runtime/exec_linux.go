package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/cgroups"
	_ "github.com/hutchrt/hutch/runtime/containerinit" // the container's init, and exec's way in, before Go starts
	_ "github.com/hutchrt/hutch/runtime/shim"          // the idle half of a detached monitor
	"github.com/hutchrt/hutch/runtime/user"
)

// ExecOptions is what `hutch exec` asks for.
type ExecOptions struct {
	Args        []string
	Env         []string
	Workdir     string
	User        string
	Interactive bool
	Tty         bool
}

// execStartFailed is the exit code of an exec whose command never started
// (no such user, the container exited meanwhile, ...): Docker's daemon gives
// such an exec 126, as it gives an exec whose command cannot be executed.
const execStartFailed = 126

// Exec runs a command inside a running container, in all its namespaces and
// its cgroup, with its capabilities and seccomp filter, and returns the
// command's exit code (126 or 127 when it cannot start); 125 and an error
// when hutch failed before the command could start (no such container, ...).
//
// The process that enters is the container's init program (runtime/containerinit)
// run from a sealed copy of hutch, with a plan (buildExecPlan) that joins the
// container and then does what the container's init does for its command.
func (s *Store) Exec(ref string, o ExecOptions, stdin *os.File, stdout, stderr *os.File) (int, error) {
	// The exec's process tree is in its own session; pass on what reaches us.
	sigs := catchSignals()
	defer sigs.stop()
	if len(o.Args) == 0 {
		return 125, invalidf("exec: no command given")
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return 125, invalidf("working directory %q is not an absolute path", o.Workdir)
	}
	c, err := s.Get(ref)
	if err != nil {
		return 125, err
	}
	if !c.Running() || !alive(c.Pid, c.PidStart) {
		return 125, fmt.Errorf("container %s is not running", c.Name)
	}
	spec, err := loadSpec(s.Dir(c.ID))
	if err != nil {
		return 125, err
	}
	extra, err := (&RunOptions{Env: o.Env}).environment(os.LookupEnv)
	if err != nil {
		return 125, err
	}
	userSpec := o.User
	if userSpec == "" {
		userSpec = fmt.Sprintf("%d:%d", spec.Process.User.UID, spec.Process.User.GID)
	}
	// Against the container's /etc/passwd, resolved inside its root.
	u, err := user.Lookup(fmt.Sprintf("/proc/%d/root", c.Pid), userSpec)
	if err != nil {
		return execStartFailed, err
	}
	lastCap, err := caps.LastCap()
	if err != nil {
		return 125, err
	}
	cg, err := cgroups.Load(c.ID)
	if err != nil || cg == nil {
		return 125, fmt.Errorf("exec: cgroup of %s: %v", c.Name, err)
	}
	joinFiles, err := openCgroupJoin(cg)
	if err != nil {
		return 125, err
	}
	defer closeAll(joinFiles.tasks)
	defer joinFiles.unified.Close()
	self, err := sealedSelf()
	if err != nil {
		return 125, err
	}
	defer self.Close()
	parentSock, childSock, err := socketPair()
	if err != nil {
		return 125, err
	}
	defer parentSock.Close()
	defer childSock.Close()

	// fd 3 is the sync socket, as for the container's init; fd 4 the binary.
	cmd := exec.Command("/proc/self/fd/4", InitCommand)
	cmd.Env = []string{initEnv + "=1"}
	cmd.ExtraFiles = []*os.File{childSock, self}
	addFile := func(f *os.File) int {
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		return 2 + len(cmd.ExtraFiles)
	}
	var join execJoin
	for _, f := range joinFiles.tasks {
		join.tasks = append(join.tasks, addFile(f))
	}
	for _, kind := range execNamespaces {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", c.Pid, kind))
		if err != nil {
			return 125, fmt.Errorf("exec: %w", err)
		}
		defer f.Close()
		join.ns = append(join.ns, nsFd{fd: addFile(f), kind: kind})
	}
	plan, err := buildExecPlan(spec, execProcess(spec, o, u, extra), join, lastCap)
	if err != nil {
		return 125, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: unix.SIGKILL}
	// Cloned into the v2 group; the plan writes to the v1 tasks files.
	if joinFiles.unified != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(joinFiles.unified.Fd())
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if o.Interactive && !o.Tty {
		cmd.Stdin = stdin
	}
	goruntime.LockOSThread() // Pdeathsig is per thread
	defer goruntime.UnlockOSThread()
	if sig := sigs.interrupted(); sig != 0 {
		return 128 + int(sig), interruptedError(sig)
	}
	if err := cmd.Start(); err != nil {
		return 125, fmt.Errorf("exec: %w", err)
	}
	childSock.Close()
	var tty *terminal
	defer func() {
		if tty != nil {
			tty.close(2 * time.Second)
		}
	}()
	err = sendPlan(parentSock, plan)
	if err == nil {
		err = awaitInit(parentSock, func(ptmx *os.File) {
			tty = attachTerminal(ptmx, stdin, stdout, o.Interactive)
		})
	}
	if err != nil {
		// It exits with the code it reported; hutch's own failures to set
		// it up are, for Docker, a command that could not start.
		var ie *initError
		if !errors.As(err, &ie) {
			cmd.Process.Kill()
		}
		cmd.Wait()
		if ie != nil && ie.Code != 125 {
			return ie.Code, err
		}
		return execStartFailed, err
	}
	sigs.forwardTo(cmd.Process.Pid)
	err = cmd.Wait()
	sigs.stop() // its pid is free for reuse now
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus))), nil
	}
	if err != nil {
		return 125, fmt.Errorf("exec: %w", err)
	}
	return 0, nil
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

// exitStatus is Docker's exit code for a wait status: 128+n for signal n.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
