package runtime

import (
	"os"
	"os/signal"
	"strconv"
	"strings"

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
// exist yet. The handlers are installed in the background as soon as the
// catcher is made: the Go runtime's first signal.Notify hands each signal to
// a thread of its own and waits for it, 0.2-3 ms on a busy 2-core machine,
// which is time the start has better uses for. Signals caught before the
// process runs reach it once it does.
type signalCatcher struct {
	sigs      chan os.Signal
	installed chan struct{}
}

func catchSignals() *signalCatcher {
	c := &signalCatcher{sigs: make(chan os.Signal, 8), installed: make(chan struct{})}
	go func() {
		signal.Notify(c.sigs, forwardedSignals...)
		close(c.installed)
	}()
	return c
}

// forwardTo passes every signal caught, before and from now on, to pid.
func (c *signalCatcher) forwardTo(pid int) {
	go func() {
		for sig := range c.sigs {
			unix.Kill(pid, sig.(unix.Signal))
		}
	}()
}

// stop ends the catching; signals get their default action again.
func (c *signalCatcher) stop() {
	<-c.installed // or Notify could come after Stop
	signal.Stop(c.sigs)
}
