package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// This file builds the table's objects, rules and map elements. It is pure:
// nothing here talks to the kernel, so tests check it without one. Each
// builder carries the nft syntax it is equivalent to.

// Names of the objects in the table.
const (
	chainRaw         = "raw_prerouting"
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPublish     = "publish"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
	chainInternal    = "internal"
	chainIsolate     = "isolate"
	chainOutbound    = "outbound"
	mapAddr          = "publish_addr"
	mapAny           = "publish_any"
)

// Registers. A concatenation is loaded into consecutive 32-bit registers,
// each field padded to 4 bytes; the first is named by its 16-byte register
// (NFT_REG_1 is NFT_REG32_00..03), the following ones by their own number,
// exactly as nft does it. A map lookup writes its data the same way, so the
// address of `ipv4_addr . inet_service` data lands in register 1 and the
// port in register 9.
const (
	regFirst  = unix.NFT_REG_1
	regSecond = unix.NFT_REG32_01
	regThird  = unix.NFT_REG32_02
)

// Map key and data types.
var (
	addrKeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	anyKeyType  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	targetType  = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
)

func ipTable(name string) *nftables.Table {
	return &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
}

// The maps carry fixed transaction ids, by which rules in the batch that
// makes them refer to them; so google/nftables never touches its global,
// unsynchronised id counter either.

// map publish_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
func addrMap(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, ID: 1, Name: mapAddr, IsMap: true, KeyType: addrKeyType, DataType: targetType}
}

// map publish_any { type inet_proto . inet_service : ipv4_addr . inet_service; }
func anyMap(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, ID: 2, Name: mapAny, IsMap: true, KeyType: anyKeyType, DataType: targetType}
}

// chains lists the table's chains in the order Ensure makes (and nft lists)
// them.
func chains(t *nftables.Table) []*nftables.Chain {
	accept := nftables.ChainPolicyAccept
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Table: t, Name: name, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept}
	}
	return []*nftables.Chain{
		base(chainRaw, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw),
		base(chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest),
		base(chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest),
		{Table: t, Name: chainPublish},
		base(chainPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
		base(chainForward, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter),
		{Table: t, Name: chainInternal},
		{Table: t, Name: chainIsolate},
		{Table: t, Name: chainOutbound},
	}
}

// A chainRule is one rule and the chain it is appended to.
type chainRule struct {
	chain string
	exprs []expr.Any
}

// baseRules are the rules Ensure adds, in order. The lookups name the maps
// of the same batch.
func baseRules(byAddr, byAny *nftables.Set) []chainRule {
	return []chainRule{
		{chainRaw, dropRemoteLoopback()},
		{chainPrerouting, jumpIfLocal()},
		{chainOutput, jumpIfLocal()},
		{chainPublish, dnatByAddr(byAddr)},
		{chainPublish, dnatByAny(byAny)},
		{chainPostrouting, masqLoopback()},
		{chainForward, acceptEstablished()},
		{chainForward, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainInternal}}},
		{chainForward, concat(ctStatusDNAT(), accept())},
		{chainForward, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainIsolate}}},
		{chainForward, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainOutbound}}},
	}
}

// networkRules are the rules of one network, in order, each tagged (see
// tagOf) with n.Bridge. n must be valid.
func networkRules(n Network) []chainRule {
	var rs []chainRule
	if !n.Internal {
		// ip saddr SUBNET oifname != "BRIDGE" masquerade
		rs = append(rs, chainRule{chainPostrouting, concat(saddrIn(n.Subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), masq())})
	}
	// ip saddr SUBNET oifname "BRIDGE" ct status dnat masquerade: the
	// hairpin. Not `iifname "BRIDGE" oifname "BRIDGE"`: with br_netfilter,
	// a bridged packet reaches postrouting without an input interface.
	rs = append(rs, chainRule{chainPostrouting, concat(saddrIn(n.Subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), ctStatusDNAT(), masq())})
	// iifname "BRIDGE" oifname "BRIDGE" accept
	rs = append(rs, chainRule{chainIsolate, concat(within(n.Bridge), accept())})
	// oifname "BRIDGE" drop
	rs = append(rs, chainRule{chainIsolate, concat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge), drop())})
	if n.Internal {
		// iifname "BRIDGE" oifname != "BRIDGE" drop: before published ports
		// are accepted, so an internal network reaches none of them either.
		rs = append(rs, chainRule{chainInternal, concat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge),
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), drop())})
		return rs
	}
	// iifname "BRIDGE" accept
	rs = append(rs, chainRule{chainOutbound, concat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge), accept())})
	return rs
}

