package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Text writes a rule's expressions as nft(8) lists them, for the
// expression shapes hutch's tables use (rules.go, dns.go); any other comes
// out as <TYPE>, so a rule someone else added still shows, if roughly. It
// follows the registers: a load names what a register holds, a cmp or a
// lookup prints the match on it. It reads what the kernel returns, so what
// it prints is what runs. A rule's comment is not among its expressions
// (see Rule.Listed).
func Text(es []expr.Any) string {
	var out []string
	held := map[uint32]field{} // by register
	var loaded []uint32        // registers loaded since the last use, in order
	load := func(reg uint32, f field) {
		held[reg] = f
		loaded = append(loaded, reg)
	}
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Counter:
			out = append(out, "counter")
		case *expr.Meta:
			load(e.Register, metaField(e.Key))
		case *expr.Payload:
			load(e.DestRegister, payloadField(e))
		case *expr.Ct:
			name := "ct state"
			if e.Key == expr.CtKeySTATUS {
				name = "ct status"
			} else if e.Key != expr.CtKeySTATE {
				name = fmt.Sprintf("ct <key %d>", e.Key)
			}
			load(e.Register, field{name: name, kind: kindBits})
		case *expr.Fib:
			load(e.Register, field{name: "fib daddr type", kind: kindAddrType})
		case *expr.Bitwise:
			f := held[e.SourceRegister]
			f.mask = e.Mask
			held[e.DestRegister] = f
		case *expr.Cmp:
			out = append(out, held[e.Register].match(e.Op, e.Data))
			loaded = nil
		case *expr.Lookup:
			var names []string
			for _, reg := range loaded {
				names = append(names, held[reg].name)
			}
			key := strings.Join(names, " . ")
			op := ""
			if e.Invert {
				op = "!= "
			}
			if e.IsDestRegSet {
				held[e.DestRegister] = field{name: key + " map @" + e.SetName}
			} else {
				out = append(out, key+" "+op+"@"+e.SetName)
			}
			loaded = nil
		case *expr.Immediate:
			held[e.Register] = field{name: "", imm: e.Data}
		case *expr.NAT:
			out = append(out, natText(e, held))
		case *expr.Masq:
			out = append(out, "masquerade")
		case *expr.Verdict:
			out = append(out, VerdictText(*e))
		default:
			out = append(out, fmt.Sprintf("<%T>", e))
		}
	}
	return strings.Join(out, " ")
}

type fieldKind int

const (
	kindRaw fieldKind = iota
	kindIfname
	kindAddr
	kindProto
	kindPort
	kindBits
	kindAddrType
)

// field is what a register holds, for printing.
type field struct {
	name string
	kind fieldKind
	mask []byte // a bitwise and applied to it
	imm  []byte // an immediate value
}

func metaField(k expr.MetaKey) field {
	switch k {
	case expr.MetaKeyIIFNAME:
		return field{name: "iifname", kind: kindIfname}
	case expr.MetaKeyOIFNAME:
		return field{name: "oifname", kind: kindIfname}
	case expr.MetaKeyL4PROTO:
		return field{name: "meta l4proto", kind: kindProto}
	}
	return field{name: fmt.Sprintf("meta <key %d>", k)}
}

func payloadField(e *expr.Payload) field {
	switch {
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 12:
		return field{name: "ip saddr", kind: kindAddr}
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 16:
		return field{name: "ip daddr", kind: kindAddr}
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 0:
		return field{name: "th sport", kind: kindPort}
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2:
		return field{name: "th dport", kind: kindPort}
	}
	return field{name: fmt.Sprintf("@payload(%d,%d,%d)", e.Base, e.Offset, e.Len)}
}

// match prints `NAME [!=] VALUE` as nft does.
func (f field) match(op expr.CmpOp, data []byte) string {
	ops := map[expr.CmpOp]string{expr.CmpOpEq: "", expr.CmpOpNeq: "!= ", expr.CmpOpLt: "< ",
		expr.CmpOpLte: "<= ", expr.CmpOpGt: "> ", expr.CmpOpGte: ">= "}
	o := ops[op]
	switch f.kind {
	case kindIfname:
		return fmt.Sprintf("%s %s%q", f.name, o, strings.TrimRight(string(data), "\x00"))
	case kindAddr:
		var a [4]byte
		copy(a[:], data)
		bits := len(data) * 8
		if len(f.mask) == 4 {
			bits = 0
			for _, b := range f.mask {
				for ; b != 0; b <<= 1 {
					bits++
				}
			}
		}
		p := netip.PrefixFrom(netip.AddrFrom4(a), bits)
		if bits == 32 {
			return fmt.Sprintf("%s %s%s", f.name, o, p.Addr())
		}
		return fmt.Sprintf("%s %s%s", f.name, o, p)
	case kindProto:
		if len(data) == 1 {
			return fmt.Sprintf("%s %s%s", f.name, o, ProtoName(data[0]))
		}
	case kindPort:
		if len(data) == 2 {
			return fmt.Sprintf("%s %s%d", f.name, o, binary.BigEndian.Uint16(data))
		}
	case kindBits:
		// `ct state established,related`: (x & bits) != 0
		if len(f.mask) == 4 && op == expr.CmpOpNeq && binaryutil.NativeEndian.Uint32(data) == 0 {
			return f.name + " " + bitsText(f.name, binaryutil.NativeEndian.Uint32(f.mask))
		}
	case kindAddrType:
		if len(data) == 4 {
			return fmt.Sprintf("%s %s%s", f.name, o, RouteTypeName(binaryutil.NativeEndian.Uint32(data)))
		}
	}
	return fmt.Sprintf("%s %s0x%x", f.name, o, data)
}

func bitsText(name string, mask uint32) string {
	var names []string
	if name == "ct state" {
		for _, b := range []struct {
			bit  uint32
			name string
		}{{expr.CtStateBitINVALID, "invalid"}, {expr.CtStateBitESTABLISHED, "established"},
			{expr.CtStateBitRELATED, "related"}, {expr.CtStateBitNEW, "new"}, {expr.CtStateBitUNTRACKED, "untracked"}} {
			if mask&b.bit != 0 {
				names = append(names, b.name)
			}
		}
	} else if mask == IPSDstNAT {
		names = append(names, "dnat")
	} else if mask == 1<<4 {
		names = append(names, "snat")
	}
	if len(names) == 0 {
		return fmt.Sprintf("0x%x", mask)
	}
	return strings.Join(names, ",")
}

// RouteTypeName names a route type (unix.RTN_*) as nft and ip do.
func RouteTypeName(t uint32) string {
	switch t {
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_UNICAST:
		return "unicast"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	}
	return fmt.Sprint(t)
}

// natText prints a dnat: to a map lookup's result, or to immediates.
func natText(e *expr.NAT, held map[uint32]field) string {
	if e.Type != expr.NATTypeDestNAT {
		return "snat <...>"
	}
	a := held[e.RegAddrMin]
	if a.imm == nil {
		return "dnat ip to " + a.name
	}
	s := "dnat ip to "
	if len(a.imm) >= 4 {
		s += netip.AddrFrom4([4]byte(a.imm[:4])).String()
	}
	if p := held[e.RegProtoMin].imm; len(p) >= 2 {
		s += fmt.Sprintf(":%d", binary.BigEndian.Uint16(p))
	}
	return s
}

// VerdictText is a verdict as nft prints it.
func VerdictText(v expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictJump:
		return "jump " + v.Chain
	case expr.VerdictGoto:
		return "goto " + v.Chain
	case expr.VerdictContinue:
		return "continue"
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}
