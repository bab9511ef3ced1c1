//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNetworkIsolation: containers on one network reach each other, not
// those of another network, and an outside host cannot reach a container's
// address directly even with a route to it.
func TestNetworkIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := netNewOutside(t, "iso", "198.51.100.9", "198.51.100.10")
	e.netCreate("isoa", "--subnet", "10.202.1.0/24")
	e.netCreate("isob", "--subnet", "10.202.2.0/24")
	for _, c := range [][2]string{{"a1", "isoa"}, {"a2", "isoa"}, {"b1", "isob"}} {
		e.lcRunDetached("--name", c[0], "--network", c[1], "busybox", "sleep", "100")
	}
	a1, a2, b1 := e.netIP("a1"), e.netIP("a2"), e.netIP("b1")
	if !e.netPing("a1", a2) || !e.netPing("a2", a1) {
		t.Errorf("containers on one network cannot ping each other (%s, %s)", a1, a2)
	}
	if e.netPing("a1", b1) {
		t.Errorf("a1 (isoa) pings b1 (isob, %s)", b1)
	}
	if e.netPing("b1", a1) {
		t.Errorf("b1 (isob) pings a1 (isoa, %s)", a1)
	}
	o.route("10.202.0.0/16")
	if !o.ping("10.202.1.1") { // the route works: the host answers on the bridge's address
		t.Fatalf("outside netns cannot ping the host through its route to 10.202.0.0/16")
	}
	if o.ping(a1) {
		t.Errorf("outside netns pings container a1 at %s directly", a1)
	}
}

// TestNetworkPublishHTTP: a published port answers on every path: from the
// host through 127.0.0.1 and a host address, from an outside host (which
// keeps its source address), from containers on another network and on the
// same one (the container itself included); a port published on 127.0.0.1
// only there; a random host port; ranges.
func TestNetworkPublishHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := netNewOutside(t, "pub", "198.51.100.1", "198.51.100.2")
	e.netCreate("puba", "--subnet", "10.203.1.0/24")
	e.netCreate("pubb", "--subnet", "10.203.2.0/24")
	p1, p2 := netFreePort(t), netFreePort(t)
	e.netStartWeb([]string{"--name", "web", "--network", "puba", "-p", fmt.Sprintf("%d:80", p1), "-p", fmt.Sprintf("127.0.0.1:%d:80", p2)})
	e.lcRunDetached("--name", "peer", "--network", "puba", "busybox", "sleep", "100")
	e.lcRunDetached("--name", "other", "--network", "pubb", "busybox", "sleep", "100")
	cgi := func(host string, port int) string { return fmt.Sprintf("http://%s:%d/cgi-bin/ip", host, port) }
	isIP := func(s string) bool { return netRemoteAddr(s) != "" }

	for _, h := range []string{"127.0.0.1", o.hostIP} {
		if body, err := netHostGet(cgi(h, p1)); err != nil || !isIP(body) {
			t.Errorf("host -> %s:%d: %q, %v", h, p1, body, err)
		}
	}
	if body, err := o.get(cgi(o.hostIP, p1)); err != nil || netRemoteAddr(body) != o.nsIP {
		t.Errorf("outside -> %s:%d: %q, %v; want the outside's own address %s", o.hostIP, p1, body, err, o.nsIP)
	}
	for _, c := range []string{"other", "web", "peer"} {
		if body, err := e.netCtrGet(c, cgi(o.hostIP, p1)); err != nil || !isIP(body) {
			t.Errorf("container %s -> %s:%d: %q, %v", c, o.hostIP, p1, body, err)
		}
	}

	// Published on 127.0.0.1 only.
	if body, err := netHostGet(cgi("127.0.0.1", p2)); err != nil || !isIP(body) {
		t.Errorf("host -> 127.0.0.1:%d: %q, %v", p2, body, err)
	}
	if body, err := netHostGet(cgi(o.hostIP, p2)); err == nil {
		t.Errorf("host -> %s:%d answered %q, but the port is published on 127.0.0.1 only", o.hostIP, p2, body)
	}
	if body, err := o.get(cgi(o.hostIP, p2)); err == nil {
		t.Errorf("outside -> %s:%d answered %q, but the port is published on 127.0.0.1 only", o.hostIP, p2, body)
	}

	// A random host port.
	e.netStartWeb([]string{"--name", "web2", "--network", "puba", "-p", "80"})
	rp := e.netHostPort("web2", "80/tcp")
	if out := e.ok("port", "web2"); out != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", rp) {
		t.Errorf("port web2 = %q, want 80/tcp -> 0.0.0.0:%d", out, rp)
	}
	if out := e.ok("port", "web2", "80"); out != fmt.Sprintf("0.0.0.0:%d", rp) {
		t.Errorf("port web2 80 = %q, want 0.0.0.0:%d", out, rp)
	}
	if ps := e.ok("ps"); !strings.Contains(ps, fmt.Sprintf("0.0.0.0:%d->80/tcp", rp)) {
		t.Errorf("ps does not show 0.0.0.0:%d->80/tcp:\n%s", rp, ps)
	}
	if b := e.netCtr("web2").NetworkSettings.Ports["80/tcp"][0]; b.HostIP != "0.0.0.0" {
		t.Errorf("inspect web2 Ports[80/tcp] HostIp %q, want 0.0.0.0", b.HostIP)
	}
	if body, err := netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", rp)); err != nil || body != "port80" {
		t.Errorf("host -> 127.0.0.1:%d (random port): %q, %v", rp, body, err)
	}
	if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", rp)); err == nil {
		l.Close()
		t.Errorf("a host process could bind the random published port %d", rp)
	}

	// Ranges.
	first := netFreeRange(t, 2)
	e.netStartWeb([]string{"--name", "multi", "--network", "puba", "-p", fmt.Sprintf("%d-%d:80-81", first, first+1)}, 80, 81)
	for i, want := range []string{"port80", "port81"} {
		if body, err := netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", first+i)); err != nil || body != want {
			t.Errorf("host -> 127.0.0.1:%d (range): %q, %v; want %s", first+i, body, err, want)
		}
	}
	wantPort := fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n81/tcp -> 0.0.0.0:%d", first, first+1)
	if out := e.ok("port", "multi"); out != wantPort {
		t.Errorf("port multi = %q, want %q", out, wantPort)
	}
}

