package trace

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
)

// The fixture's rules, as nft lists them (the text is network/nft's).
func TestRender(t *testing.T) {
	rs := fixtureRuleset()
	want := map[uint64]string{
		12: `iifname != "lo" ip daddr 127.0.0.0/8 drop`,
		13: `fib daddr type local jump publish`,
		15: `dnat ip to ip daddr . meta l4proto . th dport map @publish_addr`,
		16: `dnat ip to meta l4proto . th dport map @publish_any`,
		17: `ct status dnat ip saddr 127.0.0.0/8 masquerade`,
		23: `ip saddr 10.1.0.0/24 oifname != "br1" masquerade comment "br1"`,
		24: `ip saddr 10.1.0.0/24 oifname "br1" ct status dnat masquerade comment "br1"`,
		18: `ct state established,related accept`,
		19: `jump internal`,
		25: `iifname "br1" oifname "br1" accept comment "br1"`,
		31: `oifname "br2" drop comment "br2"`,
	}
	seen := 0
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if w, ok := want[r.Handle]; ok {
				seen++
				if got := r.Listed(); got != w {
					t.Errorf("Render(handle %d) = %q, want %q", r.Handle, got, w)
				}
			}
		}
	}
	if seen != len(want) {
		t.Errorf("rendered %d rules, want %d", seen, len(want))
	}
}

func pkt(iif, oif, src, dst string, dport uint16) Packet {
	p := Packet{IIf: iif, OIf: oif, Proto: unix.IPPROTO_TCP, DPort: dport, CtState: expr.CtStateBitNEW, DstType: unix.RTN_UNICAST}
	p.Src = netip.MustParseAddr(src)
	p.Dst = netip.MustParseAddr(dst)
	return p
}

func TestRunChain(t *testing.T) {
	rs := fixtureRuleset()
	local := func(p Packet) Packet { p.DstType = unix.RTN_LOCAL; return p }
	dnated := func(p Packet) Packet { p.CtStatus |= nft.IPSDstNAT; return p }
	established := func(p Packet) Packet { p.CtState = expr.CtStateBitESTABLISHED; return p }
	for _, tc := range []struct {
		name    string
		chain   string
		p       Packet
		verdict string
		last    uint64 // handle of the deciding rule; 0: the policy
		dnat    string
		masq    bool
		note    string
	}{
		{"other network dropped", "forward", pkt("br1", "br2", "10.1.0.3", "10.2.0.2", 80), "drop", 31, "", false, ""},
		{"same network accepted", "forward", pkt("br1", "br1", "10.1.0.3", "10.1.0.2", 80), "accept", 25, "", false, ""},
		{"outbound accepted", "forward", pkt("br1", "eth0", "10.1.0.3", "198.51.100.1", 80), "accept", 27, "", false, ""},
		{"outside to a container dropped", "forward", pkt("eth0", "br1", "198.51.100.1", "10.1.0.2", 80), "drop", 26, "", false, ""},
		{"published port accepted", "forward", dnated(pkt("eth0", "br1", "198.51.100.1", "10.1.0.2", 80)), "accept", 20, "", false, ""},
		{"reply accepted", "forward", established(pkt("br2", "br1", "10.2.0.2", "10.1.0.2", 80)), "accept", 18, "", false, ""},
		{"unknown interfaces: policy", "forward", pkt("eth0", "eth1", "198.51.100.1", "203.0.113.1", 80), "accept", 0, "", false, ""},
		{"loopback from outside dropped", "raw_prerouting", pkt("eth0", "", "198.51.100.1", "127.0.0.1", 8080), "drop", 12, "", false, ""},
		{"loopback from lo passes", "raw_prerouting", pkt("lo", "", "127.0.0.1", "127.0.0.1", 8080), "accept", 0, "", false, ""},
		{"published on 127.0.0.1", "output", local(pkt("", "lo", "127.0.0.1", "127.0.0.1", 8080)), "accept", 15, "10.1.0.2:80", false,
			"@publish_addr element 127.0.0.1 . tcp . 8080 : 10.1.0.2 . 80"},
		{"published on every address", "prerouting", local(pkt("eth0", "", "198.51.100.1", "192.0.2.7", 9000)), "accept", 16, "10.2.0.2:80", false,
			"@publish_any element tcp . 9000 : 10.2.0.2 . 80"},
		{"127.0.0.1 is not every address", "prerouting", local(pkt("eth0", "", "198.51.100.1", "192.0.2.7", 8080)), "accept", 0, "", false,
			"@publish_addr has no element 192.0.2.7 . tcp . 8080; @publish_any has no element tcp . 8080"},
		{"not local: no publish", "prerouting", pkt("br1", "", "10.1.0.3", "10.2.0.2", 9000), "accept", 0, "", false, ""},
		{"loopback source masqueraded", "postrouting", dnated(pkt("", "br1", "127.0.0.1", "10.1.0.2", 80)), "accept", 17, "", true, ""},
		{"outbound masqueraded", "postrouting", pkt("", "eth0", "10.1.0.3", "198.51.100.1", 80), "accept", 23, "", true, ""},
		{"hairpin masqueraded", "postrouting", dnated(pkt("", "br1", "10.1.0.3", "10.1.0.2", 80)), "accept", 24, "", true, ""},
		{"within a network: no masquerade", "postrouting", pkt("", "br1", "10.1.0.3", "10.1.0.2", 80), "accept", 0, "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := RunChain(rs, tc.chain, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			last := out.Steps[len(out.Steps)-1]
			if out.Verdict != tc.verdict || last.Handle != tc.last {
				t.Errorf("RunChain(%s) = %s by handle %d, want %s by handle %d (%+v)", tc.chain, out.Verdict, last.Handle, tc.verdict, tc.last, out.Steps)
			}
			if got := out.DNAT; (tc.dnat == "" && got.IsValid()) || (tc.dnat != "" && got.String() != tc.dnat) {
				t.Errorf("RunChain(%s) DNAT = %v, want %q", tc.chain, got, tc.dnat)
			}
			if out.Masq != tc.masq {
				t.Errorf("RunChain(%s) masquerade = %v, want %v", tc.chain, out.Masq, tc.masq)
			}
			var notes []string
			for _, s := range out.Steps {
				if s.Note != "" {
					notes = append(notes, s.Note)
				}
			}
			if got := strings.Join(notes, "; "); got != tc.note {
				t.Errorf("RunChain(%s) notes = %q, want %q", tc.chain, got, tc.note)
			}
		})
	}
}

