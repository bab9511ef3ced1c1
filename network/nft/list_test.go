package nft

import (
	"net/netip"
	"testing"
)

// Text reads back every rule hutch makes as nft would print it.
func TestTextOfHutchRules(t *testing.T) {
	tbl := ipTable("hutch")
	var got []string
	for _, r := range baseRules(addrMap(tbl), anyMap(tbl)) {
		got = append(got, r.chain+": "+Text(r.exprs))
	}
	for _, n := range []Network{
		{Bridge: "hutch-a", Subnet: netip.MustParsePrefix("10.210.0.0/16")},
		{Bridge: "hutch-b", Subnet: netip.MustParsePrefix("10.211.3.0/26"), Internal: true},
	} {
		for _, r := range networkRules(n) {
			got = append(got, r.chain+": "+Text(r.exprs))
		}
	}
	want := []string{
		`raw_prerouting: iifname != "lo" ip daddr 127.0.0.0/8 drop`,
		`prerouting: fib daddr type local jump publish`,
		`output: fib daddr type local jump publish`,
		`publish: dnat ip to ip daddr . meta l4proto . th dport map @publish_addr`,
		`publish: dnat ip to meta l4proto . th dport map @publish_any`,
		`postrouting: ct status dnat ip saddr 127.0.0.0/8 masquerade`,
		`forward: ct state established,related accept`,
		`forward: jump internal`,
		`forward: ct status dnat accept`,
		`forward: jump isolate`,
		`forward: jump outbound`,
		`postrouting: ip saddr 10.210.0.0/16 oifname != "hutch-a" masquerade`,
		`postrouting: ip saddr 10.210.0.0/16 oifname "hutch-a" ct status dnat masquerade`,
		`isolate: iifname "hutch-a" oifname "hutch-a" accept`,
		`isolate: oifname "hutch-a" drop`,
		`outbound: iifname "hutch-a" accept`,
		`postrouting: ip saddr 10.211.3.0/26 oifname "hutch-b" ct status dnat masquerade`,
		`isolate: iifname "hutch-b" oifname "hutch-b" accept`,
		`isolate: oifname "hutch-b" drop`,
		`internal: iifname "hutch-b" oifname != "hutch-b" drop`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rules, want %d:\n%q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestRedirectOf(t *testing.T) {
	rs := redirectDNSRules(netip.MustParseAddr("127.0.0.11"), 40001, 40002)
	d, proto, ok := redirectOf(rs[0])
	if !ok || proto != 17 || d.UDPPort != 40001 || d.Resolver.String() != "127.0.0.11" {
		t.Errorf("udp rule: %+v %d %v", d, proto, ok)
	}
	if d, proto, ok = redirectOf(rs[1]); !ok || proto != 6 || d.UDPPort != 40002 {
		t.Errorf("tcp rule: %+v %d %v", d, proto, ok)
	}
}

// Text of hutch-dns's redirect: a NAT to immediates.
func TestTextOfDNSRedirect(t *testing.T) {
	rs := redirectDNSRules(netip.MustParseAddr("127.0.0.11"), 40001, 40002)
	for i, want := range []string{
		"ip daddr 127.0.0.11 meta l4proto udp th dport 53 dnat ip to 127.0.0.11:40001",
		"ip daddr 127.0.0.11 meta l4proto tcp th dport 53 dnat ip to 127.0.0.11:40002",
	} {
		if got := Text(rs[i]); got != want {
			t.Errorf("rule %d: %q, want %q", i, got, want)
		}
	}
}
