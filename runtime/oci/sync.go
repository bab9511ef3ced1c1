package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The runtime and the init talk over a SOCK_SEQPACKET socketpair (fd 3 in
// the init), so every write is one message:
//
//	runtime                          init (C, runtime/containerinit)
//	   make the cgroup, clone the init into it
//	   the plan (plan.go) ─────────▶ lo, mounts, ...
//	   CreateOptions.Setup (hutch    ("hooks" ◀──▶ "go" around the prestart
//	   run: wire the network)         and createRuntime hooks, if any)
//	                                 pivot_root, join the v1 cgroups,
//	                                 unshare cgroupns, hostname
//	                                 with a terminal: open a pty in the
//	   ◀──────── "pty" + master fd   container's devpts (SCM_RIGHTS)
//	   size it, pass it on; "ack" ─▶ make the slave stdio and controlling tty
//	                                 rlimits
//	   ◀─────────────────"created"   then block opening the exec fifo
//	   (create returns)
//	   start: open the fifo ───────▶ startContainer hooks, write the fifo's
//	   ◀──────────── the fifo's byte byte; user, capabilities, find the command
//	   ◀───────────────────── EOF    execve succeeded (the socket is CLOEXEC)
//	   ◀─────────── {"code","msg"}   or: it failed, with the exit code to report
//
// An OCI create (hutch-runc) lets go of the socket at "created": the init
// closes its end too, and later errors go to its stderr. hutch's monitor
// (CreateChild) stays the init's parent and reads on to the exec. A fork
// "detach" says "pid N" first, the pid (in the runtime's namespace) of the
// process that will run the command.
//
// With --init the init stays as a reaper: its copy of the socket is closed
// and the child's closes at its execve, so EOF means started there too.
// hutch exec talks to its process the same way, less the fifo; after the
// plan's fork the parent closes its copy, as the reaper does.

// InitError is a failure of the init before the user's command ran.
type InitError struct {
	Code int    `json:"code"` // 125 setup failed, 126 not executable, 127 not found
	Msg  string `json:"msg"`
}

func (e *InitError) Error() string { return e.Msg }

// Events are what a runtime does with the init's messages on its way to
// the command; a nil field: the init is not expected to send that one.
type Events struct {
	Pty     func(master *os.File) // a terminal's master, before the init makes it stdio
	Pid     func(pid int)         // the command's process, after a detached fork
	Hooks   func() error          // the prestart and createRuntime hooks are due
	Created bool                  // the init stops at "created" (OCI create), not at its exec
}

// await reads the init's messages until its verdict: nil once the command
// runs (or, with ev.Created, once the init waits for start).
func await(sock *os.File, ev Events) error {
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
		msg := string(buf[:n])
		switch {
		case n == 0 && oobn == 0:
			if ev.Created {
				return errors.New("init exited before it was created")
			}
			return nil
		case msg == "pty" && ev.Pty != nil:
			master, err := receivedFile(oob[:oobn])
			if err != nil {
				return err
			}
			ev.Pty(master)
			if _, err := sock.Write([]byte("ack")); err != nil {
				return fmt.Errorf("answer init: %w", err)
			}
		case strings.HasPrefix(msg, "pid ") && ev.Pid != nil:
			pid, err := strconv.Atoi(msg[4:])
			if err != nil {
				return fmt.Errorf("init sent %q", msg)
			}
			ev.Pid(pid)
		case msg == "hooks" && ev.Hooks != nil:
			if err := ev.Hooks(); err != nil {
				return err
			}
			if _, err := sock.Write([]byte("go")); err != nil {
				return fmt.Errorf("answer init: %w", err)
			}
		case msg == "created" && ev.Created:
			return nil
		default:
			return ParseInitError(buf[:n])
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

// ParseInitError reads the init's {"code","msg"}.
func ParseInitError(b []byte) error {
	var ie InitError
	if err := json.Unmarshal(b, &ie); err != nil || ie.Msg == "" {
		return errors.New("init failed without saying why")
	}
	return &ie
}

// WriteInitError writes an InitError as the init does.
func WriteInitError(w interface{ Write([]byte) (int, error) }, code int, msg string) {
	b, _ := json.Marshal(InitError{Code: code, Msg: msg})
	w.Write(b)
}

// sendPlan sends the init its plan, one message however long: the socket's
// send buffer grows to fit it (SO_SNDBUFFORCE, as root).
func sendPlan(sock *os.File, p *Plan) error {
	fd := int(sock.Fd())
	if size, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF); err == nil && size < 2*len(p.Bytes())+65536 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 2*len(p.Bytes())+65536)
	}
	if _, err := sock.Write(p.Bytes()); err != nil {
		return fmt.Errorf("send the init its plan: %w", err)
	}
	return nil
}

// socketPair makes the sync socket: the runtime's end and the init's.
func socketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}
