package trace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
)

// This file evaluates the rules the kernel holds (read with GetRules) against
// one packet. It is not a model of hutch's rules: it runs whatever
// expressions the chains hold, like the kernel's nft_do_chain, over the few
// expression types hutch's tables use (meta, payload, cmp, bitwise, ct, fib,
// lookup, immediate, nat, masq, verdicts, counter). Any other expression makes
// the rule unknown, and the trace says so instead of guessing. The facts it
// cannot compute itself (the route type of the destination for fib, a map's
// elements) are given to it, read from the kernel. It is pure and
// unit-tested (nfteval_test.go).

// Packet is what the rules can see of one packet at one hook.
type Packet struct {
	IIf, OIf string // "" where the hook has none (no input device on output)
	Src, Dst netip.Addr
	Proto    uint8 // unix.IPPROTO_TCP or IPPROTO_UDP
	SPort    uint16
	DPort    uint16
	CtState  uint32 // expr.CtStateBit*: NEW for a first packet
	CtStatus uint32 // IPS_* bits; nft.IPSDstNAT once DNATed
	DstType  uint32 // fib daddr type: the kernel's route type of Dst (unix.RTN_*)
}

// A Step is one rule that matched on the way through a base chain (a jump,
// a NAT, the final verdict), or the policy.
type Step struct {
	Chain  string
	Handle uint64 // 0: the chain's policy, or the end of a regular chain
	Rule   string // the rule as nft prints it
	Action string // what it did: "jump publish", "accept", "drop", "dnat to A:P", "masquerade", "policy accept"
	Note   string // e.g. the map element that matched
}

// Outcome is the result of one base chain.
type Outcome struct {
	Steps   []Step
	Verdict string         // "accept" or "drop"
	DNAT    netip.AddrPort // valid when a rule DNATed the packet
	Masq    bool           // a rule masqueraded the packet
}

// errUnknown marks a rule the evaluator cannot run.
var errUnknown = errors.New("expression not evaluated")

// RunChain runs the base chain name on p. It fails when a rule it reaches
// holds an expression it cannot evaluate.
func RunChain(rs *nft.Ruleset, name string, p Packet) (Outcome, error) {
	var out Outcome
	v, err := run(rs, name, p, &out, 0)
	if err != nil {
		return out, err
	}
	if v == "" { // fell off the end of the base chain
		v = rs.Chain(name).Policy
		out.Steps = append(out.Steps, Step{Chain: name, Action: "policy " + v})
	}
	out.Verdict = v
	return out, nil
}

// run walks chain name; it returns "accept", "drop", or "" when the packet
// falls off the end (or returns).
func run(rs *nft.Ruleset, name string, p Packet, out *Outcome, depth int) (string, error) {
	c := rs.Chain(name)
	if c == nil {
		return "", fmt.Errorf("chain %s of table %s not found", name, rs.Table)
	}
	if depth > 16 {
		return "", fmt.Errorf("chain %s: jumps nested too deep", name)
	}
	var misses []string // lookups that found nothing: worth showing
	for _, r := range c.Rules {
		res, err := evalRule(r.Exprs, p, rs.Maps)
		if err != nil {
			return "", fmt.Errorf("chain %s rule handle %d (%s): %w", name, r.Handle, r.Listed(), err)
		}
		if !res.matched {
			if res.note != "" {
				misses = append(misses, res.note)
			}
			continue
		}
		step := Step{Chain: name, Handle: r.Handle, Rule: r.Listed(), Note: res.note}
		switch {
		case res.dnat.IsValid():
			step.Action = "dnat to " + res.dnat.String()
			out.DNAT = res.dnat
		case res.masq:
			step.Action = "masquerade"
			out.Masq = true
		default:
			step.Action = nft.VerdictText(res.verdict)
		}
		out.Steps = append(out.Steps, step)
		switch {
		case res.dnat.IsValid() || res.masq:
			return "accept", nil // a NAT statement ends the chain with accept
		case res.verdict.Kind == expr.VerdictAccept:
			return "accept", nil
		case res.verdict.Kind == expr.VerdictDrop:
			return "drop", nil
		case res.verdict.Kind == expr.VerdictReturn:
			return "", nil
		case res.verdict.Kind == expr.VerdictJump || res.verdict.Kind == expr.VerdictGoto:
			n := len(out.Steps)
			v, err := run(rs, res.verdict.Chain, p, out, depth+1)
			if err != nil || v != "" {
				return v, err
			}
			// Nothing decided there: only the deciding path, and the
			// lookups that missed, are worth showing.
			if len(out.Steps) == n {
				out.Steps = out.Steps[:n-1]
			}
			if res.verdict.Kind == expr.VerdictGoto {
				return "", nil
			}
		}
	}
	if len(misses) > 0 && depth > 0 {
		out.Steps = append(out.Steps, Step{Chain: name, Action: "return", Note: strings.Join(misses, "; ")})
	}
	return "", nil
}

