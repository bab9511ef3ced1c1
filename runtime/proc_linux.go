package runtime

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/procstart"
)

// monitorLive reports whether the container's monitor is still running: the
// same process (pid and start time) on the same boot.
func (c *Container) monitorLive() bool {
	return c.MonitorPid != 0 && c.BootID == bootID() && alive(c.MonitorPid, c.MonitorStart)
}

// waitMonitor blocks until the container's monitor has exited (at once if it
// is already gone).
func waitMonitor(c *Container) {
	if mon, err := pidfd(c.MonitorPid, c.MonitorStart); err == nil {
		waitFd(mon, -1)
		unix.Close(mon)
	}
}

// alive reports whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	return start != 0 && procstart.Of(pid) == start
}

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// selfStart is the start time of the calling process.
func selfStart() (uint64, error) {
	s := procstart.Of(os.Getpid())
	if s == 0 {
		return 0, fmt.Errorf("read /proc/self/stat")
	}
	return s, nil
}
