//go:build integration

package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestDNSTruncation: 40 containers share an alias. Over UDP without EDNS
// the answer is cut to 512 bytes with TC set; with an EDNS size of 4096 it
// is whole; over TCP it is whole; a client that is not told to ignore TC
// retries over TCP and gets everything.
func TestDNSTruncation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("trunc", "--subnet", "10.223.1.0/24")
	fake := dnsNewFake(t, "127.77.21.1", 0, dnsAnswer, "203.0.113.211")
	const n = 40
	// The asker first, alone, so that the resolver is up before the others
	// start in parallel (parallel first starts: TestDNSParallelFirstStarts).
	e.dnsSleeper("asker", "trunc", fake.ip)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := execHutch(hutchBin, e.root, "", nil, "run", "-d", "--name", fmt.Sprintf("m%d", i), "--network", "trunc",
				"--network-alias", "many", "--dns", fake.ip, "busybox", "sleep", "300")
			if err == nil && r.code != 0 {
				err = fmt.Errorf("run m%d: %s", i, r)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pid := e.dnsPid("asker")

	d := dnsDigIn(t, pid, "+notcp", "+ignore", "+noedns", "many")
	if d.status != "NOERROR" || !d.flags["tc"] || d.size > 512 || len(d.answers) == 0 || len(d.answers) >= n || d.proto != "UDP" {
		t.Errorf("dig +notcp +noedns many: want a truncated (TC) UDP answer of at most 512 bytes with some of the %d addresses, got %d answers, %d bytes:\n%s", n, len(d.answers), d.size, d)
	}
	small := len(d.answers)
	d = dnsDigIn(t, pid, "+notcp", "+ignore", "+bufsize=600", "many")
	if !d.flags["tc"] || d.size > 600 || len(d.answers) <= small || len(d.answers) >= n {
		t.Errorf("dig +bufsize=600 many: want TC, at most 600 bytes and more than the %d answers of 512 bytes, got %d answers, %d bytes:\n%s", small, len(d.answers), d.size, d)
	}
	d = dnsDigIn(t, pid, "+notcp", "+ignore", "+bufsize=4096", "many")
	if d.flags["tc"] || len(d.answers) != n || d.ednsUDP == 0 || d.proto != "UDP" {
		t.Errorf("dig +bufsize=4096 many: want all %d addresses over UDP with EDNS, no TC; got %d:\n%s", n, len(d.answers), d)
	}
	d = dnsDigIn(t, pid, "+tcp", "many")
	if d.flags["tc"] || len(d.answers) != n || d.proto != "TCP" {
		t.Errorf("dig +tcp many: want all %d addresses over TCP; got %d:\n%s", n, len(d.answers), d)
	}
	d = dnsDigIn(t, pid, "+noedns", "many")
	if len(d.answers) != n || d.proto != "TCP" || !strings.Contains(d.out, "Truncated, retrying in TCP mode") {
		t.Errorf("dig +noedns many: want a retry over TCP with all %d addresses; got %d:\n%s", n, len(d.answers), d)
	}
	if fake.count("many") != 0 {
		t.Errorf("the shared alias was forwarded")
	}
}