// ruleResult is what one rule did to the packet.
type ruleResult struct {
	matched bool
	verdict expr.Verdict // Kind is VerdictContinue when the rule has no verdict
	dnat    netip.AddrPort
	masq    bool
	note    string
}

// regs is the register file: 4 bytes per 32-bit register, numbered as the
// kernel does (verdict in 0-3; NFT_REG_1 is 32-bit registers 4-7, which
// NFT_REG32_00.. also name).
type regs [4 * 20]byte

func regOffset(r uint32) (int, error) {
	switch {
	case r >= unix.NFT_REG_1 && r <= unix.NFT_REG_4:
		return int(r) * 16, nil
	case r >= unix.NFT_REG32_00 && r <= unix.NFT_REG32_15:
		return int(r-unix.NFT_REG32_00)*4 + 16, nil
	}
	return 0, fmt.Errorf("register %d: %w", r, errUnknown)
}

// store writes b at register r, zeroing the rest of its last 32-bit word,
// as the kernel's payload and meta loads do.
func (rg *regs) store(r uint32, b []byte) error {
	off, err := regOffset(r)
	if err != nil {
		return err
	}
	n := (len(b) + 3) / 4 * 4
	if off+n > len(rg) {
		return fmt.Errorf("register %d: %d bytes: %w", r, len(b), errUnknown)
	}
	clear(rg[off : off+n])
	copy(rg[off:], b)
	return nil
}

func (rg *regs) load(r uint32, n int) ([]byte, error) {
	off, err := regOffset(r)
	if err != nil {
		return nil, err
	}
	if off+n > len(rg) {
		return nil, fmt.Errorf("register %d: %d bytes: %w", r, n, errUnknown)
	}
	return rg[off : off+n], nil
}

