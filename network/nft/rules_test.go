package nft

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// These tests need no kernel: they check what the builders produce.

func TestElementBytes(t *testing.T) {
	tcp := Port{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, Proto: "tcp",
		ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 80}
	udp := Port{HostPort: 53, Proto: "udp", ContainerIP: netip.MustParseAddr("172.18.0.3"), ContainerPort: 5353}
	tests := []struct {
		name      string
		p         Port
		wantMap   string
		key, data []byte
	}{
		{"one address", tcp, mapAddr,
			[]byte{127, 0, 0, 1, 6, 0, 0, 0, 0x1f, 0x90, 0, 0}, []byte{172, 18, 0, 2, 0, 80, 0, 0}},
		{"every address", udp, mapAny,
			[]byte{17, 0, 0, 0, 0, 53, 0, 0}, []byte{172, 18, 0, 3, 0x14, 0xe9, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, e := element(tt.p, true)
			if m != tt.wantMap || !bytes.Equal(e.Key, tt.key) || !bytes.Equal(e.Val, tt.data) {
				t.Errorf("element() = %s, % x : % x, want %s, % x : % x", m, e.Key, e.Val, tt.wantMap, tt.key, tt.data)
			}
			set := map[string]*nftables.Set{mapAddr: addrMap(nil), mapAny: anyMap(nil)}[m]
			if len(e.Key) != int(set.KeyType.Bytes) || len(e.Val) != int(set.DataType.Bytes) {
				t.Errorf("element is %d:%d bytes, map %s wants %d:%d", len(e.Key), len(e.Val), m, set.KeyType.Bytes, set.DataType.Bytes)
			}
			if got, err := portOf(m, e); err != nil || got != tt.p {
				t.Errorf("portOf(element(p)) = %+v, %v, want %+v", got, err, tt.p)
			}
			if _, e := element(tt.p, false); e.Val != nil || !bytes.Equal(e.Key, tt.key) {
				t.Errorf("element(p, false) = % x : % x, want the key only", e.Key, e.Val)
			}
		})
	}
	if _, err := portOf(mapAny, nftables.SetElement{Key: []byte{6}, Val: make([]byte, 8)}); err == nil {
		t.Error("portOf accepted a 1-byte key")
	}
}

