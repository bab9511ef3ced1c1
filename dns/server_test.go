package dns

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// startServer serves s on fresh UDP and TCP sockets on 127.0.0.1 and stops
// it (checking that both loops return nil) when the test ends.
func startServer(t *testing.T, s *Server) (udpAddr, tcpAddr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- s.ServeUDP(pc) }()
	go func() { errs <- s.ServeTCP(l) }()
	t.Cleanup(func() {
		pc.Close()
		l.Close()
		for range 2 {
			select {
			case err := <-errs:
				if err != nil {
					t.Errorf("serve returned %v after close, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("serve did not return within 5s of close")
			}
		}
	})
	return pc.LocalAddr().String(), l.Addr().String()
}

// startUpstreamBoth runs one fake upstream on UDP and TCP at the same
// 127.0.0.1 port, as a real resolver would be.
func startUpstreamBoth(t *testing.T, h mdns.HandlerFunc) string {
	t.Helper()
	for range 20 {
		addr := startUpstream(t, "udp", h)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // port taken on TCP: try another
		}
		srv := &mdns.Server{Listener: l, Handler: h}
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
		return addr
	}
	t.Fatal("no port free on both UDP and TCP")
	return ""
}

// upstreamZone answers forwarded.example. with 192.0.2.10 and everything
// else with NXDOMAIN.
func upstreamZone(w mdns.ResponseWriter, r *mdns.Msg) {
	if r.Question[0].Name == "forwarded.example." {
		answerA("192.0.2.10")(w, r)
		return
	}
	answerRcode(mdns.RcodeNameError)(w, r)
}

func staticView(v *View) func() *View { return func() *View { return v } }

func exchange(t *testing.T, network, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange %v: %v", network, m.Question, err)
	}
	return r
}

func TestServerEndToEnd(t *testing.T) {
	up := startUpstreamBoth(t, upstreamZone)
	s := &Server{View: staticView(testView()), Forward: &Forwarder{Upstreams: []string{up}, Timeout: time.Second}}
	udpAddr, tcpAddr := startServer(t, s)

	for _, net := range []struct{ name, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		t.Run(net.name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				qtype uint16
				rcode int
				want  []netip.Addr
				ptr   string
			}{
				{"web.", mdns.TypeA, mdns.RcodeSuccess, []netip.Addr{web1, webB}, ""},
				{"WeB.", mdns.TypeA, mdns.RcodeSuccess, []netip.Addr{web1, webB}, ""},
				{"web.mynet.", mdns.TypeA, mdns.RcodeSuccess, []netip.Addr{web1}, ""},
				{"WWW.MYNET.", mdns.TypeA, mdns.RcodeSuccess, []netip.Addr{web1, web2}, ""},
				{"web.", mdns.TypeAAAA, mdns.RcodeSuccess, nil, ""},
				{"web.", mdns.TypeMX, mdns.RcodeSuccess, nil, ""},
				{"2.0.19.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess, nil, "web."},
				{"forwarded.example.", mdns.TypeA, mdns.RcodeSuccess, []netip.Addr{netip.MustParseAddr("192.0.2.10")}, ""},
				{"db.mynet.", mdns.TypeA, mdns.RcodeNameError, nil, ""}, // db is not on mynet: forwarded, unknown upstream
				{"nope.example.", mdns.TypeA, mdns.RcodeNameError, nil, ""},
			} {
				req := query(tc.name, tc.qtype)
				r := exchange(t, net.name, net.addr, req)
				if r.Rcode != tc.rcode || r.Id != req.Id {
					t.Errorf("%s %s: %s (id %d), want %s (id %d)", tc.name, mdns.TypeToString[tc.qtype],
						mdns.RcodeToString[r.Rcode], r.Id, mdns.RcodeToString[tc.rcode], req.Id)
					continue
				}
				if tc.ptr != "" {
					if len(r.Answer) != 1 || r.Answer[0].(*mdns.PTR).Ptr != tc.ptr {
						t.Errorf("PTR %s = %v, want %s", tc.name, r.Answer, tc.ptr)
					}
					continue
				}
				if got := sorted(addrsOf(t, r)); !equalAddrs(got, sorted(tc.want)) {
					t.Errorf("%s %s = %v, want %v", tc.name, mdns.TypeToString[tc.qtype], got, tc.want)
				}
			}
		})
	}
}

