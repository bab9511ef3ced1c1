package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

var (
	web1 = netip.MustParseAddr("172.19.0.2")
	web2 = netip.MustParseAddr("172.19.0.3")
	db   = netip.MustParseAddr("172.20.0.5")
	webB = netip.MustParseAddr("172.20.0.2") // web1's container, second network
)

// testView: container "web" (short id 0123456789ab, hostname webhost) on
// mynet and backnet, a second container "web2" sharing alias "www" on
// mynet, and "db" on backnet only.
func testView() *View {
	return NewView([]Entry{
		{Network: "mynet", Names: []string{"web", "www", "0123456789ab", "webhost"}, IP: web1},
		{Network: "mynet", Names: []string{"web2", "www", "www"}, IP: web2},
		{Network: "backnet", Names: []string{"web", "0123456789ab", "webhost"}, IP: webB},
		{Network: "backnet", Names: []string{"db"}, IP: db},
	})
}

func answer(t *testing.T, v *View, req *mdns.Msg) *mdns.Msg {
	t.Helper()
	resp, fwd := v.Answer(req)
	if fwd {
		t.Fatalf("Answer(%v) says forward, want a local answer", req.Question)
	}
	if resp == nil {
		t.Fatalf("Answer(%v) = nil", req.Question)
	}
	return resp
}

func sorted(a []netip.Addr) []netip.Addr {
	a = slices.Clone(a)
	slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
	return a
}

func TestAnswerA(t *testing.T) {
	v := testView()
	for _, tc := range []struct {
		name string
		want []netip.Addr
	}{
		{"web.", []netip.Addr{web1, webB}},
		{"WEB.", []netip.Addr{web1, webB}},
		{"wEb", []netip.Addr{web1, webB}}, // no trailing dot: made fully qualified
		{"web.mynet.", []netip.Addr{web1}},
		{"Web.MyNet.", []netip.Addr{web1}},
		{"web.backnet.", []netip.Addr{webB}},
		{"0123456789AB.", []netip.Addr{web1, webB}},
		{"webhost.mynet.", []netip.Addr{web1}},
		{"www.", []netip.Addr{web1, web2}},
		{"www.mynet.", []netip.Addr{web1, web2}},
		{"db.", []netip.Addr{db}},
		{"db.backnet.", []netip.Addr{db}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := query(tc.name, mdns.TypeA)
			resp := answer(t, v, req)
			if resp.Rcode != mdns.RcodeSuccess || !resp.Authoritative || !resp.RecursionAvailable || !resp.Response {
				t.Errorf("header = %+v, want NOERROR aa ra qr", resp.MsgHdr)
			}
			if resp.Id != req.Id || !resp.RecursionDesired {
				t.Errorf("id/rd not echoed: %+v", resp.MsgHdr)
			}
			if got := sorted(addrsOf(t, resp)); !slices.Equal(got, sorted(tc.want)) {
				t.Errorf("A %s = %v, want %v", tc.name, got, tc.want)
			}
			for _, rr := range resp.Answer {
				if rr.Header().Name != mdns.Fqdn(tc.name) || rr.Header().Ttl != localTTL {
					t.Errorf("record %v: want owner %q as asked and TTL %d", rr, mdns.Fqdn(tc.name), localTTL)
				}
			}
		})
	}
}

func TestAnswerUnknownForwards(t *testing.T) {
	v := testView()
	for _, name := range []string{
		"example.com.", "web.othernet.", "db.mynet.", "mynet.", "we.", "web.mynet.example.",
		"9.9.9.9.in-addr.arpa.", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
	} {
		for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypePTR, mdns.TypeMX} {
			resp, fwd := v.Answer(query(name, qt))
			if !fwd || resp != nil {
				t.Errorf("Answer(%s %s) = %v, %v; want nil, forward", name, mdns.TypeToString[qt], resp, fwd)
			}
		}
	}
	var none *View
	if resp, fwd := none.Answer(query("web.", mdns.TypeA)); !fwd || resp != nil {
		t.Errorf("nil View: Answer = %v, %v; want nil, forward", resp, fwd)
	}
	if resp, fwd := NewView(nil).Answer(query("web.", mdns.TypeA)); !fwd || resp != nil {
		t.Errorf("empty View: Answer = %v, %v; want nil, forward", resp, fwd)
	}
}

