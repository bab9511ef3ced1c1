package resolver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns"
)

// Registration is what a monitor tells the resolver about its container.
type Registration struct {
	ID        string
	NetNS     *os.File // the container's network namespace
	Pidfd     int      // of the container's init: its exit ends the service
	Upstreams []string // "ip:port" to forward other names to
	Entries   []dns.Entry
}

// Register makes the resolver of dir (starting it if none runs) serve a
// container, and returns the ports it listens on at 127.0.0.11 inside it.
func Register(dir string, reg Registration) (udpPort, tcpPort int, err error) {
	req := request{Op: "register", ID: reg.ID, Upstreams: reg.Upstreams, Entries: reg.Entries}
	rights := unix.UnixRights(int(reg.NetNS.Fd()), reg.Pidfd)
	for try := 0; try < 3; try++ {
		var resp response
		resp, err = call(dir, req, rights)
		// EOF: the resolver hung up without an answer. It was exiting, idle,
		// with this request still queued (or it died): it registered nothing,
		// and the next one, which reloads every registration, is asked again.
		hungUp := errors.Is(err, io.EOF)
		if errors.Is(err, errNotRunning) || hungUp || (err == nil && resp.Error == errExiting.Error()) {
			if err = spawn(dir); err != nil {
				return 0, 0, err
			}
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		if resp.Error != "" {
			return 0, 0, fmt.Errorf("dns resolver: %s", resp.Error)
		}
		return resp.UDPPort, resp.TCPPort, nil
	}
	return 0, 0, fmt.Errorf("dns resolver: could not start one: %w", err)
}

// Update replaces a running container's names (network connect and
// disconnect). It reports whether the resolver serves the container at all:
// one started on the default bridge is not served until it is registered.
func Update(dir, id string, entries []dns.Entry) (served bool, err error) {
	resp, err := call(dir, request{Op: "update", ID: id, Entries: entries}, nil)
	if errors.Is(err, errNotRunning) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if resp.Error == errExiting.Error() {
		return false, nil
	}
	if resp.Error != "" {
		return false, fmt.Errorf("dns resolver: %s", resp.Error)
	}
	return !resp.Unknown, nil
}

var errNotRunning = errors.New("no resolver running")

func call(dir string, req request, rights []byte) (response, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: filepath.Join(dir, socketName), Net: "unixpacket"})
	if err != nil {
		return response{}, errNotRunning
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := json.Marshal(req)
	if err != nil {
		return response{}, err
	}
	if _, _, err := c.WriteMsgUnix(b, rights, nil); err != nil {
		return response{}, fmt.Errorf("dns resolver: %w", err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return response{}, fmt.Errorf("dns resolver: %w", err)
	}
	var resp response
	if err := json.Unmarshal(buf[:n], &resp); err != nil {
		return response{}, fmt.Errorf("dns resolver: %w", err)
	}
	return resp, nil
}

// spawn starts a resolver for dir in a session of its own and waits until
// it listens (or defers to another one that won the race and does). It is
// not waited for: when it exits it stays a zombie of this process until
// this one exits too, which costs a pid and nothing else.
func spawn(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe", ServeCommand, dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start dns resolver: %w", err)
	}
	cmd.Process.Release()
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if line == "ok\n" {
		return nil
	}
	if line = strings.TrimSpace(line); line != "" {
		return fmt.Errorf("start dns resolver: %s", line)
	}
	return fmt.Errorf("start dns resolver: %v", err)
}
