// Package procstart reads when a process started, which together with its
// pid names it for good: a pid is reused, a (pid, start time) pair is not.
// Records that name a process (a container's monitor and init, a command's
// intent, a resolver's registration) keep both.
package procstart

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Of returns the start time (clock ticks since boot, field 22 of
// /proc/<pid>/stat) of a live process; 0 if it is gone or a zombie. A zombie
// counts as gone: it serves nobody, and this machine's pid 1 does not reap
// orphans.
func Of(pid int) uint64 {
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
