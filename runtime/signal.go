package runtime

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"

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

// signalCatcher catches the forwarded signals for a process that does not
// exist yet. The Go runtime's signal.Notify hands each signal to a thread of
// its own and waits for it, and signal.Stop does it again: together 0.6 ms
// and a hundred context switches of every run on a 2-core VM. So the
// handlers are installed in the background as soon as the catcher is made,
// and never removed (hutch exits soon after the process does). Signals
// caught before the process runs reach it once it does; those caught after
// stop are dropped.
type signalCatcher struct {
	sigs      chan os.Signal
	installed chan struct{}
	stopped   atomic.Bool
}

func catchSignals() *signalCatcher {
	c := &signalCatcher{sigs: make(chan os.Signal, 8), installed: make(chan struct{})}
	go func() {
		signal.Notify(c.sigs, forwardedSignals...)
		close(c.installed)
	}()
	return c
}

// forwardTo passes every signal caught, before and from now on, to pid,
// until stop.
func (c *signalCatcher) forwardTo(pid int) {
	go func() {
		for sig := range c.sigs {
			if !c.stopped.Load() {
				unix.Kill(pid, sig.(unix.Signal))
			}
		}
	}()
}

// stop ends the forwarding, once the process is gone. The handlers stay:
// a signal now is dropped, so a Ctrl-C no longer cuts hutch's cleanup short.
func (c *signalCatcher) stop() { c.stopped.Store(true) }
