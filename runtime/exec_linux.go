package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/oci"
	_ "github.com/hutchrt/hutch/runtime/shim" // the idle half of a detached monitor
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
	Privileged  bool // every capability, as exec --privileged
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
// run from a sealed copy of hutch (oci.Clone), with a plan (oci.BuildExec)
// that joins the container and then does what the container's init does for
// its command.
func (s *Store) Exec(ref string, o ExecOptions, stdin *os.File, stdout, stderr *os.File) (code int, err error) {
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
	if c.IsPaused() { // the exec would join the freeze and hang
		return 125, fmt.Errorf("container %s is paused: unpause it first", c.Name)
	}
	defer s.execEvents(c, o.Args)(&code)
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
	o2 := oci.ExecOptions{Spec: spec, Stdio: []*os.File{nil, stdout, stderr}}
	if o.Interactive && !o.Tty {
		o2.Stdio[0] = stdin
	}
	var tty *terminal
	defer func() {
		if tty != nil {
			tty.close(2 * time.Second)
		}
	}()
	o2.OnConsole = func(ptmx *os.File) { tty = attachTerminal(ptmx, stdin, stdout, o.Interactive) }
	goruntime.LockOSThread() // Pdeathsig is per thread
	defer goruntime.UnlockOSThread()
	if sig := sigs.interrupted(); sig != 0 {
		return 128 + int(sig), interruptedError(sig)
	}
	cmd, err := s.ociRuntime().ExecChild(c.ID, execProcess(spec, o, u, extra), o2)
	if err != nil {
		// The init exits with the code it reported; a plan or setup that
		// failed is hutch's (125), and for Docker a command that could not
		// start when it got as far as the init.
		var ie *oci.InitError
		if !errors.As(err, &ie) {
			return 125, err
		}
		if ie.Code != 125 {
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

// exitStatus is Docker's exit code for a wait status: 128+n for signal n.
func exitStatus(ws unix.WaitStatus) int { return oci.ExitStatus(ws) }