func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServerViewChangesAtOnce(t *testing.T) {
	var cur atomic.Pointer[View]
	up := startUpstream(t, "udp", upstreamZone)
	s := &Server{View: cur.Load, Forward: &Forwarder{Upstreams: []string{up}, Timeout: time.Second}}
	udpAddr, _ := startServer(t, s)

	if r := exchange(t, "udp", udpAddr, query("late.", mdns.TypeA)); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("before start (nil view): %s, want NXDOMAIN from upstream", mdns.RcodeToString[r.Rcode])
	}
	cur.Store(NewView([]Entry{{Network: "n", Names: []string{"late"}, IP: web1}}))
	if got := addrsOf(t, exchange(t, "udp", udpAddr, query("late.", mdns.TypeA))); !equalAddrs(got, []netip.Addr{web1}) {
		t.Errorf("after start: %v, want [%v]", got, web1)
	}
	cur.Store(NewView(nil))
	if r := exchange(t, "udp", udpAddr, query("late.", mdns.TypeA)); r.Rcode != mdns.RcodeNameError {
		t.Errorf("after removal: %s, want NXDOMAIN", mdns.RcodeToString[r.Rcode])
	}
}

func TestServerTruncationThenTCP(t *testing.T) {
	s := &Server{View: staticView(NewView(manyEntries(100, "shared"))), Forward: &Forwarder{}}
	udpAddr, tcpAddr := startServer(t, s)

	c := &mdns.Client{Net: "udp", Timeout: 3 * time.Second}
	r, _, err := c.Exchange(query("shared.", mdns.TypeA), udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	r.Compress = true // Len of the reply as sent
	if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) >= 100 || r.Len() > 512 {
		t.Errorf("udp: TC %v, %d answers, %d bytes; want TC and a part within 512 bytes", r.Truncated, len(r.Answer), r.Len())
	}
	r = exchange(t, "udp", udpAddr, queryEDNS("shared.", mdns.TypeA, 4096))
	if r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Errorf("udp edns 4096: TC %v, %d answers, OPT %v; want all 100 and OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}
	r = exchange(t, "tcp", tcpAddr, query("shared.", mdns.TypeA))
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("tcp retry: TC %v, %d answers; want all 100", r.Truncated, len(r.Answer))
	}
}

