package nft

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Rules reads back, from the kernel, each rule with the handle nft shows
// for it and the text nft prints for it.
func TestRulesMatchNft(t *testing.T) {
	tb := testTable(t)
	if rs, err := tb.Rules(); err != nil || len(rs) != 0 {
		t.Fatalf("no table: %v %v", rs, err)
	}
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Network{
		{Bridge: "hutch-a", Subnet: netip.MustParsePrefix("10.210.0.0/16")},
		{Bridge: "hutch-b", Subnet: netip.MustParsePrefix("10.211.3.0/26"), Internal: true},
	} {
		if err := tb.AddNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := tb.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 20 {
		t.Errorf("%d rules, want 20: %+v", len(rs), rs)
	}
	listing := nftIn(t, tb, "-a", "list", "table", "ip", tb.Name)
	lines := map[string]string{} // by handle
	for _, l := range strings.Split(listing, "\n") {
		if i := strings.Index(l, " # handle "); i > 0 {
			lines[l[i+len(" # handle "):]] = strings.TrimSpace(l[:i])
		}
	}
	for _, r := range rs {
		nftText, ok := lines[fmt.Sprint(r.Handle)]
		want := r.Text
		if r.Tag != "" {
			want += fmt.Sprintf(" comment %q", r.Tag)
		}
		if !ok || nftText != want {
			t.Errorf("%s rule %d: nft prints %q, Rules says %q", r.Chain, r.Handle, nftText, want)
		}
	}
}

func TestReadDNSRedirect(t *testing.T) {
	tb := testTable(t)
	if _, ok, err := ReadDNSRedirect(tb.netns); ok || err != nil {
		t.Fatalf("no table: %v %v", ok, err)
	}
	if err := RedirectDNS(tb.netns, netip.MustParseAddr("127.0.0.11"), 40001, 40002); err != nil {
		t.Fatal(err)
	}
	d, ok, err := ReadDNSRedirect(tb.netns)
	if err != nil || !ok || d != (DNSRedirect{Resolver: netip.MustParseAddr("127.0.0.11"), UDPPort: 40001, TCPPort: 40002}) {
		t.Errorf("%+v %v %v", d, ok, err)
	}
}

// One reading of the table gives the ports Ports lists, and the rules Rules
// lists.
func TestRulesetPorts(t *testing.T) {
	tb := testTable(t)
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddNetwork(Network{Bridge: "hutch-a", Subnet: netip.MustParsePrefix("10.210.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddPorts([]Port{
		{HostPort: 9000, Proto: "udp", ContainerIP: netip.MustParseAddr("10.210.0.3"), ContainerPort: 53},
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, Proto: "tcp", ContainerIP: netip.MustParseAddr("10.210.0.2"), ContainerPort: 80},
	}); err != nil {
		t.Fatal(err)
	}
	rs, err := tb.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rs.Ports()
	want, werr := tb.Ports()
	if err != nil || werr != nil || len(got) != 2 || !reflect.DeepEqual(got, want) {
		t.Errorf("Ruleset.Ports = %+v, %v; Table.Ports = %+v, %v", got, err, want, werr)
	}
	rules, err := tb.Rules()
	if err != nil || !reflect.DeepEqual(rs.Rules(), rules) || len(rules) != 16 {
		t.Errorf("Ruleset.Rules: %d rules, Table.Rules: %d, %v", len(rs.Rules()), len(rules), err)
	}
}
