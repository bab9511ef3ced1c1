package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/logs"
)

// MonitorCommand is the hidden argv[1] of a detached monitor.
const MonitorCommand = "_monitor"

// attach says where a container's standard streams go.
type attach struct {
	detached    bool
	interactive bool
	tty         bool
	stdin       *os.File  // foreground: the user's stdin
	stdout      io.Writer // foreground: the user's terminal; detached: nil
	stderr      io.Writer
}

// now is the wall clock as records store it.
func now() time.Time { return time.Now().UTC() }

// monitor runs one container from start to exit and returns its exit code.
// ready is called once: nil when the command runs, or the start error.
// It must run on the goroutine that will live as long as the container.
func (s *Store) monitor(id string, a attach, ready func(error)) (code int, err error) {
	// Pdeathsig follows this thread: keep it for the container's whole life.
	goruntime.LockOSThread()
	start, err := selfStart()
	if err != nil {
		ready(err)
		return 125, err
	}
	c, err := s.update(id, func(c *Container) error {
		if c.Running() {
			return fmt.Errorf("container %s is already running", c.Name)
		}
		c.MonitorPid, c.MonitorStart, c.BootID = os.Getpid(), start, bootID()
		c.Error = ""
		return nil
	})
	if err != nil {
		ready(err)
		return 125, err
	}
	run, err := s.startContainer(c, a)
	if err != nil {
		ready(err)
		code := 125
		var ie *initError
		if errors.As(err, &ie) {
			code = ie.Code
		}
		s.finish(id, code, err, false)
		return code, err
	}
	c, err = s.update(id, func(c *Container) error {
		c.Status, c.ExitCode = StatusRunning, 0
		c.Pid, c.PidStart, c.StartedAt = run.pid, procStart(run.pid), now()
		return nil
	})
	if err != nil {
		run.kill()
	}
	ready(err)
	code = run.wait()
	s.finish(id, code, nil, true)
	return code, nil
}

// finish records the end of a run (or of a failed start), frees what the
// container held and, with --rm, removes it.
func (s *Store) finish(id string, code int, startErr error, ran bool) {
	var autoRemove bool
	s.update(id, func(c *Container) error {
		relErr := release(c)
		if ran || c.Status != StatusCreated {
			c.Status = StatusExited
			c.FinishedAt = now()
		}
		c.ExitCode = code
		if startErr != nil {
			c.Error = startErr.Error()
		} else if relErr != nil {
			c.Error = relErr.Error()
		}
		c.Pid, c.PidStart, c.MonitorPid, c.MonitorStart = 0, 0, 0, 0
		autoRemove = c.AutoRemove
		return nil
	})
	if autoRemove {
		s.remove(id)
	}
}

// release frees what a container holds while it runs. Mounts need nothing:
// they live in the container's mount namespace and vanish with it.
func release(c *Container) error {
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		return err
	}
	if cg != nil {
		return cg.Delete()
	}
	return nil
}

// running is a started container as its monitor sees it.
type running struct {
	pid     int
	cmd     *exec.Cmd
	copiers sync.WaitGroup
	cleanup []func()
}

func (r *running) kill() { unix.Kill(r.pid, unix.SIGKILL) }

// wait returns the container's exit code once it and its output are done.
func (r *running) wait() int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for sig := range sigs {
			unix.Kill(r.pid, sig.(unix.Signal))
		}
	}()
	err := r.cmd.Wait()
	signal.Stop(sigs)
	r.copiers.Wait()
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus)))
	}
	if err != nil {
		return 125
	}
	return 0
}