// rawUDP sends b to addr from a fresh socket and returns the reply, or nil
// if none comes within wait.
func rawUDP(t *testing.T, addr string, b []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestServerMalformed(t *testing.T) {
	s := &Server{View: staticView(testView()), Forward: &Forwarder{}}
	udpAddr, tcpAddr := startServer(t, s)

	// A header claiming one question and nothing after it: FORMERR, id echoed.
	hdr := []byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	b := rawUDP(t, udpAddr, hdr, 2*time.Second)
	var m mdns.Msg
	if b == nil || m.Unpack(b) != nil || m.Rcode != mdns.RcodeFormatError || m.Id != 0xbeef || !m.Response || !m.RecursionDesired {
		t.Errorf("truncated question: reply %v, want FORMERR id 0xbeef", &m)
	}
	// A question whose name runs past the end.
	bad := append(append([]byte{}, hdr...), 5, 'a', 'b')
	if b := rawUDP(t, udpAddr, bad, 2*time.Second); b == nil || m.Unpack(b) != nil || m.Rcode != mdns.RcodeFormatError {
		t.Errorf("cut name: reply %v, want FORMERR", &m)
	}
	// Shorter than a header, or a response: dropped.
	resp := append([]byte{}, hdr...)
	resp[2] |= 0x80
	for name, pkt := range map[string][]byte{"runt": {1, 2, 3, 4, 5}, "empty": {}, "response": resp} {
		if b := rawUDP(t, udpAddr, pkt, 300*time.Millisecond); b != nil {
			t.Errorf("%s: got a %d-byte reply, want none", name, len(b))
		}
	}
	// Larger than a UDP reader's buffer: cut, FORMERR.
	huge := queryEDNS("web.", mdns.TypeA, 4096)
	huge.IsEdns0().Option = []mdns.EDNS0{&mdns.EDNS0_LOCAL{Code: 65001, Data: make([]byte, 6000)}}
	hb, err := huge.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if b := rawUDP(t, udpAddr, hb, 2*time.Second); b == nil || m.Unpack(b) != nil || m.Rcode != mdns.RcodeFormatError || m.Id != huge.Id {
		t.Errorf("6 KB query: reply %v, want FORMERR", &m)
	}
	// Still serving.
	if got := addrsOf(t, exchange(t, "udp", udpAddr, query("db.", mdns.TypeA))); !equalAddrs(got, []netip.Addr{db}) {
		t.Errorf("after bad packets: db = %v", got)
	}

	// TCP: a malformed message gets FORMERR and the connection goes on.
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	conn := &mdns.Conn{Conn: c}
	frame := append([]byte{0, byte(len(hdr))}, hdr...)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	r, err := conn.ReadMsg()
	if err != nil || r.Rcode != mdns.RcodeFormatError {
		t.Fatalf("tcp malformed: %v, %v; want FORMERR", r, err)
	}
	if err := conn.WriteMsg(query("web.mynet.", mdns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.ReadMsg(); err != nil || len(r.Answer) != 1 {
		t.Errorf("tcp query after a malformed one: %v, %v", r, err)
	}
}

func TestServerTCPIdleClosed(t *testing.T) {
	s := &Server{View: staticView(testView()), Forward: &Forwarder{}, idleTimeout: 300 * time.Millisecond}
	_, tcpAddr := startServer(t, s)

	closedWithin := func(c net.Conn, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(limit))
		buf := make([]byte, 1024)
		for {
			_, err := c.Read(buf)
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				return time.Since(start) // reset: closed with our unread bytes pending
			}
			if err != nil {
				t.Fatalf("connection not closed by the server within %v: %v", limit, err)
			}
		}
	}

	// Silent connection.
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	within(t, "idle connection close", closedWithin(c, 3*time.Second), 2*time.Second)

	// Trickling a message one byte at a time does not keep a connection open.
	c2, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write([]byte{0, 200}); err != nil { // a 200-byte message follows, slowly
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := c2.Write([]byte{0}); err != nil {
					return
				}
			}
		}
	}()
	within(t, "trickling connection close", closedWithin(c2, 3*time.Second), 2*time.Second)

	// A frame too short to be a message closes the connection.
	c4, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if _, err := c4.Write([]byte{0, 0, 0, 3, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	within(t, "runt frame close", closedWithin(c4, 3*time.Second), 100*time.Millisecond)

	// A connection that keeps asking stays open past the idle timeout.
	c3, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	conn := &mdns.Conn{Conn: c3}
	for range 5 {
		if err := conn.WriteMsg(query("web.", mdns.TypeA)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ReadMsg(); err != nil {
			t.Fatalf("busy connection: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServerTCPConnLimit(t *testing.T) {
	s := &Server{View: staticView(testView()), Forward: &Forwarder{}, maxConns: 3}
	_, tcpAddr := startServer(t, s)

	ask := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		conn := &mdns.Conn{Conn: c}
		if err := conn.WriteMsg(query("web.", mdns.TypeA)); err != nil {
			return err
		}
		_, err := conn.ReadMsg()
		return err
	}
	var open []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := ask(c); err != nil {
			t.Fatalf("connection %d within the limit: %v", i, err)
		}
		open = append(open, c)
	}
	extra, err := net.Dial("tcp", tcpAddr) // the kernel accepts; hutch closes at once
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if err := ask(extra); err == nil {
		t.Errorf("connection past the limit was served")
	}
	open[0].Close()
	time.Sleep(100 * time.Millisecond) // let the server notice
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ask(c); err != nil {
		t.Errorf("connection after one closed: %v", err)
	}
}

func TestServerNoForwarder(t *testing.T) {
	s := &Server{View: staticView(testView())} // no Forward, no View for some
	udpAddr, tcpAddr := startServer(t, s)
	for _, a := range []struct{ net, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		if r := exchange(t, a.net, a.addr, query("example.com.", mdns.TypeA)); r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("%s unknown name without forwarder: %s, want SERVFAIL", a.net, mdns.RcodeToString[r.Rcode])
		}
	}
	s2 := &Server{}
	udp2, _ := startServer(t, s2)
	if r := exchange(t, "udp", udp2, query("web.", mdns.TypeA)); r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("zero Server: %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
}

// baseline returns the goroutine count of a test process whose server at
// udpAddr is up and idle.
func baseline(t *testing.T, udpAddr string) int {
	t.Helper()
	exchange(t, "udp", udpAddr, query("warm.up.", mdns.TypeA)) // the loops are running
	time.Sleep(100 * time.Millisecond)
	return goruntime.NumGoroutine()
}

// waitGoroutines waits until the goroutine count is at most n and returns
// the last count seen.
func waitGoroutines(n int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	for {
		g := goruntime.NumGoroutine()
		if g <= n || time.Now().After(deadline) {
			return g
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sampleGoroutines records the largest goroutine count until stop is closed.
func sampleGoroutines(stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		peak := 0
		for {
			peak = max(peak, goruntime.NumGoroutine())
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return out
}

func TestServerUDPFlood(t *testing.T) {
	const (
		clients   = 20
		perClient = 100 // 2000 queries
		inFlight  = 8
	)
	up := startUpstream(t, "udp", upstreamZone)
	s := &Server{
		View:    staticView(NewView(append(manyEntries(50, "svc"), testViewEntries()...))),
		Forward: &Forwarder{Upstreams: []string{up}, Timeout: time.Second, MaxInFlight: inFlight},
	}
	udpAddr, _ := startServer(t, s)
	base := baseline(t, udpAddr)

	stop := make(chan struct{})
	peak := sampleGoroutines(stop)
	var answered, servfail atomic.Int32
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mdns.Client{Net: "udp", Timeout: 3 * time.Second}
			for j := range perClient {
				name := "svc."
				switch (i + j) % 4 {
				case 1:
					name = "web.mynet."
				case 2:
					name = "forwarded.example."
				case 3:
					name = "c17.big."
				}
				r, _, err := c.Exchange(query(name, mdns.TypeA), udpAddr)
				if err != nil {
					t.Errorf("query %s: %v", name, err)
					return
				}
				switch {
				case r.Rcode == mdns.RcodeSuccess && len(r.Answer) > 0:
					answered.Add(1)
				case r.Rcode == mdns.RcodeServerFailure && name == "forwarded.example.":
					servfail.Add(1) // more than inFlight forwards at once: allowed
				default:
					t.Errorf("query %s: %v", name, r)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	// Bounded: the clients and the sampler, the UDP readers, at most inFlight
	// forwarding goroutines, and some slack for the runtime and the upstream.
	if p, limit := <-peak, base+clients+1+inFlight+20; p > limit {
		t.Errorf("goroutines peaked at %d during the flood, want at most %d (base %d)", p, limit, base)
	}
	if got := answered.Load() + servfail.Load(); got != clients*perClient {
		t.Errorf("%d of %d queries answered", got, clients*perClient)
	}
	if g := waitGoroutines(base+2, 3*time.Second); g > base+2 {
		t.Errorf("%d goroutines after the flood, want back to about %d", g, base)
	}
	t.Logf("%d answered, %d SERVFAIL for lack of a forwarding slot", answered.Load(), servfail.Load())
}

func testViewEntries() []Entry {
	return []Entry{
		{Network: "mynet", Names: []string{"web", "www"}, IP: web1},
		{Network: "mynet", Names: []string{"web2", "www"}, IP: web2},
	}
}

// TestServerUDPBlast fires 2000 forwarded queries at an upstream that never
// answers, without waiting for replies: the goroutines stay bounded by
// MaxInFlight, the excess gets SERVFAIL at once, local names still answer.
func TestServerUDPBlast(t *testing.T) {
	const inFlight = 16
	s := &Server{
		View:    staticView(testView()),
		Forward: &Forwarder{Upstreams: []string{blackhole(t)}, Timeout: 300 * time.Millisecond, MaxInFlight: inFlight},
	}
	udpAddr, _ := startServer(t, s)
	base := baseline(t, udpAddr)

	c, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var servfails atomic.Int32
	readerDone := make(chan struct{})
	go func() { // count replies as they come
		defer close(readerDone)
		buf := make([]byte, 512)
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			var m mdns.Msg
			if m.Unpack(buf[:n]) == nil && m.Rcode == mdns.RcodeServerFailure {
				servfails.Add(1)
			}
		}
	}()
	stop := make(chan struct{})
	peak := sampleGoroutines(stop)
	for i := range 2000 {
		m := query("blackholed.example.", mdns.TypeA)
		m.Id = uint16(i)
		b, _ := m.Pack()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// Local answers are not held up by the stuck forwards. (The query itself
	// may be dropped by a full socket buffer: retry as a stub resolver does.)
	var got []netip.Addr
	for try := 0; try < 5 && got == nil; try++ {
		c := &mdns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
		if r, _, err := c.Exchange(query("db.", mdns.TypeA), udpAddr); err == nil {
			got = addrsOf(t, r)
		}
	}
	if !equalAddrs(got, []netip.Addr{db}) {
		t.Errorf("during the blast: db = %v", got)
	}
	<-readerDone
	close(stop)
	if p, limit := <-peak, base+2+inFlight+10; p > limit {
		t.Errorf("goroutines peaked at %d, want at most %d (base %d, MaxInFlight %d)", p, limit, base, inFlight)
	}
	// Every query the kernel delivered got a SERVFAIL: at once for lack of a
	// slot, or after the timeout. A blast overflows socket buffers (more so
	// under the race detector), so only "many" is asserted.
	if n := servfails.Load(); n < 200 {
		t.Errorf("%d SERVFAIL replies to 2000 queries, want many", n)
	}
	t.Logf("%d SERVFAIL replies to 2000 queries sent without waiting", servfails.Load())
	if g := waitGoroutines(base, 3*time.Second); g > base {
		t.Errorf("%d goroutines after the blast, want %d", g, base)
	}
}

func TestServerStopWithForwardsInFlight(t *testing.T) {
	s := &Server{View: staticView(testView()), Forward: &Forwarder{Upstreams: []string{blackhole(t)}, Timeout: 10 * time.Second}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpDone := make(chan error, 1)
	tcpDone := make(chan error, 1)
	go func() { udpDone <- s.ServeUDP(pc) }()
	go func() { tcpDone <- s.ServeTCP(l) }()

	// One forward in flight on UDP, one TCP connection waiting on a forward,
	// one idle TCP connection.
	cu, _ := net.Dial("udp", pc.LocalAddr().String())
	defer cu.Close()
	b, _ := query("stuck.example.", mdns.TypeA).Pack()
	_, _ = cu.Write(b)
	ct, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	_ = (&mdns.Conn{Conn: ct}).WriteMsg(query("stuck.example.", mdns.TypeA))
	idle, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	pc.Close()
	l.Close()
	for name, ch := range map[string]chan error{"ServeUDP": udpDone, "ServeTCP": tcpDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s = %v, want nil", name, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s still running 3s after close, with a 10s upstream timeout", name)
		}
	}
	within(t, "stop", time.Since(start), 2*time.Second)
	_ = idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle TCP connection after stop: %v, want EOF (closed by the server)", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestServerRecoversPanic(t *testing.T) {
	logs := new(syncBuffer)
	var boom atomic.Bool
	boom.Store(true)
	s := &Server{
		View: func() *View {
			if boom.Load() {
				panic("boom")
			}
			return testView()
		},
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	}
	udpAddr, tcpAddr := startServer(t, s)
	b, _ := query("web.", mdns.TypeA).Pack()
	if r := rawUDP(t, udpAddr, b, 300*time.Millisecond); r != nil {
		t.Errorf("reply to a query whose handling panicked: %x, want none", r)
	}
	c := &mdns.Client{Net: "tcp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(query("web.", mdns.TypeA), tcpAddr); err == nil {
		t.Errorf("tcp: a reply to a query whose handling panicked")
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %q", logs.String())
	}
	boom.Store(false)
	for _, a := range []struct{ net, addr string }{{"udp", udpAddr}, {"tcp", tcpAddr}} {
		if got := addrsOf(t, exchange(t, a.net, a.addr, query("db.", mdns.TypeA))); !equalAddrs(got, []netip.Addr{db}) {
			t.Errorf("%s after a panic: db = %v", a.net, got)
		}
	}
}

// FuzzServe feeds arbitrary bytes to the request handler: it must not
// panic (respond would recover and log it, so anything logged fails), and
// whatever it sends must be a well-formed reply with the query's id that
// fits the transport.
func FuzzServe(f *testing.F) {
	seed := func(m *mdns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	seed(query("web.", mdns.TypeA))
	seed(query("WWW.mynet.", mdns.TypeA))
	seed(query("web.", mdns.TypeAAAA))
	seed(query("2.0.19.172.in-addr.arpa.", mdns.TypePTR))
	seed(query("example.com.", mdns.TypeA))
	seed(queryEDNS("shared.", mdns.TypeA, 1232))
	seed(queryEDNS("web.", mdns.TypeTXT, 4096))
	bad := queryEDNS("web.", mdns.TypeA, 1232)
	bad.IsEdns0().SetVersion(3)
	seed(bad)
	two := query("web.", mdns.TypeA)
	two.Question = append(two.Question, mdns.Question{Name: "db.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
	seed(two)
	f.Add([]byte{}, true)
	f.Add([]byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, true)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, false) // pointer loop
	f.Add([]byte{0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true)                       // a response

	logs := new(syncBuffer)
	s := &Server{
		View:    staticView(NewView(append(manyEntries(100, "shared"), testViewEntries()...))),
		Forward: &Forwarder{}, // no upstreams: SERVFAIL at once, nothing leaves the process
		Log:     slog.New(slog.NewTextHandler(logs, nil)),
	}
	f.Fuzz(func(t *testing.T, pkt []byte, udp bool) {
		out := s.handle(context.Background(), pkt, udp)
		if l := logs.String(); l != "" {
			t.Fatalf("handler logged (a recovered panic?): %s", l)
		}
		if out == nil {
			return
		}
		var m mdns.Msg
		if err := m.Unpack(out); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		if !m.Response || len(pkt) < 12 || m.Id != binary.BigEndian.Uint16(pkt) {
			t.Fatalf("reply %v to %x: want QR and the query's id", &m, pkt)
		}
		limit := mdns.MaxMsgSize
		if udp {
			limit = maxUDPSize
			var req mdns.Msg
			if req.Unpack(pkt) != nil || req.IsEdns0() == nil {
				limit = mdns.MinMsgSize
			}
		}
		if len(out) > limit {
			t.Fatalf("%d-byte reply over %s, limit %d", len(out), map[bool]string{true: "udp", false: "tcp"}[udp], limit)
		}
	})
}

// BenchmarkServeUDP measures local answers over loopback UDP with several
// clients each keeping one query outstanding (as dnsperf does with more).
func BenchmarkServeUDP(b *testing.B) {
	s := &Server{View: staticView(NewView(append(manyEntries(50, "svc"), testViewEntries()...))), Forward: &Forwarder{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(pc) }()
	defer func() { pc.Close(); <-done }()
	q, _ := query("web.mynet.", mdns.TypeA).Pack()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		for pb.Next() {
			if _, err := c.Write(q); err != nil {
				b.Error(err)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkHandle(b *testing.B) {
	s := &Server{View: staticView(NewView(append(manyEntries(50, "svc"), testViewEntries()...))), Forward: &Forwarder{}}
	q, _ := query("web.mynet.", mdns.TypeA).Pack()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if s.handle(ctx, q, true) == nil {
			b.Fatal("no reply")
		}
	}
}

// portableConn hides the socket's SyscallConn, so ServeUDP takes its
// portable loop (readUDP) instead of the raw one (udpLoop).
type portableConn struct{ net.PacketConn }

// TestServerUDPRepliesToTheAsker: a forwarded answer goes to the client
// that asked, though other clients' queries were read (and answered) while
// the upstream took its time, on both UDP loops and over IPv4 and IPv6.
func TestServerUDPRepliesToTheAsker(t *testing.T) {
	asked := make(chan struct{}, 1)
	release := make(chan struct{})
	up := startUpstream(t, "udp", func(w mdns.ResponseWriter, r *mdns.Msg) {
		asked <- struct{}{}
		<-release
		answerA("192.0.2.10")(w, r)
	})
	for _, tc := range []struct {
		name, addr string
		wrap       func(net.PacketConn) net.PacketConn
	}{
		{"raw/ipv4", "127.0.0.1:0", nil},
		{"raw/ipv6", "[::1]:0", nil},
		{"portable/ipv4", "127.0.0.1:0", func(pc net.PacketConn) net.PacketConn { return portableConn{pc} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{View: staticView(testView()), Forward: &Forwarder{Upstreams: []string{up}, Timeout: 10 * time.Second}}
			served := pc
			if tc.wrap != nil {
				served = tc.wrap(pc)
			}
			done := make(chan error, 1)
			go func() { done <- s.ServeUDP(served) }()
			defer func() {
				pc.Close()
				if err := <-done; err != nil {
					t.Errorf("ServeUDP = %v after close, want nil", err)
				}
			}()
			dial := func() net.Conn {
				c, err := net.Dial("udp", pc.LocalAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			asker, other := dial(), dial()
			fwd := query("slow.example.", mdns.TypeA)
			b, _ := fwd.Pack()
			if _, err := asker.Write(b); err != nil {
				t.Fatal(err)
			}
			<-asked
			// Meanwhile another client's local lookups are read and answered.
			for range 3 {
				r := exchangeOn(t, other, query("db.", mdns.TypeA))
				if got := addrsOf(t, r); !equalAddrs(got, []netip.Addr{db}) {
					t.Fatalf("db = %v during the forward", got)
				}
			}
			release <- struct{}{}
			r := readMsg(t, asker, 5*time.Second)
			if r == nil || r.Id != fwd.Id || !equalAddrs(addrsOf(t, r), []netip.Addr{netip.MustParseAddr("192.0.2.10")}) {
				t.Fatalf("asker got %v, want the forwarded answer to id %d", r, fwd.Id)
			}
			if r := readMsg(t, other, 200*time.Millisecond); r != nil {
				t.Errorf("the other client got %v too", r)
			}
		})
	}
}

// exchangeOn sends m on c and reads one reply.
func exchangeOn(t *testing.T, c net.Conn, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	r := readMsg(t, c, 5*time.Second)
	if r == nil || r.Id != m.Id {
		t.Fatalf("reply to %v: %v", m.Question, r)
	}
	return r
}

// readMsg reads one DNS message from c, or nil if none comes within wait.
func readMsg(t *testing.T, c net.Conn, wait time.Duration) *mdns.Msg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	var m mdns.Msg
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return &m
}

// TestServerUDPBlockingSocket: a socket whose open file is in blocking mode
// (another process holding a copy may set that) is still served, and still
// stops on close: the raw reads must not block, or they would hold up the
// runtime and never see the close.
func TestServerUDPBlockingSocket(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := pc.(*net.UDPConn).File() // a second descriptor of the same open file
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		t.Fatal(err)
	}
	s := &Server{View: staticView(testView())}
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(pc) }()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if got := addrsOf(t, exchangeOn(t, c, query("db.", mdns.TypeA))); !equalAddrs(got, []netip.Addr{db}) {
			t.Fatalf("db = %v", got)
		}
	}
	go pc.Close() // a read stuck in the kernel would hold the close up too
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeUDP = %v after close, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeUDP did not return within 5s of close")
	}
}