// netUDPEcho serves UDP on port inside the network namespace of process
// pid, answering "echo:" and what it got; it returns the sources it saw.
func netUDPEcho(t *testing.T, pid, port int) <-chan string {
	t.Helper()
	ready := make(chan error, 1)
	seen := make(chan string, 100)
	var conn net.PacketConn
	go func() {
		// The socket is made in the container's namespace and stays there;
		// the thread goes back to ours at once (if it cannot, it stays
		// locked and ends with this goroutine).
		goruntime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ready <- err
			return
		}
		defer home.Close()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ready <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			ready <- fmt.Errorf("setns: %w", err)
			return
		}
		c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
		if err != nil {
			ready <- err
			return
		}
		conn = c
		ready <- nil
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case seen <- from.String():
			default:
			}
			c.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("UDP server in the netns of %d: %v", pid, err)
	}
	t.Cleanup(func() { conn.Close() })
	return seen
}

// netUDPAsk sends msg to addr and returns the answer (retrying for 5 s).
func netUDPAsk(addr, msg string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 1500)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
		if time.Now().After(deadline) {
			return "", err
		}
	}
}

// TestNetworkPublishUDP: a UDP port published with -p HOST:CTR/udp reaches
// a UDP server in the container and its answers come back.
func TestNetworkPublishUDP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("udpnet", "--subnet", "10.204.1.0/24")
	p := netFreePort(t)
	id := e.lcRunDetached("--name", "udp", "--network", "udpnet", "-p", fmt.Sprintf("%d:5353/udp", p), "busybox", "sleep", "100")
	seen := netUDPEcho(t, e.netCtr(id).State.Pid, 5353)
	if out := e.ok("port", "udp"); out != fmt.Sprintf("5353/udp -> 0.0.0.0:%d", p) {
		t.Errorf("port udp = %q", out)
	}
	if ps := e.ok("ps"); !strings.Contains(ps, fmt.Sprintf("0.0.0.0:%d->5353/udp", p)) {
		t.Errorf("ps does not show 0.0.0.0:%d->5353/udp:\n%s", p, ps)
	}
	got, err := netUDPAsk(fmt.Sprintf("127.0.0.1:%d", p), "hello-udp")
	if err != nil || got != "echo:hello-udp" {
		t.Fatalf("UDP to 127.0.0.1:%d: %q, %v; want echo:hello-udp", p, got, err)
	}
	select {
	case from := <-seen:
		t.Logf("the container's UDP server saw the host's datagram from %s", from)
	default:
		t.Errorf("the answer did not come from the container's server")
	}
	// TCP on the same number is not published.
	if body, err := netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", p)); err == nil {
		t.Errorf("TCP 127.0.0.1:%d answered %q; only UDP is published", p, body)
	}
}

// TestNetworkMasquerade: a container reaches an outside host, which sees
// the host's address on that link; a container on an --internal network
// reaches nothing outside, even when the outside has a route back.
func TestNetworkMasquerade(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := netNewOutside(t, "masq", "198.51.100.5", "198.51.100.6")
	o.startHTTPD(8080)
	e.netCreate("outnet", "--subnet", "10.205.1.0/24")
	in := e.netCreate("innet", "--subnet", "10.205.2.0/24", "--internal")
	if !in.Internal {
		t.Errorf("network inspect innet: Internal false")
	}
	url := fmt.Sprintf("http://%s:8080/cgi-bin/ip", o.nsIP)
	// Never timeout as pid 1: its SIGTERM would be ignored there.
	if got := e.runSh("timeout 5 wget -qO- "+url+"; exit $?", "--network", "outnet"); got != o.hostIP {
		t.Errorf("outside server saw the container as %q, want the host's address %s", got, o.hostIP)
	}
	// Without hutch's drop, unmasqueraded packets would find their way back.
	o.route("10.205.2.0/24")
	r := e.run("run", "--rm", "--network", "innet", "busybox", "sh", "-c", "timeout 3 wget -qO- "+url+"; exit $?")
	if r.code == 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a container on an internal network reached the outside: %s", r)
	}
}
