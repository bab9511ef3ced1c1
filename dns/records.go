package dns

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// localTTL is the TTL of every local answer. Docker uses 600 s; hutch uses 0
// because its names change whenever a container starts, stops or is
// (dis)connected, and the contract is that such changes show at once. A TTL
// of 600 lets any cache in the container (nscd, dnsmasq, nginx's resolver,
// a JVM) keep handing out a removed container's address, or miss a
// restarted one's new address, for ten minutes. Asking 127.0.0.11 again
// costs well under a millisecond, so there is nothing worth caching.
const localTTL = 0

// Entry is one container's presence on one network.
type Entry struct {
	Network string     // network name
	Names   []string   // container name first, then each --network-alias, the 12-char short id, the hostname (any may repeat)
	IP      netip.Addr // the container's address on Network (IPv4; an IPv6 address is answered to AAAA)
}

// View is what one asking container can see: the entries of every network it
// is on. It is immutable once built, so one View may serve any number of
// queries concurrently; the runtime builds a new one when membership changes.
type View struct {
	addrs map[string][]netip.Addr // canonical FQDN → its distinct addresses, in entry order
	ptrs  map[string]string       // canonical reverse name (in-addr.arpa/ip6.arpa) → PTR target
}

// NewView indexes entries. Every name is known as NAME. and, when the entry
// has a network, as NAME.NETWORK.; names are compared in DNS canonical form
// (ASCII case-insensitive, fully qualified). An entry without a valid
// address, or a name that is not a valid domain name (empty, a label over
// 63 bytes, over 255 bytes in all), is skipped. The PTR of an address is
// the first valid name of the first entry carrying it: the container name.
func NewView(entries []Entry) *View {
	v := &View{addrs: make(map[string][]netip.Addr), ptrs: make(map[string]string)}
	for _, e := range entries {
		ip := e.IP.Unmap()
		if !ip.IsValid() {
			continue
		}
		first := ""
		for _, n := range e.Names {
			n = strings.TrimSuffix(n, ".")
			if n == "" {
				continue
			}
			pres, ok := presentation(n)
			if !ok {
				continue
			}
			if first == "" {
				first = pres
			}
			v.add(mdns.CanonicalName(pres), ip)
			if e.Network == "" {
				continue
			}
			if pres, ok := presentation(n + "." + strings.TrimSuffix(e.Network, ".")); ok {
				v.add(mdns.CanonicalName(pres), ip)
			}
		}
		if first == "" {
			continue
		}
		if rev, err := mdns.ReverseAddr(ip.String()); err == nil {
			if _, taken := v.ptrs[rev]; !taken {
				v.ptrs[rev] = first
			}
		}
	}
	return v
}

func (v *View) add(key string, ip netip.Addr) {
	for _, have := range v.addrs[key] {
		if have == ip {
			return
		}
	}
	v.addrs[key] = append(v.addrs[key], ip)
}

// presentation returns name fully qualified and spelled as miekg/dns
// spells a name it unpacks from a query (escapes resolved and re-applied its
// way), so that the two compare equal; ok is false if name is not a valid
// domain name.
func presentation(name string) (string, bool) {
	var wire [512]byte
	off, ok := packName(name, wire[:])
	if !ok {
		return "", false
	}
	s, _, err := mdns.UnpackDomainName(wire[:off], 0)
	if err != nil || s == "." {
		return "", false
	}
	return s, true
}

// packName packs name into wire, which must have room for 512 bytes, and
// reports whether it is a valid domain name of at most 255 bytes on the
// wire (mdns.IsDomainName lets 256 through).
func packName(name string, wire []byte) (int, bool) {
	off, err := mdns.PackDomainName(mdns.Fqdn(name), wire, 0, nil, false)
	return off, err == nil && off <= 255
}

