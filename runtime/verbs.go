package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/runtime/logs"
)

// Day-two verbs of Docker's lifecycle: start attached, attach, restart,
// rename, pause and unpause.

// ErrNotRunning marks a verb that needs a running container.
var ErrNotRunning = errors.New("container is not running")

// StartAttached starts a created or exited container with this process as
// its monitor, as a foreground run is: its output goes to stdout and
// stderr, stdin reaches it with interactive (if it was created with -i),
// and the container's exit code is returned. A container that already runs
// is attached to instead.
func (s *Store) StartAttached(ref string, interactive bool, stdin *os.File, stdout, stderr io.Writer) (int, error) {
	c, err := s.Get(ref)
	if err != nil {
		return 1, err
	}
	if c.MonitorPid != 0 {
		return s.Attach(c.ID, interactive, stdin, stdout, stderr)
	}
	if c, err = s.unpaused(c); err != nil {
		return 1, err
	}
	sigs := catchSignals()
	defer sigs.stop()
	a := attach{interactive: interactive && c.OpenStdin, tty: c.Tty, stdin: stdin, stdout: stdout, stderr: stderr, signals: sigs}
	code, err := s.monitor(c, a, func(error) {})
	if errors.Is(err, errAlreadyRunning) { // a parallel start won: follow it
		return s.Attach(c.ID, interactive, stdin, stdout, stderr)
	}
	return code, err
}

// Attach copies a running container's output from now on to stdout and
// stderr (from its log, which its monitor writes) and, with interactive,
// stdin to its input, until it exits; it returns the container's exit code.
// SIGINT, SIGTERM and the other forwarded signals go to the container, as
// Docker's --sig-proxy.
func (s *Store) Attach(ref string, interactive bool, stdin *os.File, stdout, stderr io.Writer) (int, error) {
	c, err := s.Get(ref)
	if err != nil {
		return 1, err
	}
	if !c.Running() {
		return 1, fmt.Errorf("cannot attach to container %s: it is not running (start it first)", c.Name)
	}
	if c.IsPaused() {
		return 1, fmt.Errorf("cannot attach to container %s: it is paused (unpause it first)", c.Name)
	}
	var in *os.File
	if interactive && c.OpenStdin {
		if in, err = containerInput(c); err != nil {
			return 1, err
		}
		defer in.Close()
		if c.Tty && term.IsTerminal(int(stdin.Fd())) {
			if state, err := term.MakeRaw(int(stdin.Fd())); err == nil {
				defer term.Restore(int(stdin.Fd()), state)
			}
		}
	}
	detached := make(chan struct{})
	positioned := func() {
		if in != nil {
			go func() {
				if copyInput(in, stdin, c.Tty) {
					close(detached)
				}
			}()
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			s.signal(c, sig.(unix.Signal))
		}
	}()
	type result struct {
		code int
		err  error
	}
	exited := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		code, err := s.Wait(c.ID)
		exited <- result{code, err}
		close(done)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-detached:
			cancel()
		case <-ctx.Done():
		}
	}()
	opt := logs.ReadOptions{Tail: 0, Follow: true, Positioned: positioned, Stopped: func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}}
	if err := logs.Read(ctx, filepath.Join(s.Dir(c.ID), "ctr.log"), opt, stdout, stderr); err != nil {
		return 1, err
	}
	select {
	case <-detached:
		return 0, nil // ctrl-p ctrl-q: the container runs on
	default:
	}
	r := <-exited
	return r.code, r.err
}

// Docker's default detach keys, ctrl-p ctrl-q, on a tty.
var detachKeys = []byte{0x10, 0x11}

// copyInput copies stdin to the container's input; on a tty it stops at
// the detach keys and reports that it did. The keys are held back until the
// next byte shows whether they are the sequence.
func copyInput(in, stdin *os.File, tty bool) (detached bool) {
	buf := make([]byte, 4096)
	matched := 0
	for {
		n, err := stdin.Read(buf)
		out := make([]byte, 0, n+matched)
		for _, b := range buf[:n] {
			if tty && b == detachKeys[matched] {
				if matched++; matched == len(detachKeys) {
					in.Write(out)
					return true
				}
				continue
			}
			out = append(out, detachKeys[:matched]...)
			matched = 0
			out = append(out, b)
		}
		if len(out) > 0 {
			if _, werr := in.Write(out); werr != nil {
				return false
			}
		}
		if err != nil {
			return false
		}
	}
}

// containerInput takes a copy (pidfd_getfd) of the write side of a
// detached container's stdin: the pipe (or, with -t, the pty master) its
// monitor holds open. It is found among the monitor's descriptors as the one
// that is the same file as the container's fd 0 (a pipe) or as the pty
// master (a tty; reopening that would make a new pty, hence the copy).
func containerInput(c *Container) (*os.File, error) {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", c.Pid))
	if err != nil {
		return nil, fmt.Errorf("attach %s: its stdin: %w", c.Name, err)
	}
	if c.Tty {
		want = "/dev/pts/ptmx"
	}
	dir := fmt.Sprintf("/proc/%d/fd", c.MonitorPid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", c.Name, err)
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && (l == want || c.Tty && l == "/dev/ptmx") {
			n, _ := strconv.Atoi(e.Name())
			return copyFd(c, n)
		}
	}
	return nil, fmt.Errorf("attach %s: its monitor holds no stdin to write to", c.Name)
}