func TestAnswerOtherTypesEmpty(t *testing.T) {
	v := testView()
	for _, qt := range []uint16{mdns.TypeAAAA, mdns.TypeMX, mdns.TypeTXT, mdns.TypeSRV, mdns.TypeANY, mdns.TypeCNAME, mdns.TypePTR} {
		for _, name := range []string{"web.", "WWW.mynet."} {
			resp := answer(t, v, query(name, qt))
			if resp.Rcode != mdns.RcodeSuccess || !resp.Authoritative || len(resp.Answer) != 0 || len(resp.Ns) != 0 {
				t.Errorf("%s %s: rcode %s aa %v answers %v ns %v; want empty authoritative NOERROR",
					name, mdns.TypeToString[qt], mdns.RcodeToString[resp.Rcode], resp.Authoritative, resp.Answer, resp.Ns)
			}
			if len(resp.Question) != 1 || resp.Question[0].Name != name {
				t.Errorf("question not echoed: %v", resp.Question)
			}
		}
	}
}

func TestAnswerSharedAliasShuffled(t *testing.T) {
	var es []Entry
	var want []netip.Addr
	ip := netip.MustParseAddr("10.1.0.2")
	for i := range 8 {
		es = append(es, Entry{Network: "n", Names: []string{"c" + string(rune('a'+i)), "svc"}, IP: ip})
		want = append(want, ip)
		ip = ip.Next()
	}
	// The same container listed twice (e.g. names repeated): no duplicate address.
	es = append(es, Entry{Network: "n", Names: []string{"svc"}, IP: want[0]})
	v := NewView(es)

	orders := map[string]bool{}
	for range 50 {
		got := addrsOf(t, answer(t, v, query("svc.", mdns.TypeA)))
		if !slices.Equal(sorted(got), want) {
			t.Fatalf("A svc = %v, want each of %v once", got, want)
		}
		var b strings.Builder
		for _, a := range got {
			b.WriteString(a.String() + " ")
		}
		orders[b.String()] = true
	}
	// 8! orders: 50 calls giving fewer than 10 distinct ones is not a shuffle.
	if len(orders) < 10 {
		t.Errorf("50 answers came in %d orders; want a fresh shuffle each call", len(orders))
	}
}

func TestAnswerPTR(t *testing.T) {
	v := testView()
	for _, tc := range []struct{ name, want string }{
		{"2.0.19.172.in-addr.arpa.", "web."},
		{"2.0.19.172.IN-ADDR.ARPA.", "web."},
		{"2.0.20.172.in-addr.arpa.", "web."}, // web's address on backnet
		{"3.0.19.172.in-addr.arpa.", "web2."},
		{"5.0.20.172.in-addr.arpa.", "db."},
	} {
		resp := answer(t, v, query(tc.name, mdns.TypePTR))
		if len(resp.Answer) != 1 {
			t.Fatalf("PTR %s: %v, want one record", tc.name, resp.Answer)
		}
		ptr, ok := resp.Answer[0].(*mdns.PTR)
		if !ok || ptr.Ptr != tc.want || ptr.Hdr.Name != tc.name || !resp.Authoritative {
			t.Errorf("PTR %s = %v (aa %v), want %s", tc.name, resp.Answer[0], resp.Authoritative, tc.want)
		}
	}
	// A reverse name we own, asked for another type: empty NOERROR.
	resp := answer(t, v, query("2.0.19.172.in-addr.arpa.", mdns.TypeA))
	if resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("A on a known reverse name: %v", resp)
	}
}