// startContainer creates the cgroup, clones the init into its namespaces,
// lets it go and waits until the command runs. On error nothing is left.
func (s *Store) startContainer(c *Container, a attach) (_ *running, err error) {
	dir := s.Dir(c.ID)
	spec, err := loadSpec(dir)
	if err != nil {
		return nil, err
	}
	flags, err := cloneFlags(spec.Linux.Namespaces)
	if err != nil {
		return nil, err
	}
	cg, err := cgroups.Create(c.ID, spec.Linux.Resources)
	if err != nil {
		return nil, err
	}
	r := &running{}
	defer func() {
		if err != nil {
			if r.cmd != nil && r.cmd.Process != nil {
				r.kill()
				r.cmd.Wait()
			}
			r.copiers.Wait()
			for i := len(r.cleanup) - 1; i >= 0; i-- {
				r.cleanup[i]()
			}
			cg.Delete()
		}
	}()
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	log, err := logs.Create(filepath.Join(dir, "ctr.log"))
	if err != nil {
		return nil, err
	}
	r.cleanup = append(r.cleanup, func() { log.Close() })

	parentSock, childSock, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer parentSock.Close()

	cmd := exec.Command("/proc/self/exe", InitCommand, dir)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{childSock}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		Pdeathsig:  unix.SIGKILL,
		Setsid:     true, // the terminal's signals reach hutch, which forwards them once
	}
	childEnds, err := r.wireStdio(cmd, a, log)
	if err != nil {
		childSock.Close()
		return nil, err
	}
	err = cmd.Start()
	childSock.Close()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	r.cmd, r.pid = cmd, cmd.Process.Pid
	if err := cg.Add(r.pid); err != nil {
		return nil, err
	}
	if _, err := parentSock.Write([]byte("go\n")); err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	if err := readInitResult(parentSock); err != nil {
		return nil, err
	}
	return r, nil
}

// wireStdio connects the init's stdio and starts the copiers. It returns the
// child's ends, which the caller closes once the child has them.
func (r *running) wireStdio(cmd *exec.Cmd, a attach, log *logs.Writer) ([]*os.File, error) {
	out := log.Stream("stdout")
	errw := log.Stream("stderr")
	if a.stdout != nil {
		out = io.MultiWriter(a.stdout, out)
		errw = io.MultiWriter(a.stderr, errw)
	}
	if a.tty {
		return r.wirePty(cmd, a, out)
	}
	var childEnds []*os.File
	for _, w := range []io.Writer{out, errw} {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		childEnds = append(childEnds, pw)
		r.copiers.Add(1)
		go func() { defer r.copiers.Done(); io.Copy(w, pr); pr.Close() }()
	}
	cmd.Stdout, cmd.Stderr = childEnds[0], childEnds[1]
	switch {
	case a.interactive && !a.detached:
		cmd.Stdin = a.stdin // passed straight through: EOF and all
	case a.interactive:
		// -di: keep stdin open (like Docker) with a pipe nobody writes to.
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		cmd.Stdin = pr
		childEnds = append(childEnds, pr)
		r.cleanup = append(r.cleanup, func() { pw.Close() })
	}
	return childEnds, nil
}

func (r *running) wirePty(cmd *exec.Cmd, a attach, out io.Writer) ([]*os.File, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	r.cleanup = append(r.cleanup, func() { ptmx.Close() })
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	r.copiers.Add(1)
	go func() { defer r.copiers.Done(); io.Copy(out, ptmx) }() // ends with EIO when the last slave closes
	if !a.detached && a.stdin != nil && term.IsTerminal(int(a.stdin.Fd())) {
		fd := int(a.stdin.Fd())
		pty.InheritSize(a.stdin, ptmx)
		if state, err := term.MakeRaw(fd); err == nil {
			r.cleanup = append(r.cleanup, func() { term.Restore(fd, state) })
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		r.cleanup = append(r.cleanup, func() { signal.Stop(winch) })
		go func() {
			for range winch {
				pty.InheritSize(a.stdin, ptmx)
			}
		}()
	}
	if a.interactive && !a.detached && a.stdin != nil {
		go io.Copy(ptmx, a.stdin)
	}
	return []*os.File{tty}, nil
}

func socketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}