// TestDNSPort53Free: a process in the container listens on port 53 over TCP
// (busybox nc) and UDP (a socket of the test's, in the container's
// namespace) on all addresses, and lookups through 127.0.0.11 still reach
// the resolver, not those listeners, over both transports.
func TestDNSPort53Free(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("p53", "--subnet", "10.223.2.0/24")
	fake := dnsNewFake(t, "127.77.22.1", 0, dnsAnswer, "203.0.113.221")
	e.dnsSleeper("peer", "p53", fake.ip)
	e.lcRunDetached("--name", "own", "--network", "p53", "--dns", fake.ip, "busybox", "sh", "-c",
		"echo hello-from-nc | nc -l -p 53 & exec sleep 300")
	pid := e.dnsPid("own")
	ownIP, peerIP := e.netIP("own"), e.netIP("peer")
	if !lcWaitUntil(5*time.Second, func() bool {
		out, _ := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "ss", "-Hltn", "sport = :53").Output()
		return strings.Contains(string(out), ":53")
	}) {
		t.Fatalf("nc does not listen on TCP port 53 in the container")
	}

	var udp net.PacketConn
	if err := dnsInNetNS(pid, func() (err error) {
		udp, err = net.ListenPacket("udp4", "0.0.0.0:53")
		return err
	}); err != nil {
		t.Fatalf("a process in the container cannot bind 0.0.0.0:53/udp: %v", err)
	}
	defer udp.Close()
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
			udp.WriteTo([]byte("mine"), from)
		}
	}()

	if l := e.nslookup("own", "peer"); !l.only(peerIP) {
		t.Errorf("nslookup peer (UDP) with port 53 taken in the container: %s, want %s", l, peerIP)
	}
	if d := dnsDigIn(t, pid, "+tcp", "peer"); d.proto != "TCP" || strings.Join(d.data("A"), " ") != peerIP {
		t.Errorf("dig +tcp peer with port 53 taken in the container: want %s:\n%s", peerIP, d)
	}
	if d := dnsDigIn(t, pid, "+notcp", dnsOutside); strings.Join(d.data("A"), " ") != fake.answer {
		t.Errorf("dig %s (forwarded) with port 53 taken: want %s:\n%s", dnsOutside, fake.answer, d)
	}
	select {
	case m := <-got:
		t.Errorf("the container's own UDP :53 got a query meant for 127.0.0.11: %q", m)
	default:
	}

	// The controls: those listeners do own port 53 of the container.
	if r, err := netUDPAsk(ownIP+":53", "ping"); err != nil || r != "mine" {
		t.Errorf("UDP to %s:53 from the host: %q, %v; want the container's own server", ownIP, r, err)
	}
	c, err := net.DialTimeout("tcp4", ownIP+":53", 5*time.Second)
	if err != nil {
		t.Fatalf("TCP to %s:53 from the host: %v", ownIP, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if strings.TrimSpace(string(b)) != "hello-from-nc" {
		t.Errorf("TCP %s:53 answered %q, want nc's hello-from-nc", ownIP, b)
	}
}

// TestDNSHostileInput: garbage over UDP and TCP gets FORMERR or nothing and
// the resolver keeps answering; 1000 queries at once do not break it; a
// flood of forwarded queries to a silent upstream neither delays local
// answers nor occupies more than a bounded number of upstream queries.
func TestDNSHostileInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("hostile", "--subnet", "10.223.3.0/24")
	fake := dnsNewFake(t, "127.77.23.1", 0, dnsAnswer, "203.0.113.231")
	silent := dnsNewFake(t, "127.77.23.2", 0, dnsSilent, "")
	e.dnsSleeper("web", "hostile", fake.ip)
	e.dnsSleeper("evil", "hostile", fake.ip)
	e.dnsSleeper("slow", "hostile", silent.ip)
	webIP := e.netIP("web")
	pid := e.dnsPid("evil")
	c := dnsDial(t, pid, "udp4")
	answersWeb := func(c net.Conn, what string) {
		t.Helper()
		r, err := dnsAsk(c, dnsQ("web", mdns.TypeA), 3*time.Second)
		if err != nil || r.Rcode != mdns.RcodeSuccess || strings.Join(dnsAddrs(r), " ") != webIP {
			t.Fatalf("%s: query web: %v, %v; want %s", what, r, err, webIP)
		}
	}
	answersWeb(c, "before any garbage")

	longLabel := func() []byte {
		m := dnsQ("x", mdns.TypeA)
		b, _ := m.Pack()
		// header, then a 70-byte label (over 63 is invalid), root, type, class
		q := append([]byte{}, b[:12]...)
		q = append(q, 70)
		q = append(q, []byte(strings.Repeat("a", 70))...)
		return append(q, 0, 0, 1, 0, 1)
	}()
	hdrOnly := func(flags0 byte, qd uint16) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h, 0x4242)
		h[2] = flags0
		binary.BigEndian.PutUint16(h[4:], qd)
		return h
	}
	garbage := map[string][]byte{
		"one byte":               {0x42},
		"short header":           {1, 2, 3, 4, 5},
		"header, missing qname":  hdrOnly(0x01, 1),
		"response":               hdrOnly(0x81, 0),
		"bad label":              longLabel,
		"random 1400 bytes":      []byte(strings.Repeat("\xde\xad\xbe\xef\x00\xff\x3f", 200)),
		"pointer loop":           append(hdrOnly(0x01, 1), 0xc0, 12, 0, 1, 0, 1),
		"qdcount 65535, no data": hdrOnly(0x01, 0xffff),
	}
	for what, pkt := range garbage {
		if _, err := c.Write(pkt); err != nil {
			t.Fatalf("send %s: %v", what, err)
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		c.SetReadDeadline(time.Time{})
		switch {
		case err == nil && (n < 12 || buf[2]&0x80 == 0):
			t.Errorf("%s: the reply is not a DNS response: %x", what, buf[:n])
		case err == nil && int(buf[3]&0xf) != mdns.RcodeFormatError:
			t.Errorf("%s: reply rcode %s, want FORMERR or no reply", what, mdns.RcodeToString[int(buf[3]&0xf)])
		case err != nil && !isTimeout(err):
			t.Errorf("%s: read: %v", what, err)
		case err == nil:
			t.Logf("%s: FORMERR", what)
		}
		answersWeb(c, "after "+what)
	}

	// TCP: a frame announcing more than is sent, then a close; an empty frame.
	for what, pkt := range map[string][]byte{"short frame": {0xff, 0xff, 1, 2, 3}, "empty frame": {0, 0}} {
		tc := dnsDial(t, pid, "tcp4")
		tc.Write(pkt)
		tc.Close()
		answersWeb(dnsDial(t, pid, "tcp4"), "after TCP "+what)
	}

	// 1000 queries in a burst: more than the socket buffers hold, so some
	// are lost on the way whatever the server, but it must come out of it
	// answering.
	fl := dnsDial(t, pid, "udp4")
	got := dnsBurst(fl, 1000, 1000, "web", webIP, 2*time.Second)
	t.Logf("1000 queries in one burst: %d answered", got)
	if got == 0 {
		t.Errorf("none of 1000 queries in a burst was answered")
	}
	answersWeb(c, "after the burst")
	// 1000 fast queries, at most 50 outstanding (what the buffers hold):
	// every one is answered.
	got = dnsBurst(fl, 1000, 50, "web", webIP, 2*time.Second)
	if got != 1000 {
		t.Errorf("1000 queries, 50 at a time: %d answered", got)
	}

	// A flood of forwarded queries to a silent upstream, 50 at a time.
	slowPid := e.dnsPid("slow")
	sc := dnsDial(t, slowPid, "udp4")
	const flood = 300
	start := time.Now()
	for i := range flood {
		m := dnsQ(fmt.Sprintf("q%d.slow.test", i), mdns.TypeA)
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		sc.Write(b)
		if i%50 == 49 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	lc := dnsDial(t, slowPid, "udp4")
	qs := time.Now()
	answersWeb(lc, "local name during a forwarded flood")
	if took := time.Since(qs); took > 500*time.Millisecond {
		t.Errorf("a local name took %s to answer during a flood of forwarded queries", took)
	}
	servfails, early, buf := 0, 0, make([]byte, 1500)
	for servfails < flood {
		sc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := sc.Read(buf)
		if err != nil {
			break
		}
		r := new(mdns.Msg)
		if r.Unpack(buf[:n]) == nil && r.Rcode == mdns.RcodeServerFailure {
			servfails++
			if time.Since(start) < time.Second {
				early++
			}
		}
	}
	t.Logf("forwarded flood: %d SERVFAIL of %d (%d within 1 s) in %s; the silent upstream saw %d", servfails, flood, early, time.Since(start), silent.total())
	if servfails != flood {
		t.Errorf("forwarded flood to a silent upstream: %d of %d queries got SERVFAIL", servfails, flood)
	}
	if n := silent.total(); n == 0 || n >= flood || early == 0 {
		t.Errorf("the silent upstream got %d of %d flooded queries and %d got SERVFAIL within 1 s: want a bounded number in flight, the rest refused at once", n, flood, early)
	}
	if d := dnsDigIn(t, pid, dnsOutside); strings.Join(d.data("A"), " ") != fake.answer {
		t.Errorf("forwarding after the floods:\n%s", d)
	}
}

// dnsBurst sends n queries for name over c, at most window unanswered at a
// time, and returns how many got exactly want; a window whose answers do
// not all come within wait is given up.
func dnsBurst(c net.Conn, n, window int, name, want string, wait time.Duration) int {
	answered, buf := 0, make([]byte, 1500)
	for sent := 0; sent < n; {
		batch := min(window, n-sent)
		ids := map[uint16]bool{}
		for i := range batch {
			m := dnsQ(name, mdns.TypeA)
			m.Id = uint16(sent + i + 1)
			ids[m.Id] = true
			b, _ := m.Pack()
			c.Write(b)
		}
		sent += batch
		deadline := time.Now().Add(wait)
		for len(ids) > 0 {
			c.SetReadDeadline(deadline)
			k, err := c.Read(buf)
			if err != nil {
				break
			}
			r := new(mdns.Msg)
			if r.Unpack(buf[:k]) == nil && ids[r.Id] && strings.Join(dnsAddrs(r), " ") == want {
				delete(ids, r.Id)
				answered++
			}
		}
	}
	c.SetReadDeadline(time.Time{})
	return answered
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestDNSIdleTCP: a TCP connection to 127.0.0.11:53 left idle, after a
// query or without one, is closed by the resolver within 15 s, and a new
// one is served.
func TestDNSIdleTCP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("idle", "--subnet", "10.223.4.0/24")
	fake := dnsNewFake(t, "127.77.24.1", 0, dnsAnswer, "203.0.113.241")
	e.dnsSleeper("c", "idle", fake.ip)
	ip := e.netIP("c")
	pid := e.dnsPid("c")
	used, silent := dnsDial(t, pid, "tcp4"), dnsDial(t, pid, "tcp4")
	start := time.Now()
	if r, err := dnsAsk(used, dnsQ("c", mdns.TypeA), 3*time.Second); err != nil || strings.Join(dnsAddrs(r), " ") != ip {
		t.Fatalf("query c over TCP: %v, %v", r, err)
	}
	var wg sync.WaitGroup
	for what, c := range map[string]net.Conn{"after a query": used, "never used": silent} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := c.Read(make([]byte, 1))
			took := time.Since(start)
			if isTimeout(err) || err == nil {
				t.Errorf("idle TCP connection %s still open after %s (%v)", what, took, err)
				return
			}
			if took > 15*time.Second {
				t.Errorf("idle TCP connection %s closed after %s, want within 15 s", what, took)
			}
			t.Logf("idle TCP connection %s closed after %s: %v", what, took, err)
		}()
	}
	wg.Wait()
	if r, err := dnsAsk(dnsDial(t, pid, "tcp4"), dnsQ("c", mdns.TypeA), 3*time.Second); err != nil || strings.Join(dnsAddrs(r), " ") != ip {
		t.Errorf("a new TCP connection after the idle ones: %v, %v", r, err)
	}
}