func TestRunChainSteps(t *testing.T) {
	// The deciding path: a jump that decided nothing is left out; one that
	// led to the drop is kept.
	out, err := RunChain(fixtureRuleset(), "forward", pkt("br1", "br2", "10.1.0.3", "10.2.0.2", 80))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range out.Steps {
		got = append(got, s.Chain+":"+s.Action)
	}
	if w := "forward:jump isolate isolate:drop"; strings.Join(got, " ") != w {
		t.Errorf("steps = %q, want %q", strings.Join(got, " "), w)
	}
}

func TestRunChainUnknown(t *testing.T) {
	rs := fixtureRuleset()
	rs.Chains[len(rs.Chains)-1].Rules = append([]nft.Rule{{Handle: 99, Exprs: []expr.Any{&expr.Log{}}}}, rs.Chains[len(rs.Chains)-1].Rules...)
	_, err := RunChain(rs, "forward", pkt("br1", "eth0", "10.1.0.3", "198.51.100.1", 80))
	if !errors.Is(err, errUnknown) || !strings.Contains(err.Error(), "handle 99") {
		t.Errorf("RunChain with a log rule: %v, want an error naming handle 99", err)
	}
	// A lookup of a map that was not read is not guessed either.
	rs = fixtureRuleset()
	delete(rs.Maps, "publish_any")
	p := pkt("eth0", "", "198.51.100.1", "192.0.2.7", 9000)
	p.DstType = unix.RTN_LOCAL
	if _, err := RunChain(rs, "prerouting", p); !errors.Is(err, errUnknown) {
		t.Errorf("RunChain without the map: %v, want errUnknown", err)
	}
}

func TestRegisters(t *testing.T) {
	var rg regs
	// NFT_REG_1 and NFT_REG32_00 are the same bytes; NFT_REG32_01 follows.
	if err := rg.store(unix.NFT_REG_1, []byte{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	a, _ := rg.load(unix.NFT_REG32_00, 4)
	b, _ := rg.load(unix.NFT_REG32_01, 4)
	if string(a) != "\x01\x02\x03\x04" || string(b) != "\x05\x00\x00\x00" {
		t.Errorf("registers: %v %v", a, b)
	}
	if _, err := rg.load(unix.NFT_REG32_15, 8); err == nil {
		t.Error("a load past the last register succeeded")
	}
	if _, err := regOffset(0); err == nil {
		t.Error("the verdict register was taken as data")
	}
}