// iifname != "lo" ip daddr 127.0.0.0/8 drop: a loopback destination can only
// come from the host itself, by lo. Arriving on any other interface it is a
// neighbour (or a container) aiming at the host's loopback services and at
// ports published on 127.0.0.1, which the kernel lets through wherever
// route_localnet=1 (hutch's bridges, Docker's and Podman's). In the raw
// chain, before conntrack and the DNAT, as Docker 28 does.
func dropRemoteLoopback() []expr.Any {
	return concat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, "lo"), daddrIn(loopback), drop())
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// fib daddr type local jump publish
func jumpIfLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: regFirst, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regFirst, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chainPublish},
	}
}

// dnat ip to ip daddr . meta l4proto . th dport map @publish_addr
func dnatByAddr(m *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: regFirst, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regSecond},
		&expr.Payload{DestRegister: regThird, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: regFirst, SetName: m.Name, SetID: m.ID, DestRegister: regFirst, IsDestRegSet: true},
		dnatFromLookup(),
	}
}

// dnat ip to meta l4proto . th dport map @publish_any
func dnatByAny(m *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regFirst},
		&expr.Payload{DestRegister: regSecond, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: regFirst, SetName: m.Name, SetID: m.ID, DestRegister: regFirst, IsDestRegSet: true},
		dnatFromLookup(),
	}
}

// dnatFromLookup DNATs to the `ipv4_addr . inet_service` a lookup left in
// registers 1 and 9. Like nft, it sends no flags: the kernel marks the range
// as having a port because a proto register is given.
func dnatFromLookup() *expr.NAT {
	return &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: regFirst, RegProtoMin: regSecond}
}

// ct status dnat ip saddr 127.0.0.0/8 masquerade
func masqLoopback() []expr.Any {
	return concat(ctStatusDNAT(), saddrIn(loopback), masq())
}

// ct state established,related accept
func acceptEstablished() []expr.Any {
	return concat(ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept())
}

// IPSDstNAT is IPS_DST_NAT of enum ip_conntrack_status: the connection is
// DNATed (x/sys/unix does not have it).
const IPSDstNAT = 1 << 5

// ct status dnat
func ctStatusDNAT() []expr.Any { return ctBits(expr.CtKeySTATUS, IPSDstNAT) }

// ctBits matches when any of bits is set in the conntrack key.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: regFirst, Key: key},
		&expr.Bitwise{SourceRegister: regFirst, DestRegister: regFirst, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: regFirst, Data: make([]byte, 4)},
	}
}

// ip saddr PREFIX
func saddrIn(p netip.Prefix) []expr.Any { return addrIn(12, p) }

// ip daddr PREFIX
func daddrIn(p netip.Prefix) []expr.Any { return addrIn(16, p) }

// addrIn matches the address at offset of the IPv4 header against p, as nft
// builds it: a whole-byte prefix compares only its bytes, any other is
// masked first. p must be a masked IPv4 prefix of 1 to 32 bits.
func addrIn(offset uint32, p netip.Prefix) []expr.Any {
	addr := p.Addr().As4()
	bits := p.Bits()
	if bits%8 == 0 {
		return []expr.Any{
			&expr.Payload{DestRegister: regFirst, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: uint32(bits / 8)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: regFirst, Data: addr[:bits/8]},
		}
	}
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-bits))
	return []expr.Any{
		&expr.Payload{DestRegister: regFirst, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: regFirst, DestRegister: regFirst, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regFirst, Data: addr[:]},
	}
}

