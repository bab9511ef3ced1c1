package trace

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables/expr"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
)

// Live is the Kernel of this machine: netlink and nftables, in the host's
// network namespace (the calling process's) or a container's, opened by
// pid from /proc. It never runs ip(8) or nft(8).
type Live struct{}

var _ Kernel = Live{}

// handle opens a netlink handle in the namespace of pid (0: ours).
func handle(pid int) (*netlink.Handle, error) {
	if pid == 0 {
		return netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

// RouteGet implements Kernel.
func (Live) RouteGet(pid int, q RouteQuery) (Route, error) {
	h, err := handle(pid)
	if err != nil {
		return Route{}, err
	}
	defer h.Close()
	opts := &netlink.RouteGetOptions{Iif: q.IIf}
	if q.Src.IsValid() {
		opts.SrcAddr = q.Src.AsSlice()
	}
	rs, err := h.RouteGetWithOptions(q.Dst.AsSlice(), opts)
	if err != nil {
		return Route{}, err
	}
	if len(rs) == 0 {
		return Route{}, errors.New("no route")
	}
	r := rs[0]
	out := Route{Type: uint32(r.Type)}
	out.Gw, _ = netip.AddrFromSlice(r.Gw.To4())
	out.Src, _ = netip.AddrFromSlice(r.Src.To4())
	if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
		out.Dev = l.Attrs().Name
	}
	return out, nil
}

// Links implements Kernel.
func (Live) Links(pid int) ([]Link, error) {
	h, err := handle(pid)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ls, err := link.List(h)
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range ls {
		names[l.Index] = l.Name
	}
	var out []Link
	for _, l := range ls {
		lk := Link{Index: l.Index, Name: l.Name, Kind: l.Kind, MAC: l.MAC, Master: names[l.Master], Addrs: l.Addrs}
		if l.Kind == "veth" {
			lk.PeerIndex = l.PeerIndex
		}
		out = append(out, lk)
	}
	return out, nil
}

// FDB implements Kernel: the bridge's entries, from one AF_BRIDGE dump.
func (Live) FDB(bridge string) ([]FDBEntry, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	ns, err := netlink.NeighList(0, unix.AF_BRIDGE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("fdb of %s: %w", bridge, err)
	}
	var out []FDBEntry
	for _, n := range ns {
		if n.MasterIndex != br.Attrs().Index && n.LinkIndex != br.Attrs().Index {
			continue
		}
		port := bridge
		if l, err := netlink.LinkByIndex(n.LinkIndex); err == nil {
			port = l.Attrs().Name
		}
		out = append(out, FDBEntry{MAC: n.HardwareAddr.String(), Port: port, Local: n.State&netlink.NUD_PERMANENT != 0})
	}
	return out, nil
}

// Ruleset implements Kernel: the table as network/nft reads it. A missing
// table is an empty ruleset (no network made yet).
func (Live) Ruleset(table string) (*nft.Ruleset, error) {
	return nft.Table{Name: table}.Ruleset()
}

// AskDNS implements Kernel: a real query over UDP to 127.0.0.11:53 from a
// socket made inside the container's namespace (a socket stays in the
// namespace it was made in, whatever thread then uses it).
func (Live) AskDNS(pid int, name string) (DNSAnswer, error) {
	conn, err := dialIn(pid, "udp4", "127.0.0.11:53")
	if err != nil {
		return DNSAnswer{}, err
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	co := &dns.Conn{Conn: conn}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := co.WriteMsg(m); err != nil {
		return DNSAnswer{}, fmt.Errorf("ask 127.0.0.11: %w", err)
	}
	r, err := co.ReadMsg()
	if err != nil {
		return DNSAnswer{}, fmt.Errorf("ask 127.0.0.11: %w", err)
	}
	ans := DNSAnswer{Rcode: dns.RcodeToString[r.Rcode], Via: dnsRedirect(pid)}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				ans.Addrs = append(ans.Addrs, ip)
			}
		}
	}
	return ans, nil
}

// dialIn connects to addr from inside the network namespace of pid, on a
// thread of its own that goes home before it is unlocked (or dies locked).
func dialIn(pid int, network, addr string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		goruntime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer home.Close()
		target, err := netns.GetFromPid(pid)
		if err != nil {
			ch <- res{err: fmt.Errorf("network namespace of pid %d: %w", pid, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			ch <- res{err: fmt.Errorf("enter network namespace of pid %d: %w", pid, err)}
			return
		}
		c, err := net.Dial(network, addr)
		if netns.Set(home) == nil {
			goruntime.UnlockOSThread()
		}
		ch <- res{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// dnsRedirect describes the hutch-dns rule of the container's namespace
// that sends its UDP queries for 127.0.0.11:53 to the resolver's port.
func dnsRedirect(pid int) string {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return "no hutch-dns table"
	}
	defer f.Close()
	rules, err := nft.DNSRules(int(f.Fd()))
	if err != nil || len(rules) == 0 {
		return "no hutch-dns table"
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			if cm, ok := e.(*expr.Cmp); ok && bytes.Equal(cm.Data, []byte{unix.IPPROTO_UDP}) {
				return fmt.Sprintf("nft hutch-dns output rule handle %d: %s", r.Handle, r.Listed())
			}
		}
	}
	return "no hutch-dns rule for udp"
}

// BridgeNetfilter implements Kernel.
func (Live) BridgeNetfilter() bool {
	b, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// ForwardDrops implements Kernel.
func (Live) ForwardDrops(table string) []string {
	drops, _ := nft.ForwardDrops(table)
	return drops
}
