package dns

import (
	mdns "github.com/miekg/dns"
)

// maxUDPSize is the largest UDP reply hutch sends, whatever the client's
// EDNS0 buffer size says, and the buffer size it advertises in its own OPT.
const maxUDPSize = 4096

// Fit makes resp, the reply to req, fit its transport:
//
//   - OPT: the reply carries exactly one OPT record if req had one (an
//     upstream's own OPT is kept; a local reply gets a fresh one advertising
//     maxUDPSize, with the client's DO bit copied, RFC 3225) and none if req
//     had none (RFC 6891 6.1.1).
//   - Size: over UDP, 512 bytes, or the client's EDNS0 buffer size clamped
//     to [512, 4096]; over TCP, 65535. A reply that does not fit loses
//     records from the end (answer, then authority, then additional) and
//     gets TC set, so the client retries over TCP.
//
// Records are kept in their order, so a shuffled A answer stays shuffled and
// a truncated one is a random subset. Fit sets resp.Compress as
// mdns.Msg.Truncate decides: on only when the reply would not fit without it.
func Fit(resp *mdns.Msg, req *mdns.Msg, udp bool) {
	var reqOpt *mdns.OPT
	if req != nil {
		reqOpt = req.IsEdns0()
	}
	var opt *mdns.OPT
	extra := resp.Extra[:0]
	for _, rr := range resp.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			if opt == nil {
				opt = o
			}
			continue
		}
		extra = append(extra, rr)
	}
	resp.Extra = extra
	if reqOpt != nil {
		if opt == nil {
			opt = newOPT(reqOpt.Do())
		}
		resp.Extra = append(resp.Extra, opt)
	}
	if len(resp.Extra) == 0 {
		resp.Extra = nil
	}

	size := mdns.MaxMsgSize
	if udp {
		size = udpLimit(reqOpt)
	}
	resp.Truncate(size)
}

// udpLimit is the largest UDP reply a client that sent opt (nil: no EDNS0)
// accepts from hutch.
func udpLimit(opt *mdns.OPT) int {
	if opt == nil {
		return mdns.MinMsgSize
	}
	return min(max(int(opt.UDPSize()), mdns.MinMsgSize), maxUDPSize)
}

func newOPT(do bool) *mdns.OPT {
	o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
	o.SetUDPSize(maxUDPSize)
	if do {
		o.SetDo()
	}
	return o
}
