package runtime

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"

	"github.com/hutchrt/hutch/runtime/oci"
	"golang.org/x/sys/unix"
)

// ParseSignal reads a signal as Docker does: "KILL", "SIGKILL", "kill" or "9".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, invalidf("signal %q: out of range", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, invalidf("signal %q: unknown", s)
}

// forwardedSignals are the signals hutch passes on to the container it runs
// in the foreground (or to the process it execs), as Docker's sig-proxy.
var forwardedSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}

// signalCatcher owns the forwarded signals from the start of a run (or an
// exec) to its end.
//
//   - Before the command runs, a signal cancels the start: the start asks
//     interrupted() before letting the command go, and fails with 128+n,
//     what the signal's default action would have given, minus the
//     leftovers. (An init that has not exec'd yet would not even get it: a
//     namespace's pid 1 drops signals it has no handler for.)
//   - Once the command runs (forwardTo), signals go to it.
//   - After stop (the command is gone, hutch cleans up), a signal gets its
//     default action again.
//
// The Go runtime's signal.Notify hands each signal to a thread of its own
// and waits for it, and signal.Stop does it again: together 0.6 ms and a
// hundred context switches of every run on a 2-core VM. So the handlers are
// installed in the background as soon as the catcher is made, while Create
// runs, and are only reset when a signal comes after stop.
type signalCatcher struct {
	sigs      chan os.Signal
	installed chan struct{} // closed once the handlers are in
	mu        sync.Mutex
	pid       int         // the command, once it runs
	early     unix.Signal // the first signal caught before it ran
	stopped   bool
}

func catchSignals() *signalCatcher {
	c := &signalCatcher{sigs: make(chan os.Signal, 8), installed: make(chan struct{})}
	go func() {
		signal.Notify(c.sigs, forwardedSignals...)
		close(c.installed)
	}()
	go c.loop()
	return c
}

func (c *signalCatcher) loop() {
	for s := range c.sigs {
		sig := s.(unix.Signal)
		c.mu.Lock()
		pid, stopped := c.pid, c.stopped
		if pid == 0 && !stopped && c.early == 0 {
			c.early = sig
		}
		c.mu.Unlock()
		switch {
		case stopped:
			signal.Reset(sig)
			unix.Kill(unix.Getpid(), sig)
		case pid != 0:
			unix.Kill(pid, sig)
		}
	}
}

// interrupted is the first signal caught before the command ran, or 0.
func (c *signalCatcher) interrupted() unix.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.early
}

// interruptedError is the start's error when a signal cancelled it.
func interruptedError(sig unix.Signal) error {
	return &oci.InitError{Code: 128 + int(sig), Msg: "interrupted by " + unix.SignalName(sig) + " before the command ran"}
}

// forwardTo sends the signals from now on to pid, the running command; a
// signal caught after the start last asked interrupted() goes too.
func (c *signalCatcher) forwardTo(pid int) {
	c.mu.Lock()
	c.pid = pid
	early := c.early
	c.early = 0 // delivered
	c.mu.Unlock()
	if early != 0 {
		unix.Kill(pid, early)
	}
}

// stop ends the forwarding: the command is gone.
func (c *signalCatcher) stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
}
