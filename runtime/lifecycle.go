package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/logs"
	"github.com/hutchrt/hutch/runtime/oci"
)

// Run creates a container and runs it: in the foreground with the caller's
// stdio (returning the container's exit code), or detached (-d) under its own
// monitor, returning once the command runs.
func (s *Store) Run(o RunOptions, stdin *os.File, stdout, stderr io.Writer) (int, *Container, error) {
	var sigs *signalCatcher
	if !o.Detach {
		sigs = catchSignals() // now: Create is a good time to install the handlers
		defer sigs.stop()
	}
	c, err := s.Create(o)
	if err != nil {
		return 125, nil, err
	}
	if o.Detach {
		return s.startDetached(c.ID)
	}
	a := attach{interactive: o.Interactive, tty: o.Tty, stdin: stdin, stdout: stdout, stderr: stderr, signals: sigs}
	code, err := s.monitor(c, a, func(error) {})
	return code, c, err
}

// Start runs a created or exited container again, detached.
func (s *Store) Start(ref string) (*Container, error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	if c.MonitorPid != 0 {
		return c, nil // running, or being started by someone else
	}
	if c, err = s.unpaused(c); err != nil { // a mark left by a paused run that died
		return c, err
	}
	_, c2, err := s.startDetached(c.ID)
	if errors.Is(err, errAlreadyRunning) {
		return c, nil // a parallel start won the race: the container runs
	}
	if c2 == nil {
		c2 = c
	}
	return c2, err
}

// startDetached re-execs a monitor in its own session and waits on its ready
// pipe: EOF means the command runs, anything else is the start error.
func (s *Store) startDetached(id string) (int, *Container, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 125, nil, err
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return 125, nil, err
	}
	defer null.Close()
	cmd := exec.Command("/proc/self/exe", MonitorCommand, s.Root, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 125, nil, fmt.Errorf("start monitor: %w", err)
	}
	cmd.Process.Release()
	if err := readInitResult(r); err != nil {
		code := 125
		var ie *oci.InitError
		if errors.As(err, &ie) {
			code = ie.Code
		}
		return code, nil, err
	}
	c, err := s.Get(id)
	if err != nil {
		return 125, nil, err
	}
	return 0, c, nil
}

// MonitorMain is the detached monitor process: fd 3 is the ready pipe.
func MonitorMain(root, id string) {
	unix.CloseOnExec(3) // or the health prober would hold it and `run -d` never see EOF
	ready := os.NewFile(3, "ready")
	s, err := OpenStore(root)
	if err != nil {
		oci.WriteInitError(ready, 125, err.Error())
		os.Exit(125)
	}
	c, err := s.read(id)
	if err != nil {
		oci.WriteInitError(ready, 125, err.Error())
		os.Exit(125)
	}
	a := attach{detached: true, tty: c.Tty, interactive: c.OpenStdin, signals: catchSignals()}
	code, _ := s.monitor(c, a, func(err error) {
		switch {
		case errors.Is(err, errAlreadyRunning):
			ready.Write([]byte(readyRunning))
		case err != nil:
			code := 125
			var ie *oci.InitError
			if errors.As(err, &ie) {
				code = ie.Code
			}
			oci.WriteInitError(ready, code, err.Error())
		}
		ready.Close()
	})
	os.Exit(code)
}

// Stop sends the container's stop signal (SIGTERM unless the image or
// --stop-signal named another), waits up to timeout (nil: the container's
// --stop-timeout, else 10 s), then SIGKILL; it returns once the monitor has
// recorded the exit.
func (s *Store) Stop(ref string, timeout *time.Duration) (*Container, error) {
	c, err := s.Get(ref)
	if err != nil || (!c.Running() && !c.Restarting()) {
		return c, err
	}
	// Before the signal: the exit it causes must not restart the container.
	if c, err = s.markStopped(c.ID); err != nil || !c.Running() {
		if err == nil && c.Restarting() {
			err = s.endBackOff(c)
		}
		return c, err
	}
	wait := 10 * time.Second
	if timeout != nil {
		wait = *timeout
	} else if c.StopTimeout != nil {
		wait = time.Duration(*c.StopTimeout) * time.Second
	}
	sig := unix.SIGTERM
	if c.StopSignal != "" {
		if sig, err = ParseSignal(c.StopSignal); err != nil {
			return c, err
		}
	}
	mon, err := pidfd(c.MonitorPid, c.MonitorStart)
	if err != nil {
		return c, err
	}
	defer unix.Close(mon)
	if alive(c.Pid, c.PidStart) {
		s.containerEvent(c, "kill", "signal", strconv.Itoa(int(sig)))
		s.signal(c, sig)
	}
	s.unpaused(c) // a paused container meets the signal when it thaws, as in Docker
	if !waitFd(mon, wait) {
		s.signal(c, unix.SIGKILL)
		if !waitFd(mon, 10*time.Second) {
			return c, fmt.Errorf("stop %s: monitor %d did not finish", c.Name, c.MonitorPid)
		}
	}
	s.containerEvent(c, "stop")
	return c, nil
}

