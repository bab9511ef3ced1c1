package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The monitor and the init talk over a socketpair (fd 3 in the init):
//
//	monitor                          init
//	   start init (clone) ─────────▶ read config.json, wait
//	   join cgroup, wire network
//	   "go\n" ─────────────────────▶ unshare cgroupns, mounts, pivot_root,
//	                                 user, capabilities, find the command
//	   ◀───────────────────── EOF    execve succeeded (the socket is CLOEXEC)
//	   ◀─────────── {"code","msg"}   or: it failed, with the exit code to report
//
// With --init the init stays as a reaper and writes "{}" after its child
// started instead of relying on EOF.

// initError is a failure of the init before the user's command ran.
type initError struct {
	Code int    `json:"code"` // 125 setup failed, 126 not executable, 127 not found
	Msg  string `json:"msg"`
}

func (e *initError) Error() string { return e.Msg }

// ExitCode is the code hutch exits with for this failure.
func (e *initError) ExitCode() int { return e.Code }

// readInitResult waits for the init's verdict: nil once the command runs.
func readInitResult(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read from init: %w", err)
	}
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	var ie initError
	if err := json.Unmarshal(b, &ie); err != nil || ie.Msg == "" {
		return errors.New("init failed without saying why")
	}
	return &ie
}

func writeInitError(w io.Writer, code int, msg string) {
	b, _ := json.Marshal(initError{Code: code, Msg: msg})
	w.Write(b)
}