func TestAnswerIPv6Entry(t *testing.T) {
	v6 := netip.MustParseAddr("fd00::2")
	v := NewView([]Entry{
		{Network: "n", Names: []string{"dual"}, IP: netip.MustParseAddr("10.0.0.2")},
		{Network: "n6", Names: []string{"dual"}, IP: v6},
		{Network: "m", Names: []string{"mapped"}, IP: netip.MustParseAddr("::ffff:10.0.0.9")},
	})
	if got := addrsOf(t, answer(t, v, query("dual.", mdns.TypeAAAA))); !slices.Equal(got, []netip.Addr{v6}) {
		t.Errorf("AAAA dual = %v, want [%v]", got, v6)
	}
	if got := addrsOf(t, answer(t, v, query("dual.", mdns.TypeA))); len(got) != 1 || !got[0].Is4() {
		t.Errorf("A dual = %v, want the IPv4 address only", got)
	}
	if got := addrsOf(t, answer(t, v, query("mapped.", mdns.TypeA))); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.0.0.9")}) {
		t.Errorf("A mapped = %v, want the IPv4 form of a 4in6 address", got)
	}
	rev, _ := mdns.ReverseAddr(v6.String())
	resp := answer(t, v, query(rev, mdns.TypePTR))
	if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.PTR).Ptr != "dual." {
		t.Errorf("PTR %s = %v", rev, resp.Answer)
	}
}

func TestNewViewSkipsInvalid(t *testing.T) {
	long := strings.Repeat("a", 64)                        // label over 63 bytes
	huge := strings.Repeat(strings.Repeat("b", 60)+".", 5) // over 255 bytes
	v := NewView([]Entry{
		{Network: "n", Names: []string{"noaddr"}},                       // zero address
		{Network: "n", Names: nil, IP: netip.MustParseAddr("10.0.0.7")}, // no names
		{Network: "n", Names: []string{"", ".", long, huge, "ok."}, IP: netip.MustParseAddr("10.0.0.8")},
		{Network: "n", Names: []string{"dotted.name", "Mixed"}, IP: netip.MustParseAddr("10.0.0.9")},
		{Names: []string{"nonet"}, IP: netip.MustParseAddr("10.0.0.10")},
	})
	for _, name := range []string{"noaddr.", "ok.", "ok.n.", "dotted.name.", "dotted.name.n.", "mixed.", "MIXED.n.", "nonet."} {
		_, fwd := v.Answer(query(name, mdns.TypeA))
		want := name != "noaddr."
		if fwd == want {
			t.Errorf("%s known = %v, want %v", name, !fwd, want)
		}
	}
	// The PTR of 10.0.0.8 is its first valid name; the no-name entry has none.
	if resp := answer(t, v, query("8.0.0.10.in-addr.arpa.", mdns.TypePTR)); resp.Answer[0].(*mdns.PTR).Ptr != "ok." {
		t.Errorf("PTR 10.0.0.8 = %v, want ok.", resp.Answer)
	}
	if resp := answer(t, v, query("9.0.0.10.in-addr.arpa.", mdns.TypePTR)); resp.Answer[0].(*mdns.PTR).Ptr != "dotted.name." {
		t.Errorf("PTR 10.0.0.9 = %v, want dotted.name.", resp.Answer)
	}
	if _, fwd := v.Answer(query("7.0.0.10.in-addr.arpa.", mdns.TypePTR)); !fwd {
		t.Errorf("PTR of an entry without names answered locally")
	}
	if len(v.addrs) != 7 {
		t.Errorf("view has %d names, want 7: %v", len(v.addrs), v.addrs)
	}
}

