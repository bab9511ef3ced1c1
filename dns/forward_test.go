package dns

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

const testTimeout = 200 * time.Millisecond

func firstA(t *testing.T, m *mdns.Msg) string {
	t.Helper()
	if m.Rcode != mdns.RcodeSuccess || len(m.Answer) == 0 {
		t.Fatalf("reply %s with %d answers, want NOERROR with an A", mdns.RcodeToString[m.Rcode], len(m.Answer))
	}
	a, ok := m.Answer[0].(*mdns.A)
	if !ok {
		t.Fatalf("answer %v is not an A", m.Answer[0])
	}
	return a.A.String()
}

func TestForwardOrderAndFallback(t *testing.T) {
	ok1 := startUpstream(t, "udp", answerA("192.0.2.1"))
	ok2 := startUpstream(t, "udp", answerA("192.0.2.2"))
	servfailUp := startUpstream(t, "udp", answerRcode(mdns.RcodeServerFailure))
	refusedUp := startUpstream(t, "udp", answerRcode(mdns.RcodeRefused))
	nxUp := startUpstream(t, "udp", answerRcode(mdns.RcodeNameError))
	silent := blackhole(t)
	refusedPort := closedPort(t)

	for _, tc := range []struct {
		name      string
		upstreams []string
		want      string // the A answered; "" for SERVFAIL
		rcode     int
		maxTime   time.Duration
	}{
		{"first answers", []string{ok1, ok2}, "192.0.2.1", mdns.RcodeSuccess, time.Second},
		{"servfail then ok", []string{servfailUp, ok2}, "192.0.2.2", mdns.RcodeSuccess, time.Second},
		{"refused then ok", []string{refusedUp, ok1}, "192.0.2.1", mdns.RcodeSuccess, time.Second},
		{"closed port then ok", []string{refusedPort, ok2}, "192.0.2.2", mdns.RcodeSuccess, time.Second},
		{"timeout then ok", []string{silent, ok1}, "192.0.2.1", mdns.RcodeSuccess, testTimeout + time.Second},
		{"three fail, fourth ignored", []string{servfailUp, refusedUp, refusedPort, ok1}, "", mdns.RcodeServerFailure, time.Second},
		{"NXDOMAIN is an answer", []string{nxUp, ok1}, "", mdns.RcodeNameError, time.Second},
		{"unparsable address skipped, then ok", []string{"not-an-address", ok1}, "192.0.2.1", mdns.RcodeSuccess, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Forwarder{Upstreams: tc.upstreams, Timeout: testTimeout}
			req := query("example.com.", mdns.TypeA)
			start := time.Now()
			resp := f.Forward(context.Background(), req, "udp")
			within(t, tc.name, time.Since(start), tc.maxTime)
			if resp.Id != req.Id || !resp.Response {
				t.Errorf("reply id %d qr %v, want the client's id %d", resp.Id, resp.Response, req.Id)
			}
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if tc.want != "" {
				if got := firstA(t, resp); got != tc.want {
					t.Errorf("answered by %s, want %s", got, tc.want)
				}
			}
		})
	}
}

func TestForwardAllSilent(t *testing.T) {
	f := &Forwarder{Upstreams: []string{blackhole(t), blackhole(t), blackhole(t), blackhole(t)}, Timeout: testTimeout}
	req := query("example.com.", mdns.TypeA)
	start := time.Now()
	resp := f.Forward(context.Background(), req, "udp")
	elapsed := time.Since(start)
	if resp.Rcode != mdns.RcodeServerFailure || resp.Id != req.Id {
		t.Fatalf("reply %v, want SERVFAIL with the client's id", resp)
	}
	// Three attempts of 200 ms each (the fourth upstream is ignored).
	if elapsed < 3*testTimeout-50*time.Millisecond {
		t.Errorf("gave up after %v, before three attempts of %v", elapsed, testTimeout)
	}
	within(t, "three silent upstreams", elapsed, 3*testTimeout+time.Second)
}

