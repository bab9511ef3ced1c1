package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

const (
	maxUpstreams       = 3               // like glibc's MAXNS: more are ignored
	defaultTimeout     = 2 * time.Second // per upstream attempt
	defaultMaxInFlight = 64
)

// Forwarder relays queries the local view does not answer to upstream
// resolvers. Set its fields before first use and do not copy it after.
type Forwarder struct {
	Upstreams []string      // "ip:port" (a host name is skipped); at most 3 are used, the rest ignored
	Timeout   time.Duration // per upstream attempt; 0: 2s
	// Dial reaches an upstream; nil: a net.Dialer. The runtime passes one
	// that dials from the host's network namespace for loopback upstreams
	// such as 127.0.0.53.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxInFlight bounds the queries being forwarded at once; 0: 64. Past it
	// Forward answers SERVFAIL at once instead of queueing without bound.
	MaxInFlight int

	once  sync.Once
	slots chan struct{} // one token per query in flight
}

// Forward asks the upstreams in order over proto ("tcp", else UDP), moving to
// the next one on a timeout, a network error, a malformed reply, SERVFAIL or
// REFUSED. Any other reply is returned as the upstream sent it (over UDP a
// truncated one too: the client retries over TCP), with the client's id.
// No upstream, every upstream failed, ctx done or MaxInFlight reached:
// SERVFAIL. The wait is bounded by 3 × Timeout.
func (f *Forwarder) Forward(ctx context.Context, req *mdns.Msg, proto string) *mdns.Msg {
	if !f.tryAcquire() {
		return servfail(req)
	}
	defer f.release()
	return f.forward(ctx, req, proto)
}

// tryAcquire takes an in-flight slot if one is free; the server's UDP loop
// uses it to decide whether a query may have a goroutine of its own.
func (f *Forwarder) tryAcquire() bool {
	f.once.Do(func() {
		n := f.MaxInFlight
		if n <= 0 {
			n = defaultMaxInFlight
		}
		f.slots = make(chan struct{}, n)
	})
	select {
	case f.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (f *Forwarder) release() { <-f.slots }

// forward is Forward for a caller that already holds a slot.
func (f *Forwarder) forward(ctx context.Context, req *mdns.Msg, proto string) *mdns.Msg {
	if len(req.Question) == 0 {
		return servfail(req)
	}
	// Upstream gets its own random id: the client's id is predictable to
	// anything in the container, and a reply is matched on it.
	up := req.Copy()
	up.Id = mdns.Id()
	pkt, err := up.Pack()
	if err != nil {
		return servfail(req)
	}
	tcp := proto == "tcp"
	for _, addr := range f.upstreams() {
		if ctx.Err() != nil {
			break
		}
		if _, err := netip.ParseAddrPort(addr); err != nil {
			continue // never a host name: resolving it would ask the host's resolver
		}
		resp, err := f.exchange(ctx, addr, pkt, up, tcp)
		if err != nil {
			continue
		}
		if resp.Rcode == mdns.RcodeServerFailure || resp.Rcode == mdns.RcodeRefused {
			continue
		}
		resp.Id = req.Id
		return resp
	}
	return servfail(req)
}

func (f *Forwarder) upstreams() []string {
	if len(f.Upstreams) > maxUpstreams {
		return f.Upstreams[:maxUpstreams]
	}
	return f.Upstreams
}

// exchange sends pkt (the packed q) to addr and reads the reply, all within
// one Timeout.
func (f *Forwarder) exchange(ctx context.Context, addr string, pkt []byte, q *mdns.Msg, tcp bool) (*mdns.Msg, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	deadline := time.Now().Add(timeout)
	network := "udp"
	if tcp {
		network = "tcp"
	}
	dial := f.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dialCtx, cancel := context.WithDeadline(ctx, deadline)
	conn, err := dial(dialCtx, network, addr)
	cancel() // the timeout from here on is the conn's deadline: no timer goroutine per attempt
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set deadline on %s: %w", addr, err)
	}
	// Cancelling ctx (the server stopping) interrupts a blocked read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if tcp {
		return exchangeTCP(conn, pkt, q)
	}
	return exchangeUDP(conn, pkt, q)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, mdns.MaxMsgSize); return &b }}

// exchangeUDP sends pkt and waits for the first datagram that is a reply to
// q: stray or spoofed datagrams (wrong id, not a response, another
// question) are skipped until the deadline.
func exchangeUDP(conn net.Conn, pkt []byte, q *mdns.Msg) (*mdns.Msg, error) {
	if _, err := conn.Write(pkt); err != nil {
		return nil, fmt.Errorf("send query: %w", err)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("read reply: %w", err)
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != q.Id || buf[2]&0x80 == 0 {
			continue
		}
		resp, err := unpackReply(buf[:n], q)
		if errors.Is(err, errOtherQuestion) {
			continue
		}
		return resp, err
	}
}

// exchangeTCP sends pkt with its length prefix and reads one framed reply.
func exchangeTCP(conn net.Conn, pkt []byte, q *mdns.Msg) (*mdns.Msg, error) {
	out := make([]byte, 2+len(pkt))
	binary.BigEndian.PutUint16(out, uint16(len(pkt)))
	copy(out[2:], pkt)
	if _, err := conn.Write(out); err != nil {
		return nil, fmt.Errorf("send query: %w", err)
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, fmt.Errorf("read reply length: %w", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	if len(buf) < 12 || binary.BigEndian.Uint16(buf) != q.Id || buf[2]&0x80 == 0 {
		return nil, errors.New("read reply: not a reply to the query")
	}
	return unpackReply(buf, q)
}

var errOtherQuestion = errors.New("reply to another question")

// unpackReply unpacks an upstream reply to q. A reply with TC set that does
// not unpack (some servers cut the datagram mid-record) is kept as a header
// with q's question and TC, which is all the client needs to retry over TCP.
func unpackReply(b []byte, q *mdns.Msg) (*mdns.Msg, error) {
	resp := new(mdns.Msg)
	if err := resp.Unpack(b); err != nil {
		if !resp.Truncated {
			return nil, fmt.Errorf("unpack reply: %w", err)
		}
		resp = &mdns.Msg{MsgHdr: resp.MsgHdr, Question: q.Question}
		return resp, nil
	}
	if len(resp.Question) == 0 { // allowed, e.g. in a header-only REFUSED
		return resp, nil
	}
	a, b0 := resp.Question[0], q.Question[0]
	if len(resp.Question) != 1 || a.Qtype != b0.Qtype || a.Qclass != b0.Qclass || !strings.EqualFold(a.Name, b0.Name) {
		return nil, errOtherQuestion
	}
	return resp, nil
}

func servfail(req *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg).SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}
