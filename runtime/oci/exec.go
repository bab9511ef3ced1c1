package oci

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/cgroups"
)

// ExecOptions are runc exec's options, and what a caller in this process
// (hutch exec, through ExecChild) adds.
type ExecOptions struct {
	Detach        bool
	PidFile       string
	ConsoleSocket string
	Stdio         []*os.File // the process's stdin, stdout, stderr (a nil one: /dev/null)
	PreserveFds   int        // the caller's fds 3.. go to the process as 3..

	// Spec is the container's config, already read by the caller.
	Spec *specs.Spec
	// OnConsole takes the terminal's master (proc.Terminal), instead of a
	// console socket; it is the callee's to close.
	OnConsole func(master *os.File)
}

// Exec runs proc in the container, through the same init program and plan
// ops as the container's own process (BuildExec). Detached, it returns once
// proc runs; otherwise it waits and returns proc's exit code.
func (r *Runtime) Exec(id string, proc *specs.Process, o ExecOptions) (int, error) {
	if proc.Terminal && o.ConsoleSocket == "" && o.Detach {
		return 1, errors.New("exec: a detached terminal needs --console-socket")
	}
	sigs := make(chan os.Signal, 16)
	if !o.Detach {
		signal.Notify(sigs)
		defer signal.Stop(sigs)
	}
	if o.OnConsole == nil && o.ConsoleSocket == "" {
		o.OnConsole = func(master *os.File) { // the terminal of a runc exec -t without a socket
			go io.Copy(os.Stdout, master)
			go io.Copy(master, os.Stdin)
		}
	}
	cmd, pid, err := r.exec(id, proc, o, false)
	if err != nil {
		return 1, err
	}
	if o.Detach {
		if o.PidFile != "" {
			if err := writePidFile(o.PidFile, pid); err != nil {
				unix.Kill(pid, unix.SIGKILL)
				return 1, err
			}
		}
		return 0, nil
	}
	if o.PidFile != "" {
		writePidFile(o.PidFile, cmd.Process.Pid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			if s != unix.SIGCHLD && s != unix.SIGURG && s != unix.SIGPIPE {
				cmd.Process.Signal(s)
			}
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ExitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus))), nil
			}
			if err != nil {
				return 1, err
			}
			return 0, nil
		}
	}
}

// ExecChild starts proc in the container as Exec does, for a caller in this
// process that waits for it itself: it returns once proc runs (a failure to
// start it is the init's *InitError, with its exit code), its process a
// child of the calling thread, which it dies with (lock the thread).
func (r *Runtime) ExecChild(id string, proc *specs.Process, o ExecOptions) (*exec.Cmd, error) {
	if o.Detach {
		return nil, errors.New("exec: a child is not detached")
	}
	cmd, _, err := r.exec(id, proc, o, true)
	return cmd, err
}

