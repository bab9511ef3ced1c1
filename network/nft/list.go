package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Rule is one rule of the table as the kernel holds it: its chain, its
// handle (what `nft -a list table ip hutch` shows), its tag (the bridge of
// the network it belongs to, "" for the table's base rules) and its text in
// nft's syntax, decoded from the kernel's expressions (see Text).
type Rule struct {
	Chain  string `json:"chain"`
	Handle uint64 `json:"handle"`
	Tag    string `json:"tag,omitempty"`
	Text   string `json:"rule"`
}

// Rules lists every rule of the table, chain by chain in the table's order;
// none if the table is missing.
func (t Table) Rules() (rs []Rule, err error) {
	err = t.with(func(c *nftables.Conn) error {
		if ok, err := t.exists(c); err != nil || !ok {
			return err
		}
		tbl := ipTable(t.Name)
		for _, ch := range chains(tbl) {
			got, err := c.GetRules(tbl, ch)
			if errors.Is(err, unix.ENOENT) {
				continue // an older table without this chain
			}
			if err != nil {
				return fmt.Errorf("list rules of chain %s: %w", ch.Name, err)
			}
			for _, r := range got {
				rs = append(rs, Rule{Chain: ch.Name, Handle: r.Handle, Tag: tagOf(r.UserData), Text: Text(r.Exprs)})
			}
		}
		return nil
	})
	return rs, err
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
	t := Table{Name: "hutch-dns", netns: netns}
	err = t.with(func(c *nftables.Conn) error {
		if found, err := t.exists(c); err != nil || !found {
			return err
		}
		tbl := ipTable(t.Name)
		rs, err := c.GetRules(tbl, &nftables.Chain{Table: tbl, Name: "output"})
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list rules of table ip hutch-dns: %w", err)
		}
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
		return nil
	})
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

// Text writes a rule's expressions in nft's syntax, for the expressions
// hutch's rules are made of (rules.go); any other comes out as its type in
// angle brackets, so a rule someone else added still shows, if roughly.
// It reads what the kernel returns, so what it prints is what runs.
func Text(es []expr.Any) string {
	var out []string
	var pending string  // the left side loaded into a register
	var mask []byte     // a bitwise mask on it, waiting for its cmp
	var concat []string // a concatenation being loaded for a lookup
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Payload:
			s := payloadName(e)
			if pending != "" && e.DestRegister != regFirst {
				concat = append(concat, s)
				continue
			}
			pending, mask, concat = s, nil, []string{s}
		case *expr.Meta:
			s := metaName(e.Key)
			if pending != "" && e.Register != regFirst {
				concat = append(concat, s)
				continue
			}
			pending, mask, concat = s, nil, []string{s}
		case *expr.Ct:
			pending, mask, concat = ctName(e.Key), nil, nil
		case *expr.Fib:
			pending, mask, concat = "fib daddr type", nil, nil
		case *expr.Bitwise:
			mask = e.Mask
		case *expr.Cmp:
			out = append(out, cmpText(pending, mask, e))
			pending, mask, concat = "", nil, nil
		case *expr.Lookup:
			pending = strings.Join(concat, " . ") + " map @" + e.SetName
			concat = nil
		case *expr.NAT:
			if e.Type == expr.NATTypeDestNAT && pending != "" {
				out = append(out, "dnat ip to "+pending)
			} else {
				out = append(out, natName(e.Type))
			}
			pending = ""
		case *expr.Masq:
			out = append(out, "masquerade")
		case *expr.Immediate:
			// the operands of a NAT to a fixed address (hutch-dns)
		case *expr.Verdict:
			out = append(out, verdictText(e))
		default:
			out = append(out, fmt.Sprintf("<%T>", e))
		}
	}
	return strings.Join(out, " ")
}

func payloadName(p *expr.Payload) string {
	switch {
	case p.Base == expr.PayloadBaseNetworkHeader && p.Offset == 12:
		return "ip saddr"
	case p.Base == expr.PayloadBaseNetworkHeader && p.Offset == 16:
		return "ip daddr"
	case p.Base == expr.PayloadBaseTransportHeader && p.Offset == 2:
		return "th dport"
	case p.Base == expr.PayloadBaseTransportHeader && p.Offset == 0:
		return "th sport"
	}
	return fmt.Sprintf("@payload(%d,%d,%d)", p.Base, p.Offset, p.Len)
}

func metaName(k expr.MetaKey) string {
	switch k {
	case expr.MetaKeyIIFNAME:
		return "iifname"
	case expr.MetaKeyOIFNAME:
		return "oifname"
	case expr.MetaKeyL4PROTO:
		return "meta l4proto"
	}
	return fmt.Sprintf("meta %d", k)
}

func ctName(k expr.CtKey) string {
	switch k {
	case expr.CtKeySTATE:
		return "ct state"
	case expr.CtKeySTATUS:
		return "ct status"
	}
	return fmt.Sprintf("ct %d", k)
}

func natName(t expr.NATType) string {
	if t == expr.NATTypeDestNAT {
		return "dnat"
	}
	return "snat"
}

func verdictText(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictJump:
		return "jump " + v.Chain
	case expr.VerdictGoto:
		return "goto " + v.Chain
	case expr.VerdictReturn:
		return "return"
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}

// cmpText is one comparison of left (with mask applied) against c's data.
func cmpText(left string, mask []byte, c *expr.Cmp) string {
	op := ""
	if c.Op == expr.CmpOpNeq {
		op = "!= "
	}
	switch left {
	case "iifname", "oifname":
		return left + " " + op + strconv.Quote(strings.TrimRight(string(c.Data), "\x00"))
	case "ip saddr", "ip daddr":
		return left + " " + op + prefixText(mask, c.Data)
	case "ct state", "ct status":
		return left + " " + bitsText(left, mask)
	case "fib daddr type":
		if len(c.Data) == 4 && binary.NativeEndian.Uint32(c.Data) == unix.RTN_LOCAL {
			return left + " " + op + "local"
		}
	case "meta l4proto":
		if len(c.Data) == 1 {
			return left + " " + op + protoName(c.Data[0])
		}
	case "th dport", "th sport":
		if len(c.Data) == 2 {
			return left + " " + op + strconv.Itoa(int(binary.BigEndian.Uint16(c.Data)))
		}
	}
	return fmt.Sprintf("%s %s%x", left, op, c.Data)
}

// prefixText is an address match: data is the whole-byte prefix nft
// compares, or the address under mask.
func prefixText(mask, data []byte) string {
	var a [4]byte
	copy(a[:], data)
	bits := 8 * len(data)
	if len(mask) == 4 {
		bits = 0
		for m := binary.BigEndian.Uint32(mask); m != 0; m <<= 1 {
			bits++
		}
	}
	if bits == 32 {
		return netip.AddrFrom4(a).String()
	}
	return netip.PrefixFrom(netip.AddrFrom4(a), bits).String()
}

// bitsText names the conntrack bits a `ct state`/`ct status` match tests.
func bitsText(key string, mask []byte) string {
	if len(mask) != 4 {
		return "?"
	}
	m := binary.NativeEndian.Uint32(mask)
	if key == "ct status" {
		if m == ipsDstNAT {
			return "dnat"
		}
		return fmt.Sprintf("0x%x", m)
	}
	var names []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{expr.CtStateBitINVALID, "invalid"}, {expr.CtStateBitESTABLISHED, "established"},
		{expr.CtStateBitRELATED, "related"}, {expr.CtStateBitNEW, "new"}} {
		if m&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	return strings.Join(names, ",")
}
