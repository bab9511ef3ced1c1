package nft

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// RedirectDNS sends the container's queries for port 53 of resolver (the
// embedded resolver's 127.0.0.11) to the ports the resolver really listens
// on, with a table of its own inside the container's network namespace
// (netns, an open fd). So the resolver never holds port 53 there, and a
// process in the container may. The table goes with the namespace.
//
//	table ip hutch-dns {
//		chain output { type nat hook output priority -100; policy accept;
//			ip daddr 127.0.0.11 udp dport 53 dnat ip to 127.0.0.11:UDPPORT
//			ip daddr 127.0.0.11 tcp dport 53 dnat ip to 127.0.0.11:TCPPORT }
//	}
//
// Replies need no rule: conntrack turns their source back into port 53.
func RedirectDNS(netns int, resolver netip.Addr, udpPort, tcpPort uint16) error {
	t := Table{Name: "hutch-dns", netns: netns}
	return t.with(func(c *nftables.Conn) error {
		tbl := c.AddTable(ipTable(t.Name))
		accept := nftables.ChainPolicyAccept
		ch := c.AddChain(&nftables.Chain{Table: tbl, Name: "output", Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
		c.FlushChain(ch) // a resolver started again may move the ports: replace, never add
		for _, r := range redirectDNSRules(resolver, udpPort, tcpPort) {
			c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: r})
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("redirect dns in the container: %w", err)
		}
		return nil
	})
}

// redirectDNSRules: ip daddr RESOLVER PROTO dport 53 dnat ip to RESOLVER:PORT,
// for udp and tcp.
func redirectDNSRules(resolver netip.Addr, udpPort, tcpPort uint16) [][]expr.Any {
	addr := resolver.As4()
	rule := func(proto byte, port uint16) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: regFirst, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: regFirst, Data: addr[:]},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regFirst},
			&expr.Cmp{Op: expr.CmpOpEq, Register: regFirst, Data: []byte{proto}},
			&expr.Payload{DestRegister: regFirst, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: regFirst, Data: binaryutil.BigEndian.PutUint16(53)},
			&expr.Immediate{Register: regFirst, Data: addr[:]},
			&expr.Immediate{Register: regSecond, Data: binaryutil.BigEndian.PutUint16(port)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: regFirst, RegProtoMin: regSecond},
		}
	}
	return [][]expr.Any{rule(unix.IPPROTO_UDP, udpPort), rule(unix.IPPROTO_TCP, tcpPort)}
}
