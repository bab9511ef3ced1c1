package server

import (
	"fmt"
	"net"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

func query(name string, qtype uint16, edns bool) *mdns.Msg {
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = 4242
	if edns {
		q.SetEdns0(1232, true)
	}
	return q
}

// ask answers q for members[0] over UDP and unpacks the reply.
func ask(t *testing.T, members []string, q *mdns.Msg, udp bool) (*mdns.Msg, bool) {
	t.Helper()
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out, fwd := checkAnswer(members, pkt, udp)
	if fwd || out == nil {
		return nil, fwd
	}
	r := new(mdns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("reply to %v does not unpack: %v", q.Question, err)
	}
	if r.Id != q.Id || !r.Response || !r.RecursionAvailable || r.RecursionDesired != q.RecursionDesired {
		t.Errorf("reply header %+v to %+v", r.MsgHdr, q.MsgHdr)
	}
	return r, false
}

func addrs(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch a := rr.(type) {
		case *mdns.A:
			out = append(out, a.A.String())
		case *mdns.AAAA:
			out = append(out, a.AAAA.String())
		case *mdns.PTR:
			out = append(out, a.Ptr)
		}
		if rr.Header().Ttl != 0 {
			t0 := rr.Header().Ttl
			out = append(out, fmt.Sprintf("ttl=%d", t0))
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// Names, aliases, NAME.NETWORK, case and network scope: what a member sees
// is the entries of its own networks; everything else is forwarded.
func TestAnswerNames(t *testing.T) {
	members := []string{
		"e front 10.0.1.2 web www 0123456789ab\n",
		"e front 10.0.1.3 db data\ne back 10.0.2.3 db data\n",
		"e back 10.0.2.4 cache\n",
		"e front 10.0.1.5 shared\n",
		"e front 10.0.1.6 shared\n",
		"e front 10.0.1.7 dual\ne front fd00::7 dual\n",
	}
	for _, tt := range []struct {
		name string
		want []string // nil: forwarded
	}{
		{"web.", []string{"10.0.1.2"}},
		{"WwW.", []string{"10.0.1.2"}},
		{"0123456789ab.", []string{"10.0.1.2"}},
		{"web.front.", []string{"10.0.1.2"}},
		{"db.", []string{"10.0.1.3", "10.0.2.3"}}, // db's entries both carry the name; the asker sees front's
		{"DATA.FRONT.", []string{"10.0.1.3"}},
		{"data.back.", nil}, // back is not the asker's network
		{"cache.", nil},
		{"shared.", []string{"10.0.1.5", "10.0.1.6"}},
		{"dual.", []string{"10.0.1.7"}},
		{"web.back.", nil},
		{"example.com.", nil},
	} {
		r, fwd := ask(t, members, query(tt.name, mdns.TypeA, false), true)
		if tt.want == nil {
			if !fwd {
				t.Errorf("%s: answered %v, want forwarded", tt.name, r)
			}
			continue
		}
		if fwd || r == nil {
			t.Errorf("%s: forwarded, want %v", tt.name, tt.want)
			continue
		}
		want := tt.want
		if tt.name == "db." {
			want = []string{"10.0.1.3"} // only front is shared with the asker
		}
		if got := addrs(r); !sameSet(got, want) || !r.Authoritative || r.Rcode != mdns.RcodeSuccess {
			t.Errorf("%s: %v (aa %v, rcode %d), want %v", tt.name, got, r.Authoritative, r.Rcode, want)
		}
		if r.Question[0].Name != tt.name {
			t.Errorf("%s: question in the reply is %q", tt.name, r.Question[0].Name)
		}
	}
}

// AAAA, PTR and other types of a known name.
func TestAnswerTypes(t *testing.T) {
	members := []string{"e n 10.0.0.2 a alias\ne n fd00::2 a\n", "e n 10.0.0.3 b\n"}
	r, _ := ask(t, members, query("a.", mdns.TypeAAAA, false), true)
	if got := addrs(r); !sameSet(got, []string{"fd00::2"}) {
		t.Errorf("AAAA a: %v", got)
	}
	r, fwd := ask(t, members, query("b.", mdns.TypeAAAA, false), true)
	if fwd || len(r.Answer) != 0 || r.Rcode != mdns.RcodeSuccess || !r.Authoritative {
		t.Errorf("AAAA of an IPv4-only name: %v, forwarded %v; want an empty authoritative NOERROR", r, fwd)
	}
	r, fwd = ask(t, members, query("b.", mdns.TypeMX, false), true)
	if fwd || len(r.Answer) != 0 || r.Rcode != mdns.RcodeSuccess {
		t.Errorf("MX of a known name: %v, forwarded %v", r, fwd)
	}
	r, _ = ask(t, members, query("3.0.0.10.in-addr.arpa.", mdns.TypePTR, false), true)
	if got := addrs(r); !sameSet(got, []string{"b."}) {
		t.Errorf("PTR of b's address: %v", got)
	}
	rev, _ := mdns.ReverseAddr("fd00::2")
	r, _ = ask(t, members, query(rev, mdns.TypePTR, false), true)
	if got := addrs(r); !sameSet(got, []string{"a."}) {
		t.Errorf("PTR of a's IPv6 address: %v", got)
	}
	if _, fwd := ask(t, members, query("9.0.0.10.in-addr.arpa.", mdns.TypePTR, false), true); !fwd {
		t.Errorf("PTR of an unknown address was not forwarded")
	}
}

// Malformed queries get the rcode they deserve; a response gets nothing.
func TestAnswerBadQueries(t *testing.T) {
	members := []string{"e n 10.0.0.2 a\n"}
	two := query("a.", mdns.TypeA, false)
	two.Question = append(two.Question, two.Question[0])
	notimp := query("a.", mdns.TypeA, false)
	notimp.Opcode = mdns.OpcodeStatus
	chaos := query("a.", mdns.TypeA, false)
	chaos.Question[0].Qclass = mdns.ClassCHAOS
	badvers := query("a.", mdns.TypeA, true)
	badvers.IsEdns0().SetVersion(1)
	twoOpt := query("a.", mdns.TypeA, true)
	twoOpt.Extra = append(twoOpt.Extra, twoOpt.Extra[0])
	for _, tt := range []struct {
		what  string
		q     *mdns.Msg
		rcode int
	}{
		{"two questions", two, mdns.RcodeFormatError},
		{"opcode STATUS", notimp, mdns.RcodeNotImplemented},
		{"class CHAOS", chaos, mdns.RcodeNotImplemented},
		{"AXFR", query("a.", mdns.TypeAXFR, false), mdns.RcodeRefused},
		{"EDNS version 1", badvers, mdns.RcodeBadVers},
		{"two OPT records", twoOpt, mdns.RcodeFormatError},
	} {
		r, fwd := ask(t, members, tt.q, true)
		if fwd || r == nil || r.Rcode != tt.rcode {
			t.Errorf("%s: %v, forwarded %v; want rcode %d", tt.what, r, fwd, tt.rcode)
		}
	}
	resp := query("a.", mdns.TypeA, false)
	resp.Response = true
	if r, fwd := ask(t, members, resp, true); r != nil || fwd {
		t.Errorf("a response was answered: %v, %v", r, fwd)
	}
	pkt, _ := query("a.", mdns.TypeA, false).Pack()
	out, fwd := checkAnswer(members, pkt[:len(pkt)-3], true)
	if fwd || len(out) != 12 || out[3]&0xf != mdns.RcodeFormatError || out[0] != pkt[0] || out[1] != pkt[1] {
		t.Errorf("a cut query: %x, forwarded %v; want a header-only FORMERR", out, fwd)
	}
	if out, fwd := checkAnswer(members, pkt[:5], true); out != nil || fwd {
		t.Errorf("five bytes: %x, %v; want nothing", out, fwd)
	}
}

// A reply carries one OPT if the query had one (DO copied) and fits 512
// bytes, the client's EDNS0 size (at most 4096) over UDP, 64 KiB over TCP,
// with TC when addresses had to go.
func TestAnswerSize(t *testing.T) {
	var members []string
	for i := range 200 {
		members = append(members, fmt.Sprintf("e n 10.0.%d.%d many\n", i/250, i%250+2))
	}
	for _, tt := range []struct {
		edns, udp bool
		max       int
	}{
		{false, true, 512}, {true, true, 1232}, {false, false, 65535},
	} {
		q := query("many.", mdns.TypeA, tt.edns)
		pkt, _ := q.Pack()
		out, _ := checkAnswer(members, pkt, tt.udp)
		r := new(mdns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if len(out) > tt.max || (len(r.Answer) < 200) != r.Truncated || (tt.udp && !r.Truncated) || (!tt.udp && len(r.Answer) != 200) {
			t.Errorf("edns %v udp %v: %d bytes, %d answers, TC %v; want at most %d bytes", tt.edns, tt.udp, len(out), len(r.Answer), r.Truncated, tt.max)
		}
		if opt := r.IsEdns0(); (opt != nil) != tt.edns || (opt != nil && (!opt.Do() || opt.UDPSize() != 4096)) {
			t.Errorf("edns %v: reply OPT %v", tt.edns, opt)
		}
	}
}

// An upstream's reply leaves with the client's OPT rules and size limit.
func TestFitReply(t *testing.T) {
	q := query("example.com.", mdns.TypeA, false)
	qpkt, _ := q.Pack()
	up := new(mdns.Msg).SetReply(q)
	for i := range 100 {
		up.Answer = append(up.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: "example.com.", Rrtype: mdns.TypeA, Class: 1, Ttl: 60},
			A: net.IPv4(192, 0, 2, byte(i)).To4()})
	}
	up.SetEdns0(4096, false)
	up.Compress = true
	upkt, _ := up.Pack()
	out, ok := checkFit(upkt, qpkt, true)
	r := new(mdns.Msg)
	if !ok || r.Unpack(out) != nil || len(out) > 512 || !r.Truncated || r.IsEdns0() != nil || len(r.Answer) == 0 {
		t.Errorf("100 A over UDP without EDNS: ok %v, %d bytes, TC %v, OPT %v, %d answers", ok, len(out), r.Truncated, r.IsEdns0(), len(r.Answer))
	}
	out, _ = checkFit(upkt, qpkt, false)
	if r.Unpack(out) != nil || r.Truncated || len(r.Answer) != 100 {
		t.Errorf("100 A over TCP: TC %v, %d answers", r.Truncated, len(r.Answer))
	}
	qe := query("example.com.", mdns.TypeA, true)
	qepkt, _ := qe.Pack()
	bare := new(mdns.Msg).SetReply(qe)
	bare.Extra = nil
	bpkt, _ := bare.Pack()
	out, _ = checkFit(bpkt, qepkt, true)
	if r.Unpack(out) != nil || r.IsEdns0() == nil || strings.Count(r.String(), "OPT PSEUDOSECTION") != 1 {
		t.Errorf("a reply without OPT to an EDNS query: %v", r)
	}
}