func TestPortCheck(t *testing.T) {
	ctr := netip.MustParseAddr("172.18.0.2")
	base := Port{HostPort: 80, Proto: "tcp", ContainerIP: ctr, ContainerPort: 80}
	with := func(f func(p *Port)) Port { p := base; f(&p); return p }
	tests := []struct {
		name    string
		p, want Port
		err     string
	}{
		{name: "every address", p: base, want: base},
		{name: "0.0.0.0 is every address", p: with(func(p *Port) { p.HostIP = netip.IPv4Unspecified() }), want: base},
		{name: "mapped addresses unmapped",
			p: with(func(p *Port) {
				p.HostIP = netip.MustParseAddr("::ffff:127.0.0.1")
				p.ContainerIP = netip.MustParseAddr("::ffff:172.18.0.2")
			}),
			want: with(func(p *Port) { p.HostIP = netip.MustParseAddr("127.0.0.1") })},
		{name: "IPv6 host", p: with(func(p *Port) { p.HostIP = netip.MustParseAddr("::1") }), err: "not IPv4"},
		{name: "no container", p: with(func(p *Port) { p.ContainerIP = netip.Addr{} }), err: "not IPv4"},
		{name: "sctp", p: with(func(p *Port) { p.Proto = "sctp" }), err: "want tcp or udp"},
		{name: "port 0", p: with(func(p *Port) { p.ContainerPort = 0 }), err: "port 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.check()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("check() error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("check() = %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestClashes(t *testing.T) {
	ctr := netip.MustParseAddr("172.18.0.2")
	lo, other := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.0.1")
	port := func(host netip.Addr, n uint16, proto string) Port {
		return Port{HostIP: host, HostPort: n, Proto: proto, ContainerIP: ctr, ContainerPort: 80}
	}
	published := []Port{port(lo, 8080, "tcp"), port(netip.Addr{}, 53, "udp")}
	tests := []struct {
		name string
		ps   []Port
		want string // "" for no clash, else the port named
	}{
		{"free", []Port{port(lo, 8081, "tcp"), port(lo, 8080, "udp"), port(other, 8080, "tcp")}, ""},
		{"same address", []Port{port(lo, 8080, "tcp")}, "127.0.0.1:8080/tcp"},
		{"every address over one", []Port{port(netip.Addr{}, 8080, "tcp")}, "0.0.0.0:8080/tcp"},
		{"one address under every", []Port{port(other, 53, "udp")}, "10.0.0.1:53/udp"},
		{"twice in the request", []Port{port(other, 9, "tcp"), port(other, 9, "tcp")}, "10.0.0.1:9/tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := clashes(published, tt.ps)
			if tt.want == "" {
				if err != nil {
					t.Errorf("clashes() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrPortPublished) || !strings.HasPrefix(err.Error(), "publish "+tt.want+": ") {
				t.Errorf("clashes() = %v, want ErrPortPublished naming %s", err, tt.want)
			}
		})
	}
}

func TestNetworkCheck(t *testing.T) {
	sub := netip.MustParsePrefix("172.18.0.0/16")
	for _, n := range []Network{
		{Bridge: "", Subnet: sub},
		{Bridge: "sixteen-bytes-xx", Subnet: sub},
		{Bridge: "br0"},
		{Bridge: "br0", Subnet: netip.MustParsePrefix("fd00::/64")},
		{Bridge: "br0", Subnet: netip.MustParsePrefix("0.0.0.0/0")},
	} {
		if _, err := n.check(); err == nil {
			t.Errorf("check(%+v) = nil, want an error", n)
		}
	}
	got, err := Network{Bridge: "fifteen-bytes-x", Subnet: netip.MustParsePrefix("172.18.0.1/16")}.check()
	if err != nil || got.Subnet != sub {
		t.Errorf("check() = %+v, %v, want subnet %s", got, err, sub)
	}
}

// The DNAT rules load the key into registers 1, 9 (and 10) as nft does,
// and NAT to the address and port the lookup leaves in registers 1 and 9.
func TestDNATRegisters(t *testing.T) {
	tbl := ipTable("t")
	nat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9}
	byAddr := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: "publish_addr", SetID: 1, DestRegister: 1, IsDestRegSet: true},
		nat,
	}
	if got := dnatByAddr(addrMap(tbl)); !reflect.DeepEqual(got, byAddr) {
		t.Errorf("dnatByAddr() = %s, want %s", dump(got), dump(byAddr))
	}
	byAny := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: "publish_any", SetID: 2, DestRegister: 1, IsDestRegSet: true},
		nat,
	}
	if got := dnatByAny(anyMap(tbl)); !reflect.DeepEqual(got, byAny) {
		t.Errorf("dnatByAny() = %s, want %s", dump(got), dump(byAny))
	}
}

func TestSaddrIn(t *testing.T) {
	zero := make([]byte, 4)
	tests := []struct {
		prefix string
		want   []expr.Any
	}{
		{"127.0.0.0/8", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127}},
		}},
		{"172.18.0.0/16", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{172, 18}},
		}},
		{"10.90.16.0/20", []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 240, 0}, Xor: zero},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 90, 16, 0}},
		}},
	}
	for _, tt := range tests {
		if got := saddrIn(netip.MustParsePrefix(tt.prefix)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("saddrIn(%s) = %s, want %s", tt.prefix, dump(got), dump(tt.want))
		}
	}
}

func TestDaddrIn(t *testing.T) {
	want := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127}},
	}
	if got := daddrIn(netip.MustParsePrefix("127.0.0.0/8")); !reflect.DeepEqual(got, want) {
		t.Errorf("daddrIn(127.0.0.0/8) = %s, want %s", dump(got), dump(want))
	}
}

// iifname != "lo" ip daddr 127.0.0.0/8 drop, first in the table, in a
// filter chain hooked at prerouting before the DNAT.
func TestDropRemoteLoopback(t *testing.T) {
	lo := make([]byte, 16)
	copy(lo, "lo")
	want := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: lo},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127}},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
	tbl := ipTable("t")
	rs := baseRules(addrMap(tbl), anyMap(tbl))
	if rs[0].chain != chainRaw || !reflect.DeepEqual(rs[0].exprs, want) {
		t.Errorf("first base rule = %s:%s, want %s:%s", rs[0].chain, dump(rs[0].exprs), chainRaw, dump(want))
	}
	var raw, dnat *nftables.Chain
	for _, ch := range chains(tbl) {
		switch ch.Name {
		case chainRaw:
			raw = ch
		case chainPrerouting:
			dnat = ch
		}
	}
	if raw == nil || raw.Type != nftables.ChainTypeFilter || *raw.Hooknum != *nftables.ChainHookPrerouting ||
		*raw.Priority >= *dnat.Priority || *raw.Policy != nftables.ChainPolicyAccept {
		t.Errorf("chain %s = %+v, want a filter chain at prerouting before %s (priority %d), policy accept", chainRaw, raw, chainPrerouting, *dnat.Priority)
	}
}

