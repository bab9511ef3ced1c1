package nft

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Rule is one rule of a table as the kernel holds it: its chain, its
// handle (what `nft -a list table ip hutch` shows), its tag (the comment:
// the bridge of the network it belongs to, "" for the table's base rules),
// its text in nft's syntax, decoded from the kernel's expressions (see
// Text), and the expressions themselves (what network trace evaluates).
type Rule struct {
	Chain  string     `json:"chain"`
	Handle uint64     `json:"handle"`
	Tag    string     `json:"tag,omitempty"`
	Text   string     `json:"rule"`
	Exprs  []expr.Any `json:"-"`
}

// DNSRedirect is the hutch-dns table of a container's namespace: where its
// queries to port 53 of the resolver go.
type DNSRedirect struct {
	Resolver netip.Addr `json:"resolver"`
	UDPPort  uint16     `json:"udpPort"`
	TCPPort  uint16     `json:"tcpPort"`
}

// ReadDNSRedirect reads the table RedirectDNS made in the namespace netns
// (an open fd); ok is false if there is none.
func ReadDNSRedirect(netns int) (d DNSRedirect, ok bool, err error) {
	rs, err := DNSRules(netns)
	for _, r := range rs {
		if dr, proto, found := redirectOf(r.Exprs); found {
			ok = true
			d.Resolver = dr.Resolver
			if proto == unix.IPPROTO_UDP {
				d.UDPPort = dr.UDPPort
			} else {
				d.TCPPort = dr.UDPPort
			}
		}
	}
	return d, ok, err
}

// redirectOf decodes one rule of redirectDNSRules: the address and port it
// DNATs to (in UDPPort) and the protocol it matches.
func redirectOf(es []expr.Any) (d DNSRedirect, proto byte, ok bool) {
	var imms [][]byte
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Cmp:
			if len(e.Data) == 1 {
				proto = e.Data[0]
			}
		case *expr.Immediate:
			imms = append(imms, e.Data)
		case *expr.NAT:
			ok = true
		}
	}
	if !ok || len(imms) != 2 || len(imms[0]) != 4 || len(imms[1]) != 2 {
		return d, 0, false
	}
	d.Resolver = netip.AddrFrom4([4]byte(imms[0]))
	d.UDPPort = binary.BigEndian.Uint16(imms[1])
	return d, proto, true
}