func TestForwardNoUpstreams(t *testing.T) {
	for _, f := range []*Forwarder{{}, {Upstreams: []string{}}} {
		start := time.Now()
		resp := f.Forward(context.Background(), query("example.com.", mdns.TypeA), "udp")
		within(t, "no upstreams", time.Since(start), 50*time.Millisecond)
		if resp.Rcode != mdns.RcodeServerFailure {
			t.Errorf("no upstreams: %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
		}
	}
}

func TestForwardContextCancelled(t *testing.T) {
	f := &Forwarder{Upstreams: []string{blackhole(t)}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	resp := f.Forward(ctx, query("example.com.", mdns.TypeA), "udp")
	within(t, "cancelled forward", time.Since(start), 2*time.Second)
	if resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("cancelled: %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
	}
}

func TestForwardTCP(t *testing.T) {
	// A reply too big for UDP: 100 A records, passed whole over TCP.
	big := func(w mdns.ResponseWriter, r *mdns.Msg) {
		if w.LocalAddr().Network() != "tcp" {
			t.Errorf("upstream asked over %s, want tcp", w.LocalAddr().Network())
		}
		m := new(mdns.Msg).SetReply(r)
		for i := range 100 {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET},
				A:   net.IPv4(198, 51, 100, byte(i)),
			})
		}
		_ = w.WriteMsg(m)
	}
	up := startUpstream(t, "tcp", big)
	f := &Forwarder{Upstreams: []string{up}, Timeout: time.Second}
	req := query("many.example.", mdns.TypeA)
	resp := f.Forward(context.Background(), req, "tcp")
	if resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 100 || resp.Id != req.Id {
		t.Errorf("tcp: %s with %d answers (id %d), want 100 answers with id %d",
			mdns.RcodeToString[resp.Rcode], len(resp.Answer), resp.Id, req.Id)
	}

	// A TCP upstream that accepts and never answers costs one timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	f = &Forwarder{Upstreams: []string{l.Addr().String(), up}, Timeout: testTimeout}
	start := time.Now()
	resp = f.Forward(context.Background(), req, "tcp")
	within(t, "silent tcp upstream then ok", time.Since(start), testTimeout+time.Second)
	if len(resp.Answer) != 100 {
		t.Errorf("after a silent tcp upstream: %d answers, want 100", len(resp.Answer))
	}
}

func TestForwardUDPTruncatedPassedBack(t *testing.T) {
	tc := func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg).SetReply(r)
		m.Truncated = true
		_ = w.WriteMsg(m)
	}
	up := startUpstream(t, "udp", tc)
	f := &Forwarder{Upstreams: []string{up, startUpstream(t, "udp", answerA("192.0.2.9"))}, Timeout: testTimeout}
	resp := f.Forward(context.Background(), query("big.example.", mdns.TypeTXT), "udp")
	if !resp.Truncated || resp.Rcode != mdns.RcodeSuccess {
		t.Errorf("truncated upstream reply: TC %v rcode %s; want it passed back with TC", resp.Truncated, mdns.RcodeToString[resp.Rcode])
	}
}

// rawUpstream is a UDP upstream written by hand: reply(query) returns the
// datagrams to send back.
func rawUpstream(t *testing.T, reply func(q []byte) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, b := range reply(append([]byte(nil), buf[:n]...)) {
				_, _ = pc.WriteTo(b, addr)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

func TestForwardSkipsStrayDatagrams(t *testing.T) {
	up := rawUpstream(t, func(q []byte) [][]byte {
		var req mdns.Msg
		if err := req.Unpack(q); err != nil {
			t.Errorf("upstream got a bad query: %v", err)
			return nil
		}
		good := new(mdns.Msg).SetReply(&req)
		good.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: req.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET}, A: net.IPv4(192, 0, 2, 7)}}
		wrongID := good.Copy()
		wrongID.Id++
		wrongID.Answer[0].(*mdns.A).A = net.IPv4(203, 0, 113, 66)
		otherQ := good.Copy()
		otherQ.Question[0].Name = "evil.example."
		otherQ.Answer[0].(*mdns.A).A = net.IPv4(203, 0, 113, 67)
		notReply := good.Copy()
		notReply.Response = false
		var out [][]byte
		for _, m := range []*mdns.Msg{wrongID, otherQ, notReply, good} {
			b, err := m.Pack()
			if err != nil {
				t.Error(err)
			}
			out = append(out, b)
		}
		return append([][]byte{{1, 2, 3}}, out...) // and a runt
	})
	f := &Forwarder{Upstreams: []string{up}, Timeout: time.Second}
	resp := f.Forward(context.Background(), query("Example.COM.", mdns.TypeA), "udp")
	if got := firstA(t, resp); got != "192.0.2.7" {
		t.Errorf("answer %s, want 192.0.2.7 (the stray datagrams skipped)", got)
	}
}

