package runtime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// procStart returns the start time (clock ticks since boot, field 22 of
// /proc/<pid>/stat) of a live process; 0 if it is gone or a zombie. A zombie
// counts as gone: this machine's pid 1 does not reap orphaned monitors.
func procStart(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// comm (field 2) may contain spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0
	}
	return start
}

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
	return start != 0 && procStart(pid) == start
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
	s := procStart(os.Getpid())
	if s == 0 {
		return 0, fmt.Errorf("read /proc/self/stat")
	}
	return s, nil
}
