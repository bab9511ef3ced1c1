package dns

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Every socket in these tests is bound to 127.0.0.1 on a port the kernel
// picks; nothing here reaches the host's resolver or any other address.

// startUpstream runs a fake upstream resolver (miekg's server) on
// 127.0.0.1:<random> over network ("udp" or "tcp") and returns its address.
func startUpstream(t *testing.T, network string, h mdns.HandlerFunc) string {
	t.Helper()
	srv := &mdns.Server{Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	var addr string
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.PacketConn, addr = pc, pc.LocalAddr().String()
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener, addr = l, l.Addr().String()
	default:
		t.Fatalf("network %q", network)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return addr
}

// answerA is an upstream that answers every query with one A record, ip.
func answerA(ip string) mdns.HandlerFunc {
	return func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg).SetReply(r)
		m.RecursionAvailable = true
		m.Answer = []mdns.RR{&mdns.A{
			Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
			A:   net.ParseIP(ip),
		}}
		_ = w.WriteMsg(m)
	}
}

// answerRcode is an upstream that answers every query with rcode.
func answerRcode(rcode int) mdns.HandlerFunc {
	return func(w mdns.ResponseWriter, r *mdns.Msg) {
		_ = w.WriteMsg(new(mdns.Msg).SetRcode(r, rcode))
	}
}

// blackhole is an upstream UDP socket on 127.0.0.1 that reads and drops
// every query: the upstream that never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return pc.LocalAddr().String()
}

// closedPort returns a 127.0.0.1 UDP address nobody listens on, so a query
// to it fails at once with "connection refused".
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func query(name string, qtype uint16) *mdns.Msg {
	return new(mdns.Msg).SetQuestion(name, qtype)
}

func queryEDNS(name string, qtype uint16, size uint16) *mdns.Msg {
	return query(name, qtype).SetEdns0(size, false)
}

// addrsOf returns the A/AAAA addresses in m's answer section, in order.
func addrsOf(t *testing.T, m *mdns.Msg) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			a, _ := netip.AddrFromSlice(rr.A.To4())
			out = append(out, a)
		case *mdns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			out = append(out, a)
		default:
			t.Fatalf("unexpected answer %v", rr)
		}
	}
	return out
}

// manyEntries returns n containers on network "big", all carrying alias.
func manyEntries(n int, alias string) []Entry {
	var es []Entry
	base := netip.MustParseAddr("10.88.0.2")
	ip := base
	for i := range n {
		es = append(es, Entry{Network: "big", Names: []string{"c" + strconv.Itoa(i), alias}, IP: ip})
		ip = ip.Next()
	}
	return es
}

func within(t *testing.T, what string, got, limit time.Duration) {
	t.Helper()
	if got > limit {
		t.Errorf("%s took %v, want at most %v", what, got, limit)
	}
}