func TestForwardUpstreamIDIsFresh(t *testing.T) {
	var seen atomic.Uint32
	up := rawUpstream(t, func(q []byte) [][]byte {
		seen.Store(uint32(binary.BigEndian.Uint16(q)))
		var req mdns.Msg
		_ = req.Unpack(q)
		// A datagram cut mid-record with TC set: passed back as a bare TC header.
		b, _ := new(mdns.Msg).SetReply(&req).Pack()
		b[2] |= 0x02 // TC
		b[7] = 1     // ANCOUNT 1, but no record follows
		return [][]byte{append(b, 0xc0)}
	})
	f := &Forwarder{Upstreams: []string{up}, Timeout: time.Second}
	req := query("cut.example.", mdns.TypeTXT)
	req.Id = 4242
	resp := f.Forward(context.Background(), req, "udp")
	if seen.Load() == 4242 {
		t.Errorf("upstream saw the client's id; want a fresh one") // 1 in 65536 flaky: acceptable
	}
	if resp.Id != 4242 || !resp.Truncated || resp.Rcode != mdns.RcodeSuccess || len(resp.Question) != 1 {
		t.Errorf("cut truncated reply: %v; want TC, NOERROR, the question, id 4242", resp)
	}
}

func TestForwardDial(t *testing.T) {
	up := startUpstream(t, "udp", answerA("192.0.2.3"))
	var calls atomic.Int32
	f := &Forwarder{
		Upstreams: []string{"192.0.2.53:53"}, // only the custom Dial knows where this is
		Timeout:   time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			calls.Add(1)
			if network != "udp" || addr != "192.0.2.53:53" {
				t.Errorf("Dial(%s, %s)", network, addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "udp", up)
		},
	}
	if got := firstA(t, f.Forward(context.Background(), query("example.com.", mdns.TypeA), "udp")); got != "192.0.2.3" || calls.Load() != 1 {
		t.Errorf("answer %s after %d dials; want 192.0.2.3 through the custom Dial", got, calls.Load())
	}
}

func TestForwardSkipsHostNames(t *testing.T) {
	f := &Forwarder{
		Upstreams: []string{"localhost:53", "resolver.example:53"},
		Timeout:   testTimeout,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			t.Errorf("Dial(%s, %s): a host name upstream must be skipped, not dialled", network, addr)
			return nil, net.ErrClosed
		},
	}
	if r := f.Forward(context.Background(), query("example.com.", mdns.TypeA), "udp"); r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("host name upstreams: %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
}

func TestForwardMaxInFlight(t *testing.T) {
	const limit = 4
	release := make(chan struct{})
	var arrived atomic.Int32
	hold := func(w mdns.ResponseWriter, r *mdns.Msg) {
		arrived.Add(1)
		<-release
		answerA("192.0.2.4")(w, r)
	}
	up := startUpstream(t, "udp", hold)
	f := &Forwarder{Upstreams: []string{up}, Timeout: 5 * time.Second, MaxInFlight: limit}

	type result struct {
		rcode   int
		elapsed time.Duration
	}
	results := make(chan result, limit+5)
	// The first limit fill the slots and wait at the upstream.
	for range limit {
		go func() {
			start := time.Now()
			r := f.Forward(context.Background(), query("example.com.", mdns.TypeA), "udp")
			results <- result{r.Rcode, time.Since(start)}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for arrived.Load() < limit && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if arrived.Load() != limit {
		t.Fatalf("%d queries reached the upstream, want %d", arrived.Load(), limit)
	}
	// Five more: no slot, SERVFAIL at once.
	for range 5 {
		go func() {
			start := time.Now()
			r := f.Forward(context.Background(), query("example.com.", mdns.TypeA), "udp")
			results <- result{r.Rcode, time.Since(start)}
		}()
	}
	for range 5 {
		r := <-results
		if r.rcode != mdns.RcodeServerFailure {
			t.Errorf("query past MaxInFlight: %s, want SERVFAIL", mdns.RcodeToString[r.rcode])
		}
		within(t, "query past MaxInFlight", r.elapsed, time.Second)
	}
	close(release)
	for range limit {
		if r := <-results; r.rcode != mdns.RcodeSuccess {
			t.Errorf("held query: %s, want NOERROR", mdns.RcodeToString[r.rcode])
		}
	}
	// The slots are free again.
	if r := f.Forward(context.Background(), query("example.com.", mdns.TypeA), "udp"); r.Rcode != mdns.RcodeSuccess {
		t.Errorf("after release: %s, want NOERROR", mdns.RcodeToString[r.Rcode])
	}
}
