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

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/cgroups"
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
	lastCap, err := caps.LastCap()
	if err != nil {
		return 125, err
	}
	cg, err := cgroups.Load(c.ID)
	if err != nil || cg == nil {
		return 125, fmt.Errorf("exec: cgroup of %s: %v", c.Name, err)
	}
	joinFiles, err := oci.OpenCgroupJoin(cg)
	if err != nil {
		return 125, err
	}
	defer joinFiles.Close()
	// The init's descriptors: the v1 tasks files, then the container's
	// namespaces.
	var files []*os.File
	var join oci.ExecJoin
	for _, f := range joinFiles.Tasks {
		join.Tasks = append(join.Tasks, oci.FileFd(len(files)))
		files = append(files, f)
	}
	for _, kind := range dockerExecNamespaces {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", c.Pid, kind))
		if err != nil {
			return 125, fmt.Errorf("exec: %w", err)
		}
		defer f.Close()
		join.NS = append(join.NS, oci.NsFd{Fd: oci.FileFd(len(files)), Kind: kind})
		files = append(files, f)
	}
	plan, err := oci.BuildExec(spec, execProcess(spec, o, u, extra), join, lastCap)
	if err != nil {
		return 125, invalidf("%v", err)
	}
	clone := oci.InitClone{Cgroup: joinFiles, Files: files, Stdout: stdout, Stderr: stderr,
		DieWithParent: true, Sealed: true}
	if o.Interactive && !o.Tty {
		clone.Stdin = stdin
	}
	goruntime.LockOSThread() // Pdeathsig is per thread
	defer goruntime.UnlockOSThread()
	if sig := sigs.interrupted(); sig != 0 {
		return 128 + int(sig), interruptedError(sig)
	}
	child, err := oci.Clone(clone)
	if err != nil {
		return 125, fmt.Errorf("exec: %w", err)
	}
	defer child.Close()
	cmd := child.Cmd
	var tty *terminal
	defer func() {
		if tty != nil {
			tty.close(2 * time.Second)
		}
	}()
	err = child.Send(plan)
	if err == nil {
		err = child.Await(oci.Events{Pty: func(ptmx *os.File) {
			tty = attachTerminal(ptmx, stdin, stdout, o.Interactive)
		}})
	}
	if err != nil {
		// It exits with the code it reported; hutch's own failures to set
		// it up are, for Docker, a command that could not start.
		var ie *oci.InitError
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

// exitStatus is Docker's exit code for a wait status: 128+n for signal n.
func exitStatus(ws unix.WaitStatus) int { return oci.ExitStatus(ws) }

// dockerExecNamespaces are the container's namespaces an exec joins (a
// Docker-style container has no user namespace).
var dockerExecNamespaces = oci.ExecNamespaces[1:]