// Answer answers req from the view or says to forward it.
//
//   - A (AAAA): every distinct IPv4 (IPv6) address of every entry carrying
//     the name, in a fresh random order on each call.
//   - PTR for the reverse name of a known address: one PTR, the container
//     name as "NAME.".
//   - Any other type for a known name (AAAA on an IPv4-only network, MX,
//     TXT, ANY…): an empty authoritative NOERROR, never forwarded.
//   - An unknown name, including an unknown reverse name: (nil, true),
//     forward it.
//   - A malformed query gets FORMERR (not exactly one question, several
//     OPT records, an invalid name), NOTIMP (opcode other than QUERY, class
//     other than IN), BADVERS (EDNS version above 0) or REFUSED (AXFR/IXFR:
//     hutch serves no zones and a zone transfer cannot be relayed as one
//     message).
//   - A message with QR set is a response, not a query: (nil, false), send
//     nothing. Replying to replies would let two servers, or one server
//     and a spoofed copy of itself, bounce packets forever.
//
// Local answers are authoritative, offer recursion (RA, since everything
// else is forwarded) and have TTL 0 (see localTTL). A nil View knows no
// names. Answer does not size the reply for the transport: that is Fit.
func (v *View) Answer(req *mdns.Msg) (resp *mdns.Msg, forward bool) {
	if req == nil || req.Response {
		return nil, false
	}
	resp = new(mdns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if rcode := checkQuery(req); rcode != mdns.RcodeSuccess {
		if rcode == mdns.RcodeFormatError && len(req.Question) != 1 {
			resp.Question = nil
		}
		resp.Rcode = rcode
		return resp, false
	}
	q := req.Question[0]
	q.Name = mdns.Fqdn(q.Name) // only a request built in Go can lack the dot
	resp.Question[0] = q
	name := mdns.CanonicalName(q.Name)
	addrs, known := v.lookup(name)
	ptr, knownPTR := v.lookupPTR(name)
	if !known && !knownPTR {
		return nil, true
	}
	resp.Authoritative = true
	hdr := mdns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: mdns.ClassINET, Ttl: localTTL}
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeAAAA:
		for _, ip := range addrs {
			if ip.Is4() == (q.Qtype == mdns.TypeA) {
				resp.Answer = append(resp.Answer, addrRR(hdr, ip))
			}
		}
		rand.Shuffle(len(resp.Answer), func(i, j int) {
			resp.Answer[i], resp.Answer[j] = resp.Answer[j], resp.Answer[i]
		})
	case mdns.TypePTR:
		if knownPTR {
			resp.Answer = []mdns.RR{&mdns.PTR{Hdr: hdr, Ptr: ptr}}
		}
	}
	return resp, false
}

func (v *View) lookup(name string) ([]netip.Addr, bool) {
	if v == nil {
		return nil, false
	}
	addrs, ok := v.addrs[name]
	return addrs, ok
}

func (v *View) lookupPTR(name string) (string, bool) {
	if v == nil {
		return "", false
	}
	ptr, ok := v.ptrs[name]
	return ptr, ok
}

func addrRR(hdr mdns.RR_Header, ip netip.Addr) mdns.RR {
	if ip.Is4() {
		return &mdns.A{Hdr: hdr, A: net.IP(ip.AsSlice())}
	}
	return &mdns.AAAA{Hdr: hdr, AAAA: net.IP(ip.AsSlice())}
}

// checkQuery returns the rcode a query deserves before its name is looked
// at: RcodeSuccess if it is one well-formed IN question.
func checkQuery(req *mdns.Msg) int {
	if req.Opcode != mdns.OpcodeQuery {
		return mdns.RcodeNotImplemented
	}
	if len(req.Question) != 1 {
		return mdns.RcodeFormatError
	}
	var opt *mdns.OPT
	for _, rr := range req.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			if opt != nil || o.Hdr.Name != "." {
				return mdns.RcodeFormatError // RFC 6891 6.1.1: one OPT, owner root
			}
			opt = o
		}
	}
	q := req.Question[0]
	var wire [512]byte
	if _, ok := packName(q.Name, wire[:]); !ok {
		return mdns.RcodeFormatError
	}
	if opt != nil && opt.Version() != 0 {
		return mdns.RcodeBadVers
	}
	if q.Qclass != mdns.ClassINET {
		return mdns.RcodeNotImplemented
	}
	if q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		return mdns.RcodeRefused
	}
	return mdns.RcodeSuccess
}