// evalRule runs one rule's expressions on p.
func evalRule(exprs []expr.Any, p Packet, maps map[string]nft.Map) (ruleResult, error) {
	var rg regs
	res := ruleResult{verdict: expr.Verdict{Kind: expr.VerdictContinue}}
	for _, e := range exprs {
		var err error
		switch e := e.(type) {
		case *expr.Counter:
		case *expr.Meta:
			err = evalMeta(&rg, e, p)
		case *expr.Payload:
			err = evalPayload(&rg, e, p)
		case *expr.Ct:
			if e.SourceRegister || (e.Key != expr.CtKeySTATE && e.Key != expr.CtKeySTATUS) {
				return res, fmt.Errorf("ct key %d: %w", e.Key, errUnknown)
			}
			v := p.CtState
			if e.Key == expr.CtKeySTATUS {
				v = p.CtStatus
			}
			err = rg.store(e.Register, binaryutil.NativeEndian.PutUint32(v))
		case *expr.Fib:
			if !e.FlagDADDR || !e.ResultADDRTYPE || e.FlagSADDR || e.FlagIIF || e.FlagOIF || e.FlagMARK {
				return res, fmt.Errorf("fib: %w", errUnknown)
			}
			err = rg.store(e.Register, binaryutil.NativeEndian.PutUint32(p.DstType))
		case *expr.Cmp:
			var got []byte
			if got, err = rg.load(e.Register, len(e.Data)); err != nil {
				return res, err
			}
			ok, cerr := compare(e.Op, got, e.Data)
			if cerr != nil {
				return res, cerr
			}
			if !ok {
				return res, nil
			}
		case *expr.Bitwise:
			var src []byte
			if src, err = rg.load(e.SourceRegister, int(e.Len)); err != nil {
				return res, err
			}
			if len(e.Mask) != int(e.Len) || len(e.Xor) != int(e.Len) {
				return res, fmt.Errorf("bitwise: %w", errUnknown)
			}
			out := make([]byte, e.Len)
			for i := range out {
				out[i] = src[i]&e.Mask[i] ^ e.Xor[i]
			}
			err = rg.store(e.DestRegister, out)
		case *expr.Lookup:
			var ok bool
			if ok, err = lookup(&rg, e, maps, &res); err != nil {
				return res, err
			}
			if !ok {
				return res, nil
			}
		case *expr.Immediate:
			err = rg.store(e.Register, e.Data)
		case *expr.NAT:
			if e.Type != expr.NATTypeDestNAT || e.RegAddrMin == 0 || e.RegProtoMin == 0 ||
				(e.RegAddrMax != 0 && e.RegAddrMax != e.RegAddrMin) || (e.RegProtoMax != 0 && e.RegProtoMax != e.RegProtoMin) {
				return res, fmt.Errorf("nat: %w", errUnknown)
			}
			a, aerr := rg.load(e.RegAddrMin, 4)
			port, perr := rg.load(e.RegProtoMin, 2)
			if err = errors.Join(aerr, perr); err != nil {
				return res, err
			}
			res.dnat = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a)), binary.BigEndian.Uint16(port))
		case *expr.Masq:
			if e.ToPorts || e.RegProtoMin != 0 {
				return res, fmt.Errorf("masquerade to ports: %w", errUnknown)
			}
			res.masq = true
		case *expr.Verdict:
			res.verdict = *e
		default:
			return res, fmt.Errorf("%T: %w", e, errUnknown)
		}
		if err != nil {
			return res, err
		}
	}
	res.matched = true
	return res, nil
}

func evalMeta(rg *regs, e *expr.Meta, p Packet) error {
	if e.SourceRegister {
		return fmt.Errorf("meta set: %w", errUnknown)
	}
	switch e.Key {
	case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
		name := p.IIf
		if e.Key == expr.MetaKeyOIFNAME {
			name = p.OIf
		}
		b := make([]byte, unix.IFNAMSIZ) // the kernel pads the name with NULs
		copy(b, name)
		return rg.store(e.Register, b)
	case expr.MetaKeyL4PROTO, expr.MetaKeyPROTOCOL:
		if e.Key == expr.MetaKeyPROTOCOL {
			return rg.store(e.Register, binary.BigEndian.AppendUint16(nil, unix.ETH_P_IP))
		}
		return rg.store(e.Register, []byte{p.Proto})
	case expr.MetaKeyNFPROTO:
		return rg.store(e.Register, []byte{unix.NFPROTO_IPV4})
	}
	return fmt.Errorf("meta key %d: %w", e.Key, errUnknown)
}

