package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

const (
	tcpIdleTimeout = 10 * time.Second // a TCP connection with no complete query for this long is closed
	maxTCPConns    = 128              // TCP connections served at once per listener; more are closed at once
	// maxUDPQuery is the read buffer of a UDP reader: a query is a name and
	// an OPT, a few hundred bytes; a larger datagram is read cut short,
	// which normally fails to unpack: FORMERR. (64 KiB per reader would cost
	// a resolver serving 100 containers 25 MiB for nothing.)
	maxUDPQuery = 4096
)

// Server answers DNS queries for one asking container.
//
// The loops are hutch's own rather than mdns.Server's: mdns.Server starts a
// goroutine per UDP packet and per TCP connection without a bound, and a
// flood from the container must not grow the supervisor. Here a UDP socket
// has one goroutine that answers local names inline (no goroutine per
// query, which is also the fast path; see udpLoop for why one and how it
// reads), and a forwarded query gets a goroutine only if it gets one of the
// Forwarder's MaxInFlight slots (else SERVFAIL at once); a TCP listener
// serves at most maxTCPConns connections, one goroutine each, queries in
// order.
type Server struct {
	// View returns the current view of the asking container. It is called
	// once per query, so membership changes show at once; it must be cheap
	// and safe for concurrent use (an atomic.Pointer load). nil, or a nil
	// View: no local names, everything is forwarded.
	View func() *View
	// Forward relays names the view does not know; nil: SERVFAIL for them.
	Forward *Forwarder
	// Log gets what the loops cannot return (a recovered panic, accept
	// errors); nil: slog.Default(). Nothing is logged per query.
	Log *slog.Logger

	idleTimeout time.Duration // tests shorten these; 0: the constants above
	maxConns    int
}

// ServeUDP serves queries arriving on pc until pc is closed, then waits for
// forwarded queries still in flight (cut short by the close) and returns
// nil. Any other read error is returned. ServeUDP does not close pc.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup // forwarded queries in flight
	var err error
	if sc, ok := pc.(syscall.Conn); ok {
		err = s.udpLoop(ctx, sc, &wg)
	} else {
		err = s.readUDP(ctx, pc, &wg)
	}
	cancel()
	wg.Wait()
	return err
}

// readUDP is the loop for a PacketConn that is not a socket of this
// process (a test's wrapper, say): the same answers through the portable
// interface.
func (s *Server) readUDP(ctx context.Context, pc net.PacketConn, wg *sync.WaitGroup) error {
	buf := make([]byte, maxUDPQuery)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		send := func(out []byte) { _, _ = pc.WriteTo(out, addr) } // a lost reply is the client's to retry
		out, fwd := s.answerUDP(buf[:n])
		if fwd != nil {
			s.forwardUDP(ctx, fwd, wg, send)
		}
		if out != nil {
			send(out)
		}
	}
}

// answerUDP answers one datagram from the view: out is the reply to send at
// once (a local answer, FORMERR, or SERVFAIL for want of a forwarding
// slot; nil: send nothing). A non-nil fwd is a query to forward, with a
// forwarding slot taken for it: the caller passes it to forwardUDP.
func (s *Server) answerUDP(pkt []byte) (out []byte, fwd *mdns.Msg) {
	out, fwd = s.respond(pkt, true)
	if fwd == nil {
		return out, nil
	}
	if s.Forward == nil || !s.Forward.tryAcquire() {
		return s.pack(servfail(fwd), fwd, true), nil
	}
	return nil, fwd.Copy() // pkt is the reader's buffer: the next read reuses it
}

// forwardUDP forwards fwd from a goroutine of its own, counted in wg, which
// releases fwd's slot and hands the upstream's answer to send.
func (s *Server) forwardUDP(ctx context.Context, fwd *mdns.Msg, wg *sync.WaitGroup, send func([]byte)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer s.Forward.release()
		if out := s.pack(s.Forward.forward(ctx, fwd, "udp"), fwd, true); out != nil {
			send(out)
		}
	}()
}