// iifname "BRIDGE" oifname "BRIDGE"
func within(bridge string) []expr.Any {
	return concat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, bridge), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, bridge))
}

// iifname/oifname ==/!= NAME: an exact match compares all IFNAMSIZ bytes.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: regFirst},
		&expr.Cmp{Op: op, Register: regFirst, Data: data},
	}
}

func masq() []expr.Any   { return []expr.Any{&expr.Masq{}} }
func accept() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
func drop() []expr.Any   { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

func concat(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// A network's rules are tagged with its bridge name, stored as the rule's
// comment (a libnftnl user-data TLV: type 0, length, NUL-terminated text),
// so nft shows it as `comment "BRIDGE"`.
func tagData(bridge string) []byte {
	return append([]byte{0, byte(len(bridge) + 1)}, append([]byte(bridge), 0)...)
}

// tagOf reads the comment of a rule's user data; "" if it has none. It
// checks every length, since anyone may have added rules to the table.
func tagOf(ud []byte) string {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return ""
		}
		if typ == 0 {
			return string(bytes.TrimRight(ud[2:2+n], "\x00"))
		}
		ud = ud[2+n:]
	}
	return ""
}

// Map elements. Each field of a concatenation is padded to 4 bytes; the
// address and ports are in network order, the protocol is one byte:
//
//	publish_addr key   a a a a | p 0 0 0 | P P 0 0    (host addr . proto . host port)
//	publish_any key              p 0 0 0 | P P 0 0    (proto . host port)
//	data (both)        a a a a | P P 0 0              (container addr . port)
//
// The encoders take a valid Port (see Port.check).

func addrKey(p Port) []byte {
	a := p.HostIP.As4()
	return append(a[:], anyKey(p)...)
}

func anyKey(p Port) []byte {
	proto, _ := protoNum(p.Proto)
	return append([]byte{proto, 0, 0, 0}, servicePad(p.HostPort)...)
}

func targetData(p Port) []byte {
	a := p.ContainerIP.As4()
	return append(a[:], servicePad(p.ContainerPort)...)
}

// servicePad is a port as a concatenation field: 2 bytes and 2 of padding.
func servicePad(port uint16) []byte { return append(binary.BigEndian.AppendUint16(nil, port), 0, 0) }

// element returns the map a port goes in and its element there. With
// withData false the element has only its key (what deleting needs).
func element(p Port, withData bool) (mapName string, e nftables.SetElement) {
	if withData {
		e.Val = targetData(p)
	}
	if p.HostIP.IsValid() {
		e.Key = addrKey(p)
		return mapAddr, e
	}
	e.Key = anyKey(p)
	return mapAny, e
}

// portOf decodes an element of the map mapName.
func portOf(mapName string, e nftables.SetElement) (Port, error) {
	var p Port
	key := e.Key
	if mapName == mapAddr {
		if len(key) != 12 {
			return p, fmt.Errorf("%s element key has %d bytes, want 12", mapName, len(key))
		}
		p.HostIP = netip.AddrFrom4([4]byte(key[:4]))
		key = key[4:]
	}
	if len(key) != 8 || len(e.Val) != 8 {
		return p, fmt.Errorf("%s element has %d+%d bytes of key and data, want 8+8", mapName, len(key), len(e.Val))
	}
	p.Proto = ProtoName(key[0])
	p.HostPort = binary.BigEndian.Uint16(key[4:6])
	p.ContainerIP = netip.AddrFrom4([4]byte(e.Val[:4]))
	p.ContainerPort = binary.BigEndian.Uint16(e.Val[4:6])
	return p, nil
}

func protoNum(name string) (byte, bool) {
	switch name {
	case "tcp":
		return unix.IPPROTO_TCP, true
	case "udp":
		return unix.IPPROTO_UDP, true
	}
	return 0, false
}

// ProtoName names a protocol number; one hutch does not publish (someone
// else's element) comes out as its number.
func ProtoName(n byte) string {
	switch n {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	}
	return strconv.Itoa(int(n))
}