func copyFd(c *Container, n int) (*os.File, error) {
	mon, err := pidfd(c.MonitorPid, c.MonitorStart)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", c.Name, err)
	}
	defer unix.Close(mon)
	fd, err := unix.PidfdGetfd(mon, n, 0)
	if err != nil {
		return nil, fmt.Errorf("attach %s: copy its stdin from the monitor: %w", c.Name, err)
	}
	return os.NewFile(uintptr(fd), "stdin"), nil
}

// Restart stops a container (as Stop, with its timeout) and starts it again.
func (s *Store) Restart(ref string, timeout *time.Duration) (*Container, error) {
	c, err := s.Stop(ref, timeout)
	if err != nil {
		return c, err
	}
	if c, err = s.Start(c.ID); err == nil {
		s.containerEvent(c, "restart")
	}
	return c, err
}

// Rename gives a container a new name; a running container on a
// user-defined network answers to it in DNS at once.
func (s *Store) Rename(ref, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	if c.Name == name {
		return invalidf("cannot rename container %s: the new name is its current name", c.Name)
	}
	old := c.Name
	c, err = s.renameLocked(c.ID, name)
	if err != nil {
		return err
	}
	s.containerEvent(c, "rename", "oldName", old)
	return s.updateDNS(c)
}

func (s *Store) renameLocked(id, name string) (*Container, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.read(id)
	if err != nil {
		return nil, err
	}
	if err := s.reserveName(name, id); err != nil {
		return nil, err
	}
	old := c.Name
	c.Name = name
	if err := s.save(c); err != nil {
		os.Remove(s.namePath(name))
		return nil, err
	}
	if s.nameOwner(old) == id {
		os.Remove(s.namePath(old))
	}
	return c, nil
}

// Pause freezes every process of a running container (cgroup freezer).
func (s *Store) Pause(ref string) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	if !c.Running() {
		return fmt.Errorf("cannot pause container %s: %w", c.Name, ErrNotRunning)
	}
	if c.IsPaused() {
		return fmt.Errorf("cannot pause container %s: it is already paused", c.Name)
	}
	if err := s.setFrozen(c.ID, true); err != nil {
		return err
	}
	_, err = s.update(c.ID, func(c *Container) error { c.Paused = true; return nil })
	if err != nil {
		s.setFrozen(c.ID, false)
		return err
	}
	s.containerEvent(c, "pause")
	return nil
}

// Unpause thaws a paused container.
func (s *Store) Unpause(ref string) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	if !c.IsPaused() {
		return fmt.Errorf("cannot unpause container %s: it is not paused", c.Name)
	}
	if _, err = s.unpaused(c); err != nil {
		return err
	}
	s.containerEvent(c, "unpause")
	return nil
}

// unpaused thaws c if it is frozen and clears its record's mark. A stop or
// kill of a paused container sends its signal first, then thaws it, so
// that the signal is what the processes meet when they run again.
func (s *Store) unpaused(c *Container) (*Container, error) {
	if !c.Paused {
		return c, nil
	}
	if err := s.setFrozen(c.ID, false); err != nil {
		return c, err
	}
	c2, err := s.update(c.ID, func(c *Container) error { c.Paused = false; return nil })
	if errors.Is(err, ErrNotFound) {
		return c, nil // --rm: gone already
	}
	if err != nil {
		return c, err
	}
	return c2, nil
}

// WaitCondition is wait --condition: not-running (the default), next-exit
// or removed; it returns the exit code.
func (s *Store) WaitCondition(ref, condition string) (int, error) {
	switch condition {
	case "", "not-running":
		return s.Wait(ref)
	case "next-exit", "removed":
	default:
		return 1, invalidf("invalid condition %q: want not-running, next-exit or removed", condition)
	}
	c, err := s.Get(ref)
	if err != nil {
		return 1, err
	}
	if condition == "next-exit" {
		// A container not running now is waited for through its next
		// start; one that starts and exits between two looks is seen by
		// its new FinishedAt.
		since := c.FinishedAt
		for c.MonitorPid == 0 {
			time.Sleep(100 * time.Millisecond)
			if c, err = s.Get(c.ID); err != nil {
				return 1, err
			}
			if c.MonitorPid == 0 && c.FinishedAt.After(since) {
				return c.ExitCode, nil
			}
		}
		return s.Wait(c.ID)
	}
	// Registered first: rm (and a --rm container's monitor) leaves the exit
	// code in the waiter's file before the record goes.
	if err := s.registerWaiter(c.ID); err != nil {
		return 1, err
	}
	code := c.ExitCode
	for {
		cur, err := s.Get(c.ID)
		if errors.Is(err, ErrNotFound) {
			if n, ok := s.waiterResult(c.ID); ok {
				code = n
			}
			return code, nil
		}
		if err != nil {
			s.waiterResult(c.ID)
			return 1, err
		}
		code = cur.ExitCode
		if cur.MonitorPid != 0 {
			waitMonitor(cur)
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
}