func TestAnswerMalformed(t *testing.T) {
	v := testView()
	twoQ := query("web.", mdns.TypeA)
	twoQ.Question = append(twoQ.Question, twoQ.Question[0])
	noQ := query("web.", mdns.TypeA)
	noQ.Question = nil
	notify := query("web.", mdns.TypeA)
	notify.Opcode = mdns.OpcodeNotify
	status := query("web.", mdns.TypeA)
	status.Opcode = mdns.OpcodeStatus
	chaos := query("version.bind.", mdns.TypeTXT)
	chaos.Question[0].Qclass = mdns.ClassCHAOS
	anyClass := query("web.", mdns.TypeA)
	anyClass.Question[0].Qclass = mdns.ClassANY
	twoOPT := queryEDNS("web.", mdns.TypeA, 1232)
	twoOPT.Extra = append(twoOPT.Extra, newOPT(false))
	badOPTName := queryEDNS("web.", mdns.TypeA, 1232)
	badOPTName.Extra[0].Header().Name = "web."
	vers1 := queryEDNS("web.", mdns.TypeA, 1232)
	vers1.IsEdns0().SetVersion(1)
	longName := query(strings.Repeat(strings.Repeat("x", 63)+".", 4), mdns.TypeA) // 257 bytes on the wire
	badLabel := query(strings.Repeat("x", 64)+".", mdns.TypeA)
	axfr := query("web.", mdns.TypeAXFR)
	ixfr := query("example.com.", mdns.TypeIXFR)

	for _, tc := range []struct {
		name  string
		req   *mdns.Msg
		rcode int
	}{
		{"no question", noQ, mdns.RcodeFormatError},
		{"two questions", twoQ, mdns.RcodeFormatError},
		{"opcode notify", notify, mdns.RcodeNotImplemented},
		{"opcode status", status, mdns.RcodeNotImplemented},
		{"class chaos", chaos, mdns.RcodeNotImplemented},
		{"class any", anyClass, mdns.RcodeNotImplemented},
		{"two OPT", twoOPT, mdns.RcodeFormatError},
		{"OPT not at root", badOPTName, mdns.RcodeFormatError},
		{"EDNS version 1", vers1, mdns.RcodeBadVers},
		{"name over 255 bytes", longName, mdns.RcodeFormatError},
		{"label over 63 bytes", badLabel, mdns.RcodeFormatError},
		{"AXFR", axfr, mdns.RcodeRefused},
		{"IXFR unknown name", ixfr, mdns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, fwd := v.Answer(tc.req)
			if fwd || resp == nil {
				t.Fatalf("Answer = %v, %v; want a local %s", resp, fwd, mdns.RcodeToString[tc.rcode])
			}
			if resp.Rcode != tc.rcode || resp.Id != tc.req.Id || !resp.Response || len(resp.Answer) != 0 {
				t.Errorf("got %s (id %d, qr %v, %d answers), want %s with id %d",
					mdns.RcodeToString[resp.Rcode], resp.Id, resp.Response, len(resp.Answer), mdns.RcodeToString[tc.rcode], tc.req.Id)
			}
			if tc.rcode == mdns.RcodeBadVers {
				Fit(resp, tc.req, true)
				b, err := resp.Pack()
				if err != nil {
					t.Fatalf("pack BADVERS: %v", err)
				}
				var back mdns.Msg
				if err := back.Unpack(b); err != nil || back.Rcode != mdns.RcodeBadVers || back.IsEdns0() == nil || back.IsEdns0().Version() != 0 {
					t.Errorf("BADVERS on the wire: %v, err %v", &back, err)
				}
			}
		})
	}

	reply := query("web.", mdns.TypeA)
	reply.Response = true
	if resp, fwd := v.Answer(reply); resp != nil || fwd {
		t.Errorf("a response (QR set) got %v, %v; want nothing", resp, fwd)
	}
	if resp, fwd := v.Answer(nil); resp != nil || fwd {
		t.Errorf("nil request got %v, %v; want nothing", resp, fwd)
	}
}

func BenchmarkAnswer(b *testing.B) {
	v := NewView(manyEntries(50, "svc"))
	req := query("c7.big.", mdns.TypeA)
	for b.Loop() {
		v.Answer(req)
	}
}

// A name with a character that needs escaping matches the query for it as
// it arrives from the wire, and its PTR packs.
func TestViewEscapedNames(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.3")
	v := NewView([]Entry{{Network: "n", Names: []string{"My Svc"}, IP: ip}})
	b, err := query(`my\032svc.N.`, mdns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	var req mdns.Msg
	if err := req.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(t, answer(t, v, &req)); !slices.Equal(got, []netip.Addr{ip}) {
		t.Errorf("A %s = %v, want [%v]", req.Question[0].Name, got, ip)
	}
	resp := answer(t, v, query("3.0.0.10.in-addr.arpa.", mdns.TypePTR))
	if ptr := resp.Answer[0].(*mdns.PTR).Ptr; ptr != `My\ Svc.` {
		t.Errorf("PTR = %q, want %q", ptr, `My\ Svc.`)
	}
	if _, err := resp.Pack(); err != nil {
		t.Errorf("pack PTR: %v", err)
	}
}