// ServeTCP serves connections accepted on l until l is closed, then closes
// the connections still open, waits for their goroutines and returns nil.
// Any other accept error except running out of file descriptors (retried
// after a pause) is returned. ServeTCP does not close l.
func (s *Server) ServeTCP(l net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	limit := s.maxConns
	if limit <= 0 {
		limit = maxTCPConns
	}
	var (
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
		wg    sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	var pause time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) &&
				!errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.ENOMEM) {
				return err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log().Warn("dns: accept", "err", err, "retry in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		mu.Lock()
		if len(conns) >= limit {
			mu.Unlock()
			c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

// serveConn answers the queries of one TCP connection in order. The
// connection is closed when no complete query arrives within the idle
// timeout: the deadline covers a whole message, so trickling bytes does not
// keep it open either.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	idle := s.idleTimeout
	if idle <= 0 {
		idle = tcpIdleTimeout
	}
	var l [2]byte
	for {
		if err := c.SetReadDeadline(time.Now().Add(idle)); err != nil {
			return
		}
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint16(l[:])
		if n < 12 {
			return // not even a header: garbage, and an empty frame must not count as activity
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(c, pkt); err != nil {
			return
		}
		out := s.handle(ctx, pkt, false)
		if out == nil {
			continue
		}
		msg := make([]byte, 2+len(out))
		binary.BigEndian.PutUint16(msg, uint16(len(out)))
		copy(msg[2:], out)
		if err := c.SetWriteDeadline(time.Now().Add(idle)); err != nil {
			return
		}
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}

// handle turns one request packet into the reply to send (nil: send
// nothing), forwarding synchronously if need be.
func (s *Server) handle(ctx context.Context, pkt []byte, udp bool) []byte {
	out, fwd := s.respond(pkt, udp)
	if fwd == nil {
		return out
	}
	proto := "tcp"
	if udp {
		proto = "udp"
	}
	resp := servfail(fwd)
	if s.Forward != nil {
		resp = s.Forward.Forward(ctx, fwd, proto)
	}
	return s.pack(resp, fwd, udp)
}

// respond answers pkt from the view: either the packed reply (out), or the
// unpacked request to forward (fwd), or neither (drop). A packet that does
// not unpack gets a header-only FORMERR if its header is that of a query,
// else nothing. respond never panics: a panic in it (a bug here or in
// miekg/dns, on input crafted by whatever runs in the container) drops the
// packet and is logged, rather than taking the supervisor down.
func (s *Server) respond(pkt []byte, udp bool) (out []byte, fwd *mdns.Msg) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("dns: panic answering a query; dropped", "panic", r)
			out, fwd = nil, nil
		}
	}()
	req := new(mdns.Msg)
	if err := req.Unpack(pkt); err != nil {
		return formErr(pkt), nil
	}
	var v *View
	if s.View != nil {
		v = s.View()
	}
	resp, forward := v.Answer(req)
	if forward {
		return nil, req
	}
	if resp == nil {
		return nil, nil
	}
	return s.pack(resp, req, udp), nil
}

// pack fits resp to the transport and packs it; if that fails (an upstream
// reply that cannot be re-packed), it packs a SERVFAIL instead.
func (s *Server) pack(resp, req *mdns.Msg, udp bool) []byte {
	Fit(resp, req, udp)
	if b, err := resp.Pack(); err == nil {
		return b
	}
	sf := servfail(req)
	Fit(sf, req, udp)
	b, err := sf.Pack()
	if err != nil {
		return nil
	}
	return b
}

// formErr is the reply to a packet that does not unpack: a bare header with
// the query's id and opcode and FORMERR, or nil when even the header is
// missing or says it is a response.
func formErr(pkt []byte) []byte {
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		return nil
	}
	m := &mdns.Msg{MsgHdr: mdns.MsgHdr{
		Id:                 binary.BigEndian.Uint16(pkt),
		Response:           true,
		Opcode:             int(pkt[2]>>3) & 0xF,
		RecursionDesired:   pkt[2]&0x1 != 0,
		RecursionAvailable: true,
		Rcode:              mdns.RcodeFormatError,
	}}
	b, err := m.Pack()
	if err != nil {
		return nil
	}
	return b
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
