package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The monitor and the init talk over a SOCK_SEQPACKET socketpair (fd 3 in
// the init), so every write is one message:
//
//	monitor                          init (C, runtime/containerinit)
//	   make the cgroup, clone the init into it
//	   the plan (initplan.go) ─────▶ lo, mounts, pivot_root, join the v1
//	                                 cgroups, unshare cgroupns, wait
//	   wire the network
//	   "run" ──────────────────────▶ with -t: open a pty in the container's devpts
//	   ◀──────── "pty" + master fd   (SCM_RIGHTS)
//	   size it, copy it; "ack" ────▶ make the slave stdio and controlling tty
//	                                 hostname, rlimits, user, capabilities,
//	                                 find the command
//	   ◀───────────────────── EOF    execve succeeded (the socket is CLOEXEC)
//	   ◀─────────── {"code","msg"}   or: it failed, with the exit code to report
//
// With --init the init stays as a reaper: its copy of the socket is closed
// and the child's closes at its execve, so EOF means started there too.
// hutch exec talks to its process the same way, less the wait for "run";
// after the plan's fork the parent closes its copy, as the reaper does.

// errAlreadyRunning is a start that found another monitor in charge.
var errAlreadyRunning = errors.New("container is already running")

// readyRunning is what a detached monitor writes to its ready pipe when it
// found the container already in another monitor's hands.
const readyRunning = "running"

// initError is a failure of the init before the user's command ran.
type initError struct {
	Code int    `json:"code"` // 125 setup failed, 126 not executable, 127 not found
	Msg  string `json:"msg"`
}

func (e *initError) Error() string { return e.Msg }

// awaitInit reads the init's messages until its verdict: nil once the
// command runs. A pty master, if the init sends one, goes to onPty before
// the init is told to carry on.
func awaitInit(sock *os.File, onPty func(*os.File)) error {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	fd := int(sock.Fd())
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read from init: %w", err)
		}
		switch msg := string(buf[:n]); {
		case n == 0 && oobn == 0:
			return nil
		case msg == "pty":
			master, err := receivedFile(oob[:oobn])
			if err != nil {
				return err
			}
			onPty(master)
			if _, err := sock.Write([]byte("ack")); err != nil {
				return fmt.Errorf("answer init: %w", err)
			}
		default:
			return parseInitError(buf[:n])
		}
	}
}

func receivedFile(oob []byte) (*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("init sent a pty without its fd")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("init sent a pty without its fd")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// readInitResult reads a verdict from a plain stream (a detached monitor's
// ready pipe): nothing before EOF means success.
func readInitResult(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read from monitor: %w", err)
	}
	switch string(b) {
	case "":
		return nil
	case readyRunning:
		return errAlreadyRunning
	}
	return parseInitError(b)
}

func parseInitError(b []byte) error {
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
