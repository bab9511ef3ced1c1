package dns

import (
	"net"
	"testing"

	mdns "github.com/miekg/dns"
)

// fitted answers req from v, fits it and returns the packed reply, unpacked
// again as a client would see it.
func fitted(t *testing.T, v *View, req *mdns.Msg, udp bool) (*mdns.Msg, int) {
	t.Helper()
	resp := answer(t, v, req)
	Fit(resp, req, udp)
	b, err := resp.Pack()
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	var back mdns.Msg
	if err := back.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return &back, len(b)
}

func TestFitSharedAlias(t *testing.T) {
	for _, n := range []int{100, 300} {
		v := NewView(manyEntries(n, "shared"))
		var answers []int
		for _, tc := range []struct {
			name    string
			req     *mdns.Msg
			udp     bool
			limit   int
			wantTC  bool
			wantOPT bool
		}{
			{"udp 512", query("shared.", mdns.TypeA), true, 512, true, false},
			{"udp edns 1232", queryEDNS("shared.", mdns.TypeA, 1232), true, 1232, true, true},
			{"udp edns 4096", queryEDNS("shared.", mdns.TypeA, 4096), true, 4096, n > 250, true},
			{"udp edns 65000 clamped", queryEDNS("shared.", mdns.TypeA, 65000), true, 4096, n > 250, true},
			{"udp edns 100 raised", queryEDNS("shared.", mdns.TypeA, 100), true, 512, true, true},
			{"tcp", query("shared.", mdns.TypeA), false, 65535, false, false},
			{"tcp edns 512", queryEDNS("shared.", mdns.TypeA, 512), false, 65535, false, true},
		} {
			got, size := fitted(t, v, tc.req, tc.udp)
			if size > tc.limit {
				t.Errorf("%d containers, %s: %d bytes, want at most %d", n, tc.name, size, tc.limit)
			}
			if got.Truncated != tc.wantTC {
				t.Errorf("%d containers, %s: TC = %v, want %v", n, tc.name, got.Truncated, tc.wantTC)
			}
			if (got.IsEdns0() != nil) != tc.wantOPT {
				t.Errorf("%d containers, %s: OPT in reply = %v, want %v", n, tc.name, got.IsEdns0() != nil, tc.wantOPT)
			}
			if !tc.wantTC && len(got.Answer) != n {
				t.Errorf("%d containers, %s: %d answers, want all %d", n, tc.name, len(got.Answer), n)
			}
			if len(got.Answer) == 0 || len(got.Question) != 1 || got.Rcode != mdns.RcodeSuccess {
				t.Errorf("%d containers, %s: %d answers, question %v, rcode %d", n, tc.name, len(got.Answer), got.Question, got.Rcode)
			}
			answers = append(answers, len(got.Answer))
		}
		// Bigger buffers carry more: 512 < 1232 < 4096.
		if !(answers[0] < answers[1] && answers[1] < answers[2]) {
			t.Errorf("%d containers: answers at 512/1232/4096 bytes = %v, want increasing", n, answers[:3])
		}
	}
}

func TestFitOPT(t *testing.T) {
	v := testView()

	// Client with EDNS and DO: the reply has one OPT, our size, DO copied, no options.
	req := queryEDNS("web.", mdns.TypeA, 1232)
	req.IsEdns0().SetDo()
	req.IsEdns0().Option = []mdns.EDNS0{&mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	got, _ := fitted(t, v, req, true)
	opt := got.IsEdns0()
	if opt == nil || opt.UDPSize() != maxUDPSize || !opt.Do() || len(opt.Option) != 0 || opt.Version() != 0 {
		t.Errorf("reply OPT = %v, want size %d, DO, no options", opt, maxUDPSize)
	}

	// Client without EDNS: no OPT, even if the (upstream) reply had one.
	plain := query("example.com.", mdns.TypeA)
	up := new(mdns.Msg).SetReply(plain)
	up.SetEdns0(1232, false)
	Fit(up, plain, true)
	if up.IsEdns0() != nil {
		t.Errorf("OPT kept for a client that sent none: %v", up.Extra)
	}

	// Upstream reply with its own OPT (and a duplicate): exactly one, the first, kept.
	ereq := queryEDNS("example.com.", mdns.TypeA, 1232)
	up = new(mdns.Msg).SetReply(ereq)
	first := newOPT(false)
	first.SetUDPSize(1400)
	up.Extra = []mdns.RR{first, &mdns.A{Hdr: mdns.RR_Header{Name: "x.", Rrtype: mdns.TypeA, Class: mdns.ClassINET}, A: net.IPv4(1, 2, 3, 4)}, newOPT(true)}
	Fit(up, ereq, true)
	var opts int
	for _, rr := range up.Extra {
		if _, ok := rr.(*mdns.OPT); ok {
			opts++
		}
	}
	if opts != 1 || up.IsEdns0().UDPSize() != 1400 || len(up.Extra) != 2 {
		t.Errorf("extra after Fit = %v, want the A and the upstream's first OPT", up.Extra)
	}
}

func TestFitKeepsUpstreamTC(t *testing.T) {
	req := query("big.example.", mdns.TypeTXT)
	up := new(mdns.Msg).SetReply(req)
	up.Truncated = true
	Fit(up, req, true)
	if !up.Truncated {
		t.Errorf("TC cleared on an upstream reply that had it")
	}
}

func TestFitCompressesBeforeDropping(t *testing.T) {
	// 40 answers for one long name: about 1,500 bytes uncompressed, about 700
	// compressed, so at EDNS 1232 they all fit once compressed: no TC.
	name := "a-rather-long-container-name-for-compression.mynet."
	var es []Entry
	for _, e := range manyEntries(40, "a-rather-long-container-name-for-compression") {
		e.Network = "mynet"
		es = append(es, e)
	}
	got, size := fitted(t, NewView(es), queryEDNS(name, mdns.TypeA, 1232), true)
	if got.Truncated || len(got.Answer) != 40 || size > 1232 {
		t.Errorf("TC %v, %d answers, %d bytes; want all 40 compressed within 1232 bytes", got.Truncated, len(got.Answer), size)
	}
}