func evalPayload(rg *regs, e *expr.Payload, p Packet) error {
	if e.OperationType != expr.PayloadLoad {
		return fmt.Errorf("payload write: %w", errUnknown)
	}
	var field []byte
	switch {
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 12 && e.Len <= 4:
		a := p.Src.As4()
		field = a[:e.Len]
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 16 && e.Len <= 4:
		a := p.Dst.As4()
		field = a[:e.Len]
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 9 && e.Len == 1:
		field = []byte{p.Proto}
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 0 && e.Len == 2:
		field = binary.BigEndian.AppendUint16(nil, p.SPort)
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2 && e.Len == 2:
		field = binary.BigEndian.AppendUint16(nil, p.DPort)
	default:
		return fmt.Errorf("payload base %d offset %d len %d: %w", e.Base, e.Offset, e.Len, errUnknown)
	}
	return rg.store(e.DestRegister, field)
}

// compare is nft_cmp: eq/neq bytewise; the orderings compare as big-endian
// byte strings (memcmp), as the kernel does.
func compare(op expr.CmpOp, got, want []byte) (bool, error) {
	c := bytes.Compare(got, want)
	switch op {
	case expr.CmpOpEq:
		return c == 0, nil
	case expr.CmpOpNeq:
		return c != 0, nil
	case expr.CmpOpLt:
		return c < 0, nil
	case expr.CmpOpLte:
		return c <= 0, nil
	case expr.CmpOpGt:
		return c > 0, nil
	case expr.CmpOpGte:
		return c >= 0, nil
	}
	return false, fmt.Errorf("cmp op %d: %w", op, errUnknown)
}

// lookup finds the key in the registers among the map's elements (as the
// kernel listed them) and, for a map, loads the element's data.
func lookup(rg *regs, e *expr.Lookup, maps map[string]nft.Map, res *ruleResult) (bool, error) {
	m, ok := maps[e.SetName]
	if !ok {
		return false, fmt.Errorf("set @%s not read: %w", e.SetName, errUnknown)
	}
	for _, el := range m.Elements {
		key, err := rg.load(e.SourceRegister, len(el.Key))
		if err != nil {
			return false, err
		}
		if !bytes.Equal(key, el.Key) {
			continue
		}
		if e.Invert {
			return false, nil
		}
		if e.IsDestRegSet {
			if err := rg.store(e.DestRegister, el.Val); err != nil {
				return false, err
			}
		}
		res.note = fmt.Sprintf("@%s element %s : %s", e.SetName, fieldsText(el.Key, m.KeyType), fieldsText(el.Val, m.DataType))
		return true, nil
	}
	if e.Invert {
		return true, nil
	}
	res.note = fmt.Sprintf("@%s has no element %s", e.SetName, keyOf(rg, e, m))
	return false, nil
}

// keyOf shows the key the packet looked up, as the map's key type.
func keyOf(rg *regs, e *expr.Lookup, m nft.Map) string {
	n := 0
	for _, f := range strings.Split(m.KeyType, " . ") {
		n += (typeLen(f) + 3) / 4 * 4
	}
	k, err := rg.load(e.SourceRegister, n)
	if err != nil || n == 0 {
		return "for the packet"
	}
	return fieldsText(k, m.KeyType)
}

// typeLen is the length of one field of nft type name; 0 if unknown.
func typeLen(name string) int {
	switch name {
	case "ipv4_addr":
		return 4
	case "inet_proto":
		return 1
	case "inet_service":
		return 2
	}
	return 0
}

// fieldsText prints a key or data of type typ (a concatenation, each field
// padded to 4 bytes) as nft would; fields of other types in hex.
func fieldsText(b []byte, typ string) string {
	var out []string
	for _, f := range strings.Split(typ, " . ") {
		n := typeLen(f)
		if n == 0 || len(b) < n {
			out = append(out, fmt.Sprintf("0x%x", b))
			break
		}
		switch f {
		case "ipv4_addr":
			out = append(out, netip.AddrFrom4([4]byte(b[:4])).String())
		case "inet_proto":
			out = append(out, nft.ProtoName(b[0]))
		case "inet_service":
			out = append(out, fmt.Sprint(binary.BigEndian.Uint16(b[:2])))
		}
		b = b[min(len(b), (n+3)/4*4):]
	}
	return strings.Join(out, " . ")
}