// exec clones the init into the container's cgroup and namespaces with
// proc's plan and waits until proc runs. Detached, the cloned process has
// exited (its child runs proc: pid).
func (r *Runtime) exec(id string, proc *specs.Process, o ExecOptions, child bool) (_ *exec.Cmd, pid int, err error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, 0, err
	}
	if err := checkOp(OpExec, id, r.status(rec), false); err != nil {
		return nil, 0, err
	}
	if len(proc.Args) == 0 {
		return nil, 0, errors.New("exec: process.args is empty")
	}
	if proc.Cwd == "" {
		proc.Cwd = "/"
	}
	spec := o.Spec
	if spec == nil {
		if spec, err = r.config(id); err != nil {
			return nil, 0, err
		}
	}
	lastCap, err := caps.LastCap()
	if err != nil {
		return nil, 0, err
	}
	cg, err := cgroups.LoadPath(rec.Cgroup)
	if err != nil {
		return nil, 0, fmt.Errorf("container %s: %w", id, err)
	}
	cj, err := OpenCgroupJoin(cg)
	if err != nil {
		return nil, 0, err
	}
	defer cj.Close()
	var console *net.UnixConn
	if o.ConsoleSocket != "" {
		c, err := net.Dial("unix", o.ConsoleSocket)
		if err != nil {
			return nil, 0, fmt.Errorf("console socket: %w", err)
		}
		console = c.(*net.UnixConn)
		defer console.Close()
	}

	// The init's descriptors: the v1 tasks files, then the container's
	// namespaces (not those it shares with the host, where we are).
	var files []*os.File
	join := ExecJoin{Detach: o.Detach}
	for _, f := range cj.Tasks {
		join.Tasks = append(join.Tasks, FileFd(len(files)))
		files = append(files, f)
	}
	// And the time namespace (after the user namespace that owns it): its
	// init's for its children, as an init kept as a reaper never entered it.
	own := rec.Namespaces
	if own == nil { // a record of an older hutch
		for _, ns := range spec.Linux.Namespaces {
			own = append(own, nsKinds[ns.Type])
		}
	}
	for _, kind := range append(ExecNamespaces[:len(ExecNamespaces):len(ExecNamespaces)], "time") {
		if !slices.Contains(own, kind) {
			continue
		}
		file := kind
		if kind == "time" {
			file = "time_for_children"
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", rec.Pid, file))
		if err != nil {
			return nil, 0, fmt.Errorf("exec: %w", err)
		}
		defer f.Close()
		join.NS = append(join.NS, NsFd{Fd: FileFd(len(files)), Kind: kind})
		files = append(files, f)
	}
	preserved, err := inheritedFiles(o.PreserveFds)
	if err != nil {
		return nil, 0, err
	}
	join.Preserve, join.PreserveFirst = o.PreserveFds, FileFd(len(files))
	files = append(files, preserved...)
	plan, err := BuildExec(spec, proc, join, lastCap)
	if err != nil {
		return nil, 0, err
	}
	clone := InitClone{Cgroup: cj, Files: files, Sealed: true, DieWithParent: child}
	if len(o.Stdio) == 3 {
		clone.Stdin, clone.Stdout, clone.Stderr = o.Stdio[0], o.Stdio[1], o.Stdio[2]
	}
	init, err := Clone(clone)
	if err != nil {
		return nil, 0, fmt.Errorf("exec: %w", err)
	}
	defer init.Close()
	cmd := init.Cmd
	ev := Events{Pid: func(p int) { pid = p }}
	ev.Pty = func(master *os.File) {
		sizeConsole(master, proc.ConsoleSize)
		if o.OnConsole != nil {
			o.OnConsole(master)
			return
		}
		defer master.Close()
		sendConsole(console, master)
	}
	err = init.Send(plan)
	if err == nil {
		err = init.Await(ev)
	}
	if err != nil {
		var ie *InitError
		if !errors.As(err, &ie) {
			cmd.Process.Kill()
		}
		cmd.Wait()
		return nil, 0, err
	}
	if o.Detach {
		cmd.Wait() // the process that forked, gone already
		if pid == 0 {
			return nil, 0, errors.New("exec: the process did not say its pid")
		}
	}
	return cmd, pid, nil
}

// Run creates and starts the container and, unless detach, waits for its
// init and deletes it, returning its exit code (runc run).
func (r *Runtime) Run(id, bundle string, o CreateOptions, detach bool) (int, error) {
	c, err := r.create(id, bundle, o, false)
	if err != nil {
		return 1, err
	}
	c.init.Close() // as after a create: the init goes on alone from here
	if err := r.Start(id); err != nil {
		r.Delete(id, true)
		return 1, err
	}
	if detach {
		return 0, nil
	}
	signal.Ignore(unix.SIGINT, unix.SIGTERM) // they reach the container's process group too
	err = c.Cmd().Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ExitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus)))
	}
	return code, r.Delete(id, true)
}
