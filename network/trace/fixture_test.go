package trace

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
)

// A fixed ruleset shaped as network/nft/doc.go lays out hutch's table, with
// two networks: n1 (bridge br1, 10.1.0.0/24) and n2 (br2, 10.2.0.0/24), and
// 127.0.0.1:8080/tcp published to 10.1.0.2:80. Built here from expressions,
// as GetRules returns them.

const (
	r1 = unix.NFT_REG_1
	r9 = unix.NFT_REG32_01
	rA = unix.NFT_REG32_02
)

func ifn(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: r1}, &expr.Cmp{Op: op, Register: r1, Data: b}}
}

func addrIn(off uint32, p netip.Prefix) []expr.Any {
	a := p.Addr().As4()
	if p.Bits() == 8 {
		return []expr.Any{
			&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: a[:1]},
		}
	}
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	return []expr.Any{
		&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Bitwise{SourceRegister: r1, DestRegister: r1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: a[:]},
	}
}

func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: r1, Key: key},
		&expr.Bitwise{SourceRegister: r1, DestRegister: r1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: r1, Data: make([]byte, 4)},
	}
}

func verdict(k expr.VerdictKind, chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k, Chain: chain}}
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	net1 = netip.MustParsePrefix("10.1.0.0/24")
	net2 = netip.MustParsePrefix("10.2.0.0/24")
)

func fixtureRuleset() *nft.Ruleset {
	masq := []expr.Any{&expr.Masq{}}
	dnatAddr := []expr.Any{
		&expr.Payload{DestRegister: r1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r9},
		&expr.Payload{DestRegister: rA, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: r1, SetName: "publish_addr", DestRegister: r1, IsDestRegSet: true},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: r1, RegProtoMin: r9},
	}
	dnatAny := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r1},
		&expr.Payload{DestRegister: r9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: r1, SetName: "publish_any", DestRegister: r1, IsDestRegSet: true},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: r1, RegProtoMin: r9},
	}
	jumpLocal := []expr.Any{
		&expr.Fib{Register: r1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: r1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: "publish"},
	}
	rs := &nft.Ruleset{
		Table: "hutch",
		Chains: []*nft.Chain{
			{Name: "raw_prerouting", Hook: "prerouting", Priority: -300, Type: "filter", Policy: "accept", Rules: []nft.Rule{
				{Handle: 12, Exprs: cat(ifn(expr.MetaKeyIIFNAME, expr.CmpOpNeq, "lo"), addrIn(16, netip.MustParsePrefix("127.0.0.0/8")), verdict(expr.VerdictDrop, ""))},
			}},
			{Name: "prerouting", Hook: "prerouting", Priority: -100, Type: "nat", Policy: "accept", Rules: []nft.Rule{{Handle: 13, Exprs: jumpLocal}}},
			{Name: "output", Hook: "output", Priority: -100, Type: "nat", Policy: "accept", Rules: []nft.Rule{{Handle: 14, Exprs: jumpLocal}}},
			{Name: "publish", Rules: []nft.Rule{{Handle: 15, Exprs: dnatAddr}, {Handle: 16, Exprs: dnatAny}}},
			{Name: "postrouting", Hook: "postrouting", Priority: 100, Type: "nat", Policy: "accept", Rules: []nft.Rule{
				{Handle: 17, Exprs: cat(ctBits(expr.CtKeySTATUS, nft.IPSDstNAT), addrIn(12, netip.MustParsePrefix("127.0.0.0/8")), masq)},
				{Handle: 23, Tag: "br1", Exprs: cat(addrIn(12, net1), ifn(expr.MetaKeyOIFNAME, expr.CmpOpNeq, "br1"), masq)},
				{Handle: 24, Tag: "br1", Exprs: cat(addrIn(12, net1), ifn(expr.MetaKeyOIFNAME, expr.CmpOpEq, "br1"), ctBits(expr.CtKeySTATUS, nft.IPSDstNAT), masq)},
				{Handle: 28, Tag: "br2", Exprs: cat(addrIn(12, net2), ifn(expr.MetaKeyOIFNAME, expr.CmpOpNeq, "br2"), masq)},
				{Handle: 29, Tag: "br2", Exprs: cat(addrIn(12, net2), ifn(expr.MetaKeyOIFNAME, expr.CmpOpEq, "br2"), ctBits(expr.CtKeySTATUS, nft.IPSDstNAT), masq)},
			}},
			{Name: "forward", Hook: "forward", Type: "filter", Policy: "accept", Rules: []nft.Rule{
				{Handle: 18, Exprs: cat(ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept, ""))},
				{Handle: 19, Exprs: verdict(expr.VerdictJump, "internal")},
				{Handle: 20, Exprs: cat(ctBits(expr.CtKeySTATUS, nft.IPSDstNAT), verdict(expr.VerdictAccept, ""))},
				{Handle: 21, Exprs: verdict(expr.VerdictJump, "isolate")},
				{Handle: 22, Exprs: verdict(expr.VerdictJump, "outbound")},
			}},
			{Name: "internal"},
			{Name: "isolate", Rules: []nft.Rule{
				{Handle: 25, Tag: "br1", Exprs: cat(ifn(expr.MetaKeyIIFNAME, expr.CmpOpEq, "br1"), ifn(expr.MetaKeyOIFNAME, expr.CmpOpEq, "br1"), verdict(expr.VerdictAccept, ""))},
				{Handle: 26, Tag: "br1", Exprs: cat(ifn(expr.MetaKeyOIFNAME, expr.CmpOpEq, "br1"), verdict(expr.VerdictDrop, ""))},
				{Handle: 30, Tag: "br2", Exprs: cat(ifn(expr.MetaKeyIIFNAME, expr.CmpOpEq, "br2"), ifn(expr.MetaKeyOIFNAME, expr.CmpOpEq, "br2"), verdict(expr.VerdictAccept, ""))},
				{Handle: 31, Tag: "br2", Exprs: cat(ifn(expr.MetaKeyOIFNAME, expr.CmpOpEq, "br2"), verdict(expr.VerdictDrop, ""))},
			}},
			{Name: "outbound", Rules: []nft.Rule{
				{Handle: 27, Tag: "br1", Exprs: cat(ifn(expr.MetaKeyIIFNAME, expr.CmpOpEq, "br1"), verdict(expr.VerdictAccept, ""))},
				{Handle: 32, Tag: "br2", Exprs: cat(ifn(expr.MetaKeyIIFNAME, expr.CmpOpEq, "br2"), verdict(expr.VerdictAccept, ""))},
			}},
		},
		Maps: map[string]nft.Map{
			"publish_addr": {KeyType: "ipv4_addr . inet_proto . inet_service", DataType: "ipv4_addr . inet_service", Elements: []nft.Element{
				{Key: []byte{127, 0, 0, 1, 6, 0, 0, 0, 0x1f, 0x90, 0, 0}, Val: []byte{10, 1, 0, 2, 0, 80, 0, 0}},
			}},
			"publish_any": {KeyType: "inet_proto . inet_service", DataType: "ipv4_addr . inet_service", Elements: []nft.Element{
				{Key: []byte{6, 0, 0, 0, 0x23, 0x28, 0, 0}, Val: []byte{10, 2, 0, 2, 0, 80, 0, 0}}, // tcp 9000 → 10.2.0.2:80
			}},
		},
	}
	// As nft.Table.Ruleset reads them: each rule knows its chain and text.
	for _, c := range rs.Chains {
		for i := range c.Rules {
			c.Rules[i].Chain, c.Rules[i].Text = c.Name, nft.Text(c.Rules[i].Exprs)
		}
	}
	return rs
}
