package resolver

import (
	"os"
	"os/exec"
	"time"

	"github.com/hutchrt/hutch/dns/resolver/watchdog"
)

// keepWatchdog keeps one watchdog (package watchdog, C) beside this
// resolver for as long as it serves: a process of its own, since nothing in
// this one survives a kill -9, and not a monitor, since idle monitors are C
// shims that know nothing of DNS. The watchdog starts a new resolver when
// this one dies without closing; this one starts a new watchdog when that
// one dies. Only both killed at once leaves the containers without a
// resolver until the next one registers.
func (r *resolver) keepWatchdog() {
	for {
		cmd := exec.Command("/proc/self/exe", watchdog.Command, r.dir)
		cmd.Env = watchdog.Env(r.dir, os.Getpid(), os.Getenv(watchdog.QuickEnv))
		started := time.Now()
		r.mu.Lock()
		if r.closing {
			r.mu.Unlock()
			return
		}
		err := cmd.Start()
		if err == nil {
			r.watchdog = cmd.Process
		}
		r.mu.Unlock()
		if err == nil {
			cmd.Wait()
		}
		if time.Since(started) < time.Second { // no loop that burns a core
			time.Sleep(time.Second)
		}
	}
}
