package runtime

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/cgroups"
)

// The restart loop, daemonless. A detached container's exit is seen by its
// C shim, which execs `hutch _finish` in the same process: same pid, same
// start time, so the record still names it as the container's monitor.
// There the policy is asked; to restart, the finisher frees what the run
// held (cgroup, veths, host ports: the addresses stay leased), marks the
// container "restarting", waits out the back-off and runs the monitor again,
// which starts the init, execs the shim, and so on. A foreground run hands
// its exit to such a finisher, started detached, and returns the exit code
// as Docker's client does.
//
// A user's stop or kill sets ManuallyStopped under the store's lock before
// signalling; the finisher reads it after the exit, again after the
// back-off, and the monitor once more when the new run is up (then it kills
// it): whichever step the loop is at, the stop ends it. A stop during the
// back-off also sends SIGTERM to the finisher, which ends the wait early.

// handoffEnv marks a finisher that takes a foreground run's exit over.
const handoffEnv = "_HUTCH_HANDOFF"

// afterExit is the finisher: it records the exit and returns the code, or
// restarts the container (and, once it runs, does not return).
func (s *Store) afterExit(id string, code int) int {
	// Caught from now on: a stop's SIGTERM during the back-off or the start
	// must not kill the finisher half-way.
	for { // the health prober of the run that ended (the shim only waits for the container)
		if pid, _ := unix.Wait4(-1, nil, unix.WNOHANG, nil); pid <= 0 {
			break
		}
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	if os.Getenv(handoffEnv) != "" {
		os.Unsetenv(handoffEnv)
		if !s.takeOver(id) {
			return code
		}
	}
	c, err := s.read(id)
	if err != nil {
		s.finish(id, code, nil, true)
		return code
	}
	delay, again := nextRestart(c.Restart, code, c.RestartCount, c.ManuallyStopped, c.RestartDelay, now().Sub(c.StartedAt))
	if !again {
		s.finish(id, code, nil, true)
		return code
	}
	if err := s.pauseForRestart(id, code, delay); err != nil {
		s.finish(id, code, err, true)
		return code
	}
	s.containerEvent(c, "die", "exitCode", strconv.Itoa(code))
	select {
	case <-time.After(delay):
	case <-term:
		s.finish(id, code, nil, true)
		return code
	}
	c, err = s.read(id)
	if err != nil || c.ManuallyStopped {
		s.finish(id, code, nil, true)
		return code
	}
	a := attach{detached: true, tty: c.Tty, interactive: c.OpenStdin, signals: catchSignals()}
	s.containerEvent(c, "restart") // by the policy: the start event follows from the monitor
	n, _ := s.monitor(c, a, func(error) {})
	return n
}

// pauseForRestart frees what the ended run held and records the exit and
// the back-off; the finisher stays the container's monitor.
func (s *Store) pauseForRestart(id string, code int, delay time.Duration) error {
	c, err := s.read(id)
	if err != nil {
		return err
	}
	cg, loadErr := cgroups.Load(id)
	oom := loadErr == nil && cg.OOMKilled()
	err = errors.Join(s.deleteRun(id), s.unwire(c, false))
	if err != nil {
		return err
	}
	_, err = s.update(id, func(c *Container) error {
		if err := c.moveTo(StatusRestarting); err != nil {
			return err
		}
		c.ExitCode, c.OOMKilled, c.FinishedAt = code, oom, now()
		c.Pid, c.PidStart, c.Ports = 0, 0, nil
		c.RestartCount++
		c.RestartDelay = delay
		return nil
	})
	return err
}

// handOff gives a foreground run's exit to a detached finisher when the
// policy restarts the container; it reports whether it did (the finisher
// then owns the record).
func (s *Store) handOff(c *Container, code int) bool {
	cur, err := s.read(c.ID)
	if err != nil {
		return false
	}
	if _, again := nextRestart(cur.Restart, code, cur.RestartCount, cur.ManuallyStopped, cur.RestartDelay, now().Sub(cur.StartedAt)); !again {
		return false
	}
	r, w, err := os.Pipe()
	if err != nil {
		return false
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return false
	}
	defer null.Close()
	cmd := exec.Command("/proc/self/exe", FinishCommand, s.Root, c.ID, strconv.Itoa(code))
	cmd.Env = []string{handoffEnv + "=" + strconv.Itoa(os.Getpid())}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return false
	}
	cmd.Process.Release()
	var b [1]byte
	n, _ := r.Read(b[:]) // one byte: taken over; EOF: it failed
	return n == 1
}

// takeOver makes this finisher the monitor of a container whose foreground
// run (the pid in handoffEnv's value, still waiting on fd 3) handed it over.
func (s *Store) takeOver(id string) bool {
	ready := os.NewFile(3, "ready")
	defer ready.Close()
	start, err := selfStart()
	if err != nil {
		return false
	}
	_, err = s.update(id, func(c *Container) error {
		c.MonitorPid, c.MonitorStart = os.Getpid(), start
		return nil
	})
	if err != nil {
		return false
	}
	_, err = ready.Write([]byte{1})
	return err == nil
}

var errStoppedWhileStarting = errors.New("stopped while restarting")

// markStopped records that a user stopped the container (see the loop
// above); it returns the record as it is now.
func (s *Store) markStopped(id string) (*Container, error) {
	return s.update(id, func(c *Container) error {
		if c.MonitorPid != 0 {
			c.ManuallyStopped = true
		}
		return nil
	})
}

// endBackOff stops a container waiting out a restart back-off: its
// finisher ends the wait on SIGTERM and records the exit.
func (s *Store) endBackOff(c *Container) error {
	mon, err := pidfd(c.MonitorPid, c.MonitorStart)
	if err != nil {
		return nil // gone already
	}
	defer unix.Close(mon)
	unix.Kill(c.MonitorPid, unix.SIGTERM)
	if !waitFd(mon, 10*time.Second) {
		return errors.New("monitor " + strconv.Itoa(c.MonitorPid) + " did not finish")
	}
	return nil
}

// waitRun is Wait under a restart policy: as Docker's, it returns at the
// run's exit (a restart does not wait for it), with its code. A container
// in its back-off is waited for through its next run.
func (s *Store) waitRun(c *Container) (int, error) {
	var err error
	for c.Restarting() { // until the next run starts, or the loop ends
		time.Sleep(50 * time.Millisecond)
		if c, err = s.Get(c.ID); err != nil {
			return 125, err
		}
	}
	if !c.Running() {
		return c.ExitCode, nil
	}
	pid := c.Pid
	if fd, err := pidfd(c.Pid, c.PidStart); err == nil {
		waitFd(fd, -1)
		unix.Close(fd)
	}
	// The exit is recorded by the finisher right after: bounded.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = s.Get(c.ID); err != nil {
			return 125, err
		}
		if !c.Running() || c.Pid != pid || time.Now().After(deadline) {
			return c.ExitCode, nil
		}
	}
}