// Kill sends sig to the container's main process.
func (s *Store) Kill(ref string, sig unix.Signal) (*Container, error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	if c.Restarting() { // as Docker: no process to signal, but the loop ends
		if c, err = s.markStopped(c.ID); err == nil {
			err = s.endBackOff(c)
		}
		return c, err
	}
	if !c.Running() || !alive(c.Pid, c.PidStart) {
		return c, fmt.Errorf("cannot kill container %s: it is not running", c.Name)
	}
	stopSig := unix.SIGTERM
	if c.StopSignal != "" {
		stopSig, _ = ParseSignal(c.StopSignal)
	}
	if sig == unix.SIGKILL || sig == stopSig { // meant to end it: no restart (other signals are messages)
		if c, err = s.markStopped(c.ID); err != nil || !c.Running() {
			return c, err
		}
	}
	mon, err := pidfd(c.MonitorPid, c.MonitorStart)
	if err != nil {
		return c, err
	}
	defer unix.Close(mon)
	s.containerEvent(c, "kill", "signal", strconv.Itoa(int(sig))) // before: the die it causes may be journalled at once
	if err := s.signal(c, sig); err != nil {
		return c, fmt.Errorf("kill %s: %w", c.Name, err)
	}
	s.unpaused(c)
	// SIGKILL cannot be caught: wait until the monitor has recorded the exit,
	// so a `start` or `inspect` right after sees a stopped container.
	if sig == unix.SIGKILL && !waitFd(mon, 10*time.Second) {
		return c, fmt.Errorf("kill %s: monitor %d did not finish", c.Name, c.MonitorPid)
	}
	return c, nil
}

// Remove deletes a container; a running one only with force (killed first).
func (s *Store) Remove(ref string, force bool) (*Container, error) {
	s.reconcileIfDirty()
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	if c.MonitorPid != 0 {
		if !force {
			return c, fmt.Errorf("cannot remove container %s: it is %s: stop it first or use rm -f", c.Name, c.Status)
		}
		if c2, err := s.markStopped(c.ID); err == nil && c2.Restarting() {
			if err := s.endBackOff(c2); err != nil {
				return c, err
			}
		}
		mon, err := pidfd(c.MonitorPid, c.MonitorStart)
		if err == nil {
			if alive(c.Pid, c.PidStart) {
				s.containerEvent(c, "kill", "signal", "9")
				s.signal(c, unix.SIGKILL)
			}
			s.unpaused(c) // v1's freezer holds even SIGKILL
			ok := waitFd(mon, 10*time.Second)
			unix.Close(mon)
			if !ok {
				return c, fmt.Errorf("remove %s: monitor %d did not finish", c.Name, c.MonitorPid)
			}
		}
	}
	// A cp or export may have the stopped container's overlay mounted: let it finish first.
	if unlock, err := s.lockFiles(c.ID); err == nil {
		defer unlock()
	}
	c, err = s.update(c.ID, func(c *Container) error { return s.release(c) })
	if errors.Is(err, ErrNotFound) {
		return c, nil // --rm got there first
	}
	if err != nil {
		return c, err
	}
	s.tellWaiters(c.ID, c.ExitCode) // wait --condition removed: before the record goes
	if err := s.remove(c.ID); err != nil {
		return c, err
	}
	s.containerEvent(c, "destroy")
	return c, nil
}

// Wait blocks until the container is not running and returns its exit code.
func (s *Store) Wait(ref string) (int, error) {
	c, err := s.Get(ref)
	if err != nil || c.MonitorPid == 0 {
		return exitCode(c), err
	}
	if c.AutoRemove {
		return s.waitRemoved(c)
	}
	if !c.Restart.IsNone() { // the monitor outlives the run: wait for the run (restart_linux.go)
		return s.waitRun(c)
	}
	waitMonitor(c)
	c, err = s.Get(c.ID)
	return exitCode(c), err
}

// waitRemoved waits for a --rm container, whose record goes with its exit.
func (s *Store) waitRemoved(c *Container) (int, error) {
	if err := s.registerWaiter(c.ID); err != nil {
		return 125, err
	}
	cur, err := s.Get(c.ID) // after registering: see tellWaiters
	if err != nil {
		s.waiterResult(c.ID)
		return 125, err
	}
	waitMonitor(cur)
	if code, ok := s.waiterResult(c.ID); ok {
		return code, nil
	}
	cur, err = s.Get(c.ID)
	return exitCode(cur), err
}

func exitCode(c *Container) int {
	if c == nil {
		return 125
	}
	return c.ExitCode
}

// Logs copies a container's log to stdout and stderr.
func (s *Store) Logs(ctx context.Context, ref string, opt logs.ReadOptions, stdout, stderr io.Writer) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	if c.logConfig().Driver == logs.None {
		return logs.ErrNoRead
	}
	if opt.Follow {
		opt.Stopped = func() bool {
			cur, err := s.Get(c.ID)
			return err != nil || cur.MonitorPid == 0
		}
	}
	return logs.Read(ctx, s.logPath(c), opt, stdout, stderr)
}

// Spec returns the OCI spec a container runs from.
func (s *Store) Spec(c *Container) (json.RawMessage, error) {
	return os.ReadFile(filepath.Join(s.Dir(c.ID), "config.json"))
}

// pidfd opens a pidfd for pid if it is still the process that started at start.
func pidfd(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("open pidfd %d: %w", pid, err)
	}
	if !alive(pid, start) { // checked after opening, so the fd cannot name a reused pid
		unix.Close(fd)
		return -1, fmt.Errorf("process %d is gone", pid)
	}
	return fd, nil
}

// waitFd waits for a pidfd to become readable (the process exited); a
// negative timeout waits forever. It reports whether the process exited.
func waitFd(fd int, timeout time.Duration) bool {
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err == unix.EINTR {
			if timeout >= 0 {
				if ms = int(time.Until(deadline) / time.Millisecond); ms < 0 {
					return false
				}
			}
			continue
		}
		return err == nil && n > 0
	}
}