func TestNetworkRules(t *testing.T) {
	n := Network{Bridge: "br0", Subnet: netip.MustParsePrefix("172.18.0.0/16")}
	name := make([]byte, 16)
	copy(name, "br0")
	iif := []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name}}
	oif := []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name}}
	notOif := []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name}}
	dnatted := []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(0x20), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
	masq, accept, drop := &expr.Masq{}, &expr.Verdict{Kind: expr.VerdictAccept}, &expr.Verdict{Kind: expr.VerdictDrop}

	want := []chainRule{
		{chainPostrouting, concat(saddrIn(n.Subnet), notOif, []expr.Any{masq})},
		{chainPostrouting, concat(saddrIn(n.Subnet), oif, dnatted, []expr.Any{masq})},
		{chainIsolate, concat(iif, oif, []expr.Any{accept})},
		{chainIsolate, concat(oif, []expr.Any{drop})},
		{chainOutbound, concat(iif, []expr.Any{accept})},
	}
	if got := networkRules(n); !reflect.DeepEqual(got, want) {
		t.Errorf("networkRules(%+v) =\n%s\nwant\n%s", n, dumpRules(got), dumpRules(want))
	}
	n.Internal = true
	want = append(want[1:4], chainRule{chainInternal, concat(iif, notOif, []expr.Any{drop})})
	if got := networkRules(n); !reflect.DeepEqual(got, want) {
		t.Errorf("networkRules(%+v) =\n%s\nwant\n%s", n, dumpRules(got), dumpRules(want))
	}
}

func TestTag(t *testing.T) {
	if got, want := tagData("br0"), []byte("\x00\x04br0\x00"); !bytes.Equal(got, want) {
		t.Errorf("tagData(br0) = %q, want %q (nft's comment)", got, want)
	}
	for _, tt := range []struct {
		ud   []byte
		want string
	}{
		{tagData("hutch0"), "hutch0"},
		{append([]byte{7, 1, 0}, tagData("br0")...), "br0"}, // after another TLV
		{nil, ""},
		{[]byte{0, 9, 'b', 'r'}, ""}, // too short: no panic
		{[]byte{1, 0}, ""},
	} {
		if got := tagOf(tt.ud); got != tt.want {
			t.Errorf("tagOf(%q) = %q, want %q", tt.ud, got, tt.want)
		}
	}
}

func TestForwardDrop(t *testing.T) {
	drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
	chain := func(fam nftables.TableFamily, table string, hook *nftables.ChainHook, policy *nftables.ChainPolicy) *nftables.Chain {
		return &nftables.Chain{Table: &nftables.Table{Family: fam, Name: table}, Name: "c", Hooknum: hook, Policy: policy}
	}
	tests := []struct {
		ch   *nftables.Chain
		want string
	}{
		{chain(nftables.TableFamilyIPv4, "filter", nftables.ChainHookForward, &drop), "table ip filter chain c"},
		{chain(nftables.TableFamilyINet, "hutch", nftables.ChainHookForward, &drop), "table inet hutch chain c"},
		{chain(nftables.TableFamilyIPv4, "hutch", nftables.ChainHookForward, &drop), ""}, // ours
		{chain(nftables.TableFamilyIPv4, "filter", nftables.ChainHookForward, &accept), ""},
		{chain(nftables.TableFamilyIPv4, "filter", nftables.ChainHookInput, &drop), ""},
		{chain(nftables.TableFamilyIPv4, "filter", nil, nil), ""}, // a regular chain
		{chain(nftables.TableFamilyIPv6, "filter", nftables.ChainHookForward, &drop), ""},
		{chain(nftables.TableFamilyBridge, "filter", nftables.ChainHookForward, &drop), ""},
	}
	for _, tt := range tests {
		got, ok := forwardDrop(tt.ch, "hutch")
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("forwardDrop(%s %s) = %q, %v, want %q", familyOf(tt.ch), tt.ch.Table.Name, got, ok, tt.want)
		}
	}
}

func familyOf(ch *nftables.Chain) string {
	return map[nftables.TableFamily]string{
		nftables.TableFamilyIPv4: "ip", nftables.TableFamilyIPv6: "ip6",
		nftables.TableFamilyINet: "inet", nftables.TableFamilyBridge: "bridge",
	}[ch.Table.Family]
}

func dump(es []expr.Any) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "\n\t%T%+v", e, e)
	}
	return b.String()
}

func dumpRules(rs []chainRule) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.chain + ":" + dump(r.exprs) + "\n")
	}
	return b.String()
}
