package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// HealthCommand is the hidden argv[1] of a container's health prober.
const HealthCommand = "_health"

// Who runs the checks, with no daemon: the monitor starts a prober, a
// `hutch _health` process, once the container runs. A detached monitor
// then becomes the idle C shim, which stays small and knows nothing of
// health; the prober is Go because a probe is a `hutch exec` (the same
// namespaces, cgroups, user and seccomp as any exec) and its results go
// into the record under the store's lock, as every other change. It is
// started from the monitor's locked thread with Pdeathsig, so it dies with
// the monitor, and it ends by itself when the container's process does (it
// waits on its pidfd), so a restart starts a fresh one.

// startProber starts the health prober of c, which runs now (c.Pid).
func (s *Store) startProber(c *Container) error {
	if c.Healthcheck == nil {
		return nil
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd := exec.Command("/proc/self/exe", HealthCommand, s.Root, c.ID, strconv.Itoa(c.Pid), strconv.FormatUint(c.PidStart, 10))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	// Its own session: a foreground run's ^C is the container's, not the prober's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start health prober: %w", err)
	}
	return cmd.Process.Release()
}

var errOtherRun = errors.New("the container was restarted or removed")

// HealthMain is the prober: `_health ROOT ID PID PIDSTART`. It probes until
// the process PID (started at PIDSTART) ends.
func HealthMain(root, id, pidArg, startArg string) {
	s, err := OpenStore(root)
	pid, err2 := strconv.Atoi(pidArg)
	start, err3 := strconv.ParseUint(startArg, 10, 64)
	if err != nil || err2 != nil || err3 != nil {
		os.Exit(2)
	}
	ctr, err := pidfd(pid, start)
	if err != nil {
		os.Exit(0) // gone already
	}
	c, err := s.read(id)
	if err != nil || c.Healthcheck == nil || c.Pid != pid {
		os.Exit(0)
	}
	hc, started := c.Healthcheck, c.StartedAt
	st := &HealthState{Status: HealthStarting, Log: []HealthResult{}}
	for {
		if waitFd(ctr, hc.nextProbe(started, now(), st)) {
			os.Exit(0) // the container ended
		}
		r := s.probe(id, hc)
		hc.record(st, r, r.Start.Sub(started) < hc.StartPeriod)
		_, err := s.update(id, func(c *Container) error {
			if c.Pid != pid {
				return errOtherRun
			}
			c.Health = st
			return nil
		})
		if err != nil {
			os.Exit(0)
		}
	}
}

// probe runs the check once in the container, as `hutch exec`, within its timeout.
func (s *Store) probe(id string, hc *HealthConfig) HealthResult {
	timeout := orDefault(hc.Timeout, healthDefaultTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := HealthResult{Start: now()}
	cmd := exec.CommandContext(ctx, "/proc/self/exe", append([]string{"--root", s.Root, "exec", id}, hc.probeArgs()...)...)
	// SIGTERM first: hutch exec passes it on and reaps the probe; a SIGKILL
	// would orphan it to the container's pid 1, which may not reap it.
	cmd.Cancel = func() error { return cmd.Process.Signal(unix.SIGTERM) }
	cmd.WaitDelay = time.Second
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r.End = now()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.ExitCode, r.Output = -1, fmt.Sprintf("Health check exceeded timeout (%s)", timeout)
		return r
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		r.ExitCode = -1
		out.Write([]byte(err.Error()))
	}
	r.Output = out.String()
	return r
}

// limitedBuffer keeps the first healthMaxOutput bytes written to it, as Docker keeps of a probe.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := healthMaxOutput - b.Len(); room < len(p) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
