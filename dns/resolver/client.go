package resolver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns"
	// The C resolver and its watchdog run from these packages' constructors.
	"github.com/hutchrt/hutch/dns/resolver/server"
	_ "github.com/hutchrt/hutch/dns/resolver/watchdog"
	"github.com/hutchrt/hutch/network/nft"
)

// ServeCommand is the hidden argv[1] of the resolver process.
const ServeCommand = "_dns-serve"

// RedirectCommand is what the resolver runs to move a restored container's
// port-53 redirect to new ports (the netns at fd 3).
const RedirectCommand = "_dns-redirect"

const socketName = "resolver.sock"

// Entry is one container's presence on one network.
type Entry struct {
	Network string     // network name
	Names   []string   // container name first, then each --network-alias, the 12-char short id, the hostname (any may repeat)
	IP      netip.Addr // the container's address on Network
}

// Registration is what a monitor tells the resolver about its container.
type Registration struct {
	ID        string
	Pid       int      // the container's init: its exit ends the service
	Upstreams []string // "ip:port" to forward other names to
	Entries   []Entry
}

// Member is a container for the resolver of Dir to serve: network's
// Registrar, so that a container's attachment registers its names.
type Member struct {
	Dir string
	Registration
}

// Register is Attach, in the namespace of the container being attached.
func (m *Member) Register(ns *os.File) error { return Attach(m.Dir, ns, m.Registration) }

// Attach makes the resolver of dir serve a container whose network
// namespace is ns, and points port 53 of 127.0.0.11 there at the ports the
// resolver picked.
func Attach(dir string, ns *os.File, reg Registration) error {
	udp, tcp, err := Register(dir, ns, reg)
	if err != nil {
		return err
	}
	return nft.RedirectDNS(int(ns.Fd()), netip.MustParseAddr(dns.ResolverAddr), uint16(udp), uint16(tcp))
}

// Register makes the resolver of dir (starting it if none runs) serve a
// container, and returns the ports it listens on at 127.0.0.11 inside ns.
func Register(dir string, ns *os.File, reg Registration) (udpPort, tcpPort int, err error) {
	pidfd, err := unix.PidfdOpen(reg.Pid, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("dns: %w", err)
	}
	defer unix.Close(pidfd)
	req := request("register", reg.ID, reg.Upstreams, reg.Entries)
	rights := unix.UnixRights(int(ns.Fd()), pidfd)
	for try := 0; try < 3; try++ {
		var resp string
		resp, err = call(dir, req, rights)
		// EOF: the resolver hung up without an answer. It was exiting, idle,
		// with this request still queued (or it died): it registered nothing,
		// and the next one, which reloads every registration, is asked again.
		if errors.Is(err, errNotRunning) || errors.Is(err, io.EOF) {
			if err = spawn(dir); err != nil {
				return 0, 0, err
			}
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		f := strings.Fields(resp)
		if len(f) == 3 && f[0] == "ok" {
			udp, err1 := strconv.Atoi(f[1])
			tcp, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil {
				return udp, tcp, nil
			}
		}
		return 0, 0, fmt.Errorf("dns resolver: %s", strings.TrimPrefix(resp, "error "))
	}
	return 0, 0, fmt.Errorf("dns resolver: could not start one: %w", err)
}

// Update replaces a running container's names (network connect and
// disconnect). It reports whether the resolver serves the container at all:
// one started on the default bridge is not served until it is registered.
func Update(dir, id string, entries []Entry) (served bool, err error) {
	resp, err := call(dir, request("update", id, nil, entries), nil)
	if errors.Is(err, errNotRunning) || errors.Is(err, io.EOF) {
		return false, nil // none runs, or it was exiting: it serves nobody
	}
	if err != nil {
		return false, err
	}
	switch resp {
	case "ok":
		return true, nil
	case "unknown":
		return false, nil
	}
	return false, fmt.Errorf("dns resolver: %s", strings.TrimPrefix(resp, "error "))
}

// request is the message for the resolver (see the package doc). A field
// with a space or a newline in it could not be read back: hutch's names
// have none (they are validated), and one that had would be no DNS name.
func request(op, id string, upstreams []string, entries []Entry) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", op, id)
	for _, u := range upstreams {
		if clean(u) {
			fmt.Fprintf(&b, "up %s\n", u)
		}
	}
	for _, e := range entries {
		network := e.Network
		if network == "" {
			network = "-"
		}
		if !clean(network) || !e.IP.IsValid() {
			continue
		}
		b.WriteString("e " + network + " " + e.IP.String())
		for _, n := range e.Names {
			if clean(n) {
				b.WriteString(" " + n)
			}
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}

func clean(s string) bool { return s != "" && !strings.ContainsAny(s, " \t\n\r") }

var errNotRunning = errors.New("no resolver running")

func call(dir string, req, rights []byte) (string, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: filepath.Join(dir, socketName), Net: "unixpacket"})
	if err != nil {
		return "", errNotRunning
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.WriteMsgUnix(req, rights, nil); err != nil {
		return "", fmt.Errorf("dns resolver: %w", err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return "", fmt.Errorf("dns resolver: %w", err)
	}
	if n == 0 {
		return "", io.EOF
	}
	return strings.TrimSpace(string(buf[:n])), nil
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
	cmd.Env = append(os.Environ(), server.ServeEnv+"="+dir)
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

// RedirectMain is `hutch _dns-redirect UDPPORT TCPPORT` with a container's
// network namespace at fd 3: the resolver restored the container on new
// ports, and its port-53 redirect must follow.
func RedirectMain(args []string) {
	if len(args) != 2 {
		os.Exit(2)
	}
	udp, err1 := strconv.ParseUint(args[0], 10, 16)
	tcp, err2 := strconv.ParseUint(args[1], 10, 16)
	if err1 != nil || err2 != nil {
		os.Exit(2)
	}
	if err := nft.RedirectDNS(3, netip.MustParseAddr(dns.ResolverAddr), uint16(udp), uint16(tcp)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
