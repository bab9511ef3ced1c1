// Package trace follows one packet through the kernel's networking, hop by
// hop, for `hutch network trace`: the route lookups (in the container's
// network namespace, then the host's), the nftables chains of hutch's table
// with the rule (and its handle) that decides at each hook, the published-port
// map element a DNAT used, the bridge's forwarding database, the veth to the
// container, and the verdict.
//
// Every fact comes from the kernel through the Kernel interface (netlink
// route lookups, links, the bridge fdb, the table's rules and map elements as
// the kernel lists them, a real query to the embedded resolver). hutch's
// records serve only to name things (which container holds an address,
// which network a bridge is) and to spot disagreements, which the trace
// reports. The one thing computed here is which rule of a chain matches the
// packet (nfteval.go): a small evaluator of the rules the kernel returned.
//
// This file is pure: it assembles hops and verdicts from the Kernel's
// answers, so trace_test.go checks it on fixed inputs.
package trace

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
)

// ErrBadInput marks errors in what the user asked (an unknown name).
var ErrBadInput = errors.New("bad input")

// Run traces a packet from from to t.
func Run(k Kernel, recs Records, from From, t Target) (*Result, error) {
	proto, ok := map[string]uint8{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}[t.Proto]
	if !ok {
		return nil, fmt.Errorf("protocol %q: want tcp or udp%w", t.Proto, silent{ErrBadInput})
	}
	rs, err := k.Ruleset(recs.Table)
	if err != nil {
		return nil, err
	}
	tr := &tracer{k: k, recs: recs, rs: rs, res: &Result{Target: t.String()}}
	tr.pkt = Packet{Proto: proto, DPort: t.Port, CtState: expr.CtStateBitNEW}
	switch {
	case from.Container != nil:
		tr.res.From = from.Container.Name
	case from.Outside:
		tr.res.From = "outside"
	default:
		tr.res.From = "host"
	}
	dst, err := tr.resolve(from, t)
	if err != nil {
		return nil, err
	}
	tr.pkt.Dst = dst
	switch {
	case from.Container != nil:
		err = tr.fromContainer(from.Container)
	case from.Outside:
		err = tr.fromOutside(from.Source)
	default:
		err = tr.fromHost()
	}
	if err != nil {
		return nil, err
	}
	return tr.res, nil
}

// silent wraps a sentinel without adding to the message.
type silent struct{ err error }

func (e silent) Error() string { return "" }
func (e silent) Unwrap() error { return e.err }

type tracer struct {
	k    Kernel
	recs Records
	rs   *nft.Ruleset
	res  *Result
	pkt  Packet
	done bool // a verdict was given
}

func (tr *tracer) hop(h Hop) { tr.res.Hops = append(tr.res.Hops, h) }

func (tr *tracer) verdict(kind, format string, args ...any) {
	tr.res.Verdict = Verdict{Kind: kind, Text: fmt.Sprintf(format, args...)}
	tr.done = true
}

// resolve finds the target's address: asked of the embedded resolver from
// a container's namespace, or from hutch's records elsewhere (the host has
// no embedded resolver).
func (tr *tracer) resolve(from From, t Target) (netip.Addr, error) {
	if t.Addr.IsValid() {
		return t.Addr, nil
	}
	if c := from.Container; c != nil {
		if c.NoDNS {
			return netip.Addr{}, fmt.Errorf("name %s: %s is on the default network only, where names do not resolve (no embedded resolver)%w", t.Name, c.Name, silent{ErrBadInput})
		}
		ans, err := tr.k.AskDNS(c.Pid, t.Name)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("resolve %s in %s: %w", t.Name, c.Name, err)
		}
		if len(ans.Addrs) == 0 {
			return netip.Addr{}, fmt.Errorf("name %s: the embedded resolver of %s answers %s%w", t.Name, c.Name, ans.Rcode, silent{ErrBadInput})
		}
		tr.hop(Hop{Kind: "dns", Text: fmt.Sprintf("dns: %s asked 127.0.0.11:53/udp from %s's netns (%s): %s A %s",
			t.Name, c.Name, ans.Via, t.Name, addrsText(ans.Addrs))})
		return ans.Addrs[0], nil
	}
	var found []netip.Addr
	var owner string
	for _, c := range tr.recs.Containers {
		for _, e := range c.Endpoints {
			if strings.EqualFold(c.Name, t.Name) || slices.ContainsFunc(e.Aliases, func(a string) bool { return strings.EqualFold(a, t.Name) }) {
				found = append(found, e.IP)
				owner = c.Name
			}
		}
	}
	if len(found) == 0 {
		return netip.Addr{}, fmt.Errorf("name %s: no running container has it (from the host, only container names and aliases resolve)%w", t.Name, silent{ErrBadInput})
	}
	tr.hop(Hop{Kind: "dns", Text: fmt.Sprintf("name: %s is %s (container %s), from hutch's records: the host has no embedded resolver",
		t.Name, addrsText(found), owner)})
	return found[0], nil
}

func addrsText(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

// fromHost: a locally generated packet. The kernel routes it first (that
// picks the source), runs the output hook (DNAT of published ports), routes
// it again if its destination changed, then postrouting.
func (tr *tracer) fromHost() error {
	r, ok := tr.route(0, "host", RouteQuery{Dst: tr.pkt.Dst}, "")
	if !ok {
		return nil
	}
	tr.pkt.Src, tr.pkt.OIf, tr.pkt.DstType = r.Src, r.Dev, r.Type
	if err := tr.hook("output"); err != nil || tr.done {
		return err
	}
	if tr.pkt.CtStatus&nft.IPSDstNAT != 0 {
		if r, ok = tr.route(0, "host", RouteQuery{Dst: tr.pkt.Dst}, "after DNAT"); !ok {
			return nil
		}
		tr.pkt.OIf = r.Dev
	}
	if r.Type == unix.RTN_LOCAL {
		tr.toHost()
		return nil
	}
	return tr.leave(r)
}

// fromOutside: a packet arriving on the host's interface that holds the
// target address (else the one the sender is reached by).
func (tr *tracer) fromOutside(src netip.Addr) error {
	links, err := tr.k.Links(0)
	if err != nil {
		return err
	}
	var iif *Link
	var iifAddr netip.Prefix
	for i := range links {
		for _, a := range links[i].Addrs {
			if a.Addr() == tr.pkt.Dst && links[i].Name != "lo" {
				iif, iifAddr = &links[i], a
			}
		}
	}
	how := "the interface that has " + tr.pkt.Dst.String()
	if !src.IsValid() && iif != nil {
		src = neighbour(iifAddr)
	}
	if iif == nil {
		if !src.IsValid() {
			return fmt.Errorf("%s is not an address of a host interface: say which sender with --source%w", tr.pkt.Dst, silent{ErrBadInput})
		}
		r, err := tr.k.RouteGet(0, RouteQuery{Dst: src})
		if err != nil {
			return fmt.Errorf("no route to the sender %s: %w%w", src, err, silent{ErrBadInput})
		}
		for i := range links {
			if links[i].Name == r.Dev {
				iif = &links[i]
			}
		}
		if iif == nil {
			return fmt.Errorf("interface %s not found", r.Dev)
		}
		how = "the interface the sender " + src.String() + " is reached by"
	}
	if !src.IsValid() {
		src = netip.MustParseAddr("203.0.113.1")
	}
	tr.hop(Hop{Kind: "arrive", Text: fmt.Sprintf("arrives on %s (%s) from %s", iif.Name, how, src)})
	return tr.ingress(iif.Name, src)
}

// neighbour is an address on p's link other than p's own: the first of the
// subnet, or the next one.
func neighbour(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().Next()
	if a == p.Addr() {
		a = a.Next()
	}
	return a
}

// fromContainer: routed in the container's namespace, out of its eth by
// the veth to the bridge; then bridged to a neighbour, or up to the host.
func (tr *tracer) fromContainer(c *Container) error {
	where := c.Name + "'s netns"
	r, ok := tr.route(c.Pid, where, RouteQuery{Dst: tr.pkt.Dst}, "")
	if !ok {
		return nil
	}
	tr.pkt.Src = r.Src
	if r.Type == unix.RTN_LOCAL {
		tr.verdict(Delivered, "DELIVERED to %s itself (%s is local in its netns)", c.Name, tr.pkt.Dst)
		return nil
	}
	inner, err := tr.k.Links(c.Pid)
	if err != nil {
		return err
	}
	host, err := tr.k.Links(0)
	if err != nil {
		return err
	}
	eth := linkByName(inner, r.Dev)
	if eth == nil {
		return fmt.Errorf("interface %s not found in %s", r.Dev, where)
	}
	peer := linkByIndex(host, eth.PeerIndex)
	if peer == nil {
		tr.hop(Hop{Kind: "veth", Text: fmt.Sprintf("%s's %s: no veth peer on the host", c.Name, eth.Name),
			Problem: "the container's interface has no peer in the host's namespace"})
		tr.verdict(Unknown, "UNKNOWN: %s's %s leads nowhere the trace can see", c.Name, eth.Name)
		return nil
	}
	h := Hop{Kind: "veth", Text: fmt.Sprintf("%s's %s (%s, %s) → veth %s on bridge %s",
		c.Name, eth.Name, prefixesText(eth.Addrs), eth.MAC, peer.Name, tr.bridgeName(peer.Master))}
	if ep := c.endpointOn(peer.Master); ep == nil || ep.HostIf != peer.Name {
		h.Problem = fmt.Sprintf("hutch's records have no endpoint of %s with veth %s on %s", c.Name, peer.Name, peer.Master)
	}
	tr.hop(h)
	bridge := linkByName(host, peer.Master)
	if bridge == nil {
		tr.verdict(Unknown, "UNKNOWN: veth %s is on no bridge", peer.Name)
		return nil
	}
	next := cmp.Or(r.Gw, tr.pkt.Dst)
	for _, a := range bridge.Addrs {
		if a.Addr() == next {
			tr.hop(Hop{Kind: "bridge", Text: fmt.Sprintf("bridge %s: %s is its own address: up to the host's IP stack", tr.bridgeName(bridge.Name), next)})
			return tr.ingress(bridge.Name, tr.pkt.Src)
		}
	}
	// A neighbour on the same bridge: bridged, not routed. With br_netfilter
	// the ip hooks see it too, in and out by the bridge.
	if tr.k.BridgeNetfilter() {
		tr.pkt.IIf, tr.pkt.OIf = bridge.Name, ""
		tr.setDstType()
		if err := tr.hook("prerouting"); err != nil || tr.done {
			return err
		}
		tr.pkt.OIf = bridge.Name
		if err := tr.hook("forward"); err != nil || tr.done {
			return err
		}
		if err := tr.hook("postrouting"); err != nil || tr.done {
			return err
		}
	}
	return tr.bridged(bridge.Name, tr.pkt.Dst)
}

// ingress: a packet arriving on iif from src, as the host's IP stack
// sees it: prerouting, the input route lookup, forward, postrouting.
func (tr *tracer) ingress(iif string, src netip.Addr) error {
	tr.pkt.IIf, tr.pkt.OIf, tr.pkt.Src = iif, "", src
	tr.setDstType()
	if err := tr.hook("prerouting"); err != nil || tr.done {
		return err
	}
	r, ok := tr.route(0, "host", RouteQuery{Dst: tr.pkt.Dst, Src: tr.pkt.Src, IIf: iif}, "input")
	if !ok {
		return nil
	}
	if r.Type == unix.RTN_LOCAL {
		tr.toHost()
		return nil
	}
	tr.pkt.OIf = r.Dev
	if err := tr.hook("forward"); err != nil || tr.done {
		return err
	}
	return tr.leave(r)
}

// setDstType reads the route type of the destination, for fib daddr type.
func (tr *tracer) setDstType() {
	r, err := tr.k.RouteGet(0, RouteQuery{Dst: tr.pkt.Dst})
	if err != nil {
		r.Type = unix.RTN_UNREACHABLE
	}
	tr.pkt.DstType = r.Type
}

// leave runs postrouting and hands the packet to the output device r.Dev.
func (tr *tracer) leave(r Route) error {
	if err := tr.hook("postrouting"); err != nil || tr.done {
		return err
	}
	next := cmp.Or(r.Gw, tr.pkt.Dst)
	if tr.isBridge(r.Dev) {
		return tr.bridged(r.Dev, next)
	}
	if r.Dev == "lo" {
		tr.toHost()
		return nil
	}
	via := ""
	if r.Gw.IsValid() {
		via = " via " + r.Gw.String()
	}
	tr.verdict(LeavesHost, "LEAVES the host by %s%s, from %s (the trace ends at the host's edge)", r.Dev, via, tr.pkt.Src)
	return nil
}

func (tr *tracer) toHost() {
	tr.verdict(ToHost, "DELIVERED to the host itself: %s is a local address (no published port matched %s/%d)",
		tr.pkt.Dst, nft.ProtoName(tr.pkt.Proto), tr.pkt.DPort)
}

// bridged delivers the frame for addr on bridge: the container with that
// address (from the records), its interface and veth (from the kernel), and
// the bridge's fdb entry for its MAC.
func (tr *tracer) bridged(bridge string, addr netip.Addr) error {
	var owner *Container
	var ep *Endpoint
	for i := range tr.recs.Containers {
		c := &tr.recs.Containers[i]
		for j := range c.Endpoints {
			if c.Endpoints[j].IP == addr && c.Endpoints[j].Bridge == bridge {
				owner, ep = c, &c.Endpoints[j]
			}
		}
	}
	if owner == nil {
		h := Hop{Kind: "bridge", Text: fmt.Sprintf("bridge %s: no running container has %s (hutch's records)", tr.bridgeName(bridge), addr)}
		if tr.pkt.CtStatus&nft.IPSDstNAT != 0 {
			h.Problem = "a published port's map element DNATs to an address no running container has"
		}
		tr.hop(h)
		tr.verdict(Unreachable, "UNREACHABLE: no running container has %s on bridge %s (hutch's records), so no one answers its ARP", addr, tr.bridgeName(bridge))
		return nil
	}
	inner, err := tr.k.Links(owner.Pid)
	if err != nil {
		return err
	}
	var eth *Link
	for i := range inner {
		for _, a := range inner[i].Addrs {
			if a.Addr() == addr {
				eth = &inner[i]
			}
		}
	}
	if eth == nil {
		tr.hop(Hop{Kind: "bridge", Text: fmt.Sprintf("bridge %s: %s's %s should have %s", tr.bridgeName(bridge), owner.Name, ep.IfName, addr),
			Problem: fmt.Sprintf("no interface in %s's netns has %s", owner.Name, addr)})
		tr.verdict(Unreachable, "UNREACHABLE: %s is not on any interface of %s", addr, owner.Name)
		return nil
	}
	host, err := tr.k.Links(0)
	if err != nil {
		return err
	}
	peer := linkByIndex(host, eth.PeerIndex)
	fdb, err := tr.k.FDB(bridge)
	if err != nil {
		return err
	}
	h := Hop{Kind: "bridge"}
	port := ""
	for _, e := range fdb {
		if strings.EqualFold(e.MAC, eth.MAC) && !e.Local {
			port = e.Port
		}
	}
	switch {
	case peer == nil:
		h.Text = fmt.Sprintf("bridge %s: %s's %s has no veth peer on the host", tr.bridgeName(bridge), owner.Name, eth.Name)
		h.Problem = "veth peer missing"
		tr.hop(h)
		tr.verdict(Unreachable, "UNREACHABLE: %s's %s is not linked to the bridge", owner.Name, eth.Name)
		return nil
	case port == "":
		h.Text = fmt.Sprintf("bridge %s: no fdb entry for %s yet (the bridge floods); %s is behind port %s", tr.bridgeName(bridge), eth.MAC, addr, peer.Name)
	default:
		h.Text = fmt.Sprintf("bridge %s: fdb %s → port %s", tr.bridgeName(bridge), eth.MAC, port)
		if port != peer.Name {
			h.Problem = fmt.Sprintf("the fdb says port %s, but %s's %s is the peer of %s", port, owner.Name, eth.Name, peer.Name)
		}
	}
	if peer.Master != bridge {
		h.Problem = fmt.Sprintf("veth %s is not a port of %s", peer.Name, bridge)
	}
	tr.hop(h)
	vh := Hop{Kind: "veth", Text: fmt.Sprintf("veth %s → %s's %s (%s) in its netns", peer.Name, owner.Name, eth.Name, prefixesText(eth.Addrs))}
	if ep.HostIf != peer.Name {
		vh.Problem = fmt.Sprintf("hutch's records say the veth is %s", ep.HostIf)
	}
	tr.hop(vh)
	tr.verdict(Delivered, "DELIVERED to %s at %s:%d/%s", owner.Name, addr, tr.pkt.DPort, nft.ProtoName(tr.pkt.Proto))
	return nil
}

// route asks the kernel for a route and records the hop; false when there
// is none (the verdict is given).
func (tr *tracer) route(pid int, where string, q RouteQuery, what string) (Route, bool) {
	r, err := tr.k.RouteGet(pid, q)
	label := "route (" + where
	if what != "" {
		label += ", " + what
	}
	label += ")"
	if err != nil {
		tr.hop(Hop{Kind: "route", Text: fmt.Sprintf("%s: %s: %v", label, queryText(q), err)})
		tr.verdict(NoRoute, "NO ROUTE to %s (%s)", q.Dst, where)
		return r, false
	}
	if r.Type != unix.RTN_UNICAST && r.Type != unix.RTN_LOCAL {
		tr.hop(Hop{Kind: "route", Text: fmt.Sprintf("%s: %s %s", label, nft.RouteTypeName(r.Type), q.Dst)})
		tr.verdict(NoRoute, "NO ROUTE to %s (%s: %s)", q.Dst, where, nft.RouteTypeName(r.Type))
		return r, false
	}
	tr.hop(Hop{Kind: "route", Text: fmt.Sprintf("%s: %s", label, routeText(q, r))})
	return r, true
}

func queryText(q RouteQuery) string {
	s := q.Dst.String()
	if q.Src.IsValid() {
		s += " from " + q.Src.String()
	}
	if q.IIf != "" {
		s += " iif " + q.IIf
	}
	return s
}

// routeText prints a route as `ip route get` does.
func routeText(q RouteQuery, r Route) string {
	s := queryText(q)
	if r.Type == unix.RTN_LOCAL {
		s = "local " + s
	}
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	s += " dev " + r.Dev
	if r.Src.IsValid() && q.IIf == "" {
		s += " src " + r.Src.String()
	}
	return s
}

// hook runs the table's base chains on hook, in priority order, as the
// kernel does, and applies their NAT to the packet.
func (tr *tracer) hook(hook string) error {
	var chains []*nft.Chain
	for _, c := range tr.rs.Chains {
		if c.Hook == hook {
			chains = append(chains, c)
		}
	}
	slices.SortStableFunc(chains, func(a, b *nft.Chain) int { return cmp.Compare(a.Priority, b.Priority) })
	for _, c := range chains {
		out, err := RunChain(tr.rs, c.Name, tr.pkt)
		if err != nil {
			tr.hop(Hop{Kind: "nft", Text: fmt.Sprintf("nft %s %s: %v", tr.rs.Table, c.Name, err)})
			tr.verdict(Unknown, "UNKNOWN: a rule the trace cannot evaluate decides at %s", c.Name)
			return nil
		}
		masqSrc := netip.Addr{}
		if out.Masq {
			// The kernel takes the out device's address for the next hop:
			// the route lookup's preferred source.
			if r, err := tr.k.RouteGet(0, RouteQuery{Dst: tr.pkt.Dst}); err == nil {
				masqSrc = r.Src
			}
		}
		for _, s := range out.Steps {
			tr.hop(tr.stepHop(c, s, masqSrc))
		}
		if out.Verdict == "drop" {
			last := out.Steps[len(out.Steps)-1]
			if last.Handle == 0 {
				tr.verdict(Dropped, "DROPPED by the policy of chain %s of table ip %s", last.Chain, tr.rs.Table)
			} else {
				tr.verdict(Dropped, "DROPPED by table ip %s chain %s rule handle %d", tr.rs.Table, last.Chain, last.Handle)
			}
			return nil
		}
		if out.DNAT.IsValid() {
			tr.pkt.Dst, tr.pkt.DPort = out.DNAT.Addr(), out.DNAT.Port()
			tr.pkt.CtStatus |= nft.IPSDstNAT
		}
		if masqSrc.IsValid() {
			tr.pkt.Src = masqSrc
		}
	}
	if hook == "forward" {
		for _, d := range tr.k.ForwardDrops(tr.rs.Table) {
			tr.hop(Hop{Kind: "warning", Text: fmt.Sprintf("%s: policy drop on the forward hook (not evaluated): it may drop this packet", d),
				Problem: "another table's forward chain drops by default"})
		}
	}
	return nil
}

// stepHop prints one step of a chain: the rule, what it did, and a note.
func (tr *tracer) stepHop(c *nft.Chain, s Step, masqSrc netip.Addr) Hop {
	h := Hop{Kind: "nft", Chain: s.Chain, Handle: s.Handle, Rule: s.Rule, Action: s.Action}
	switch {
	case s.Handle == 0 && s.Chain == c.Name:
		h.Text = fmt.Sprintf("nft %s %s (hook %s): no rule decides  → %s", tr.rs.Table, s.Chain, c.Hook, s.Action)
	case s.Handle == 0:
		h.Text = fmt.Sprintf("nft %s %s: no rule matches  → %s", tr.rs.Table, s.Chain, s.Action)
	case strings.HasPrefix(s.Action, "jump ") || strings.HasPrefix(s.Action, "goto "):
		h.Text = fmt.Sprintf("nft %s %s rule handle %d: %s", tr.rs.Table, s.Chain, s.Handle, s.Rule)
	default:
		h.Text = fmt.Sprintf("nft %s %s rule handle %d: %s  → %s", tr.rs.Table, s.Chain, s.Handle, s.Rule, actionText(s.Action))
	}
	if s.Note != "" {
		h.Text += " (" + s.Note + ")"
	}
	if s.Action == "masquerade" && masqSrc.IsValid() {
		h.Text += ": source becomes " + masqSrc.String()
	}
	return h
}

func actionText(a string) string {
	switch a {
	case "drop":
		return "DROPPED"
	case "accept":
		return "ACCEPTED"
	}
	return a
}

func (tr *tracer) isBridge(name string) bool {
	for _, n := range tr.recs.Networks {
		if n.Bridge == name {
			return true
		}
	}
	links, _ := tr.k.Links(0)
	l := linkByName(links, name)
	return l != nil && l.Kind == "bridge"
}

// bridgeName is a bridge with its network's name.
func (tr *tracer) bridgeName(bridge string) string {
	for _, n := range tr.recs.Networks {
		if n.Bridge == bridge {
			return fmt.Sprintf("%s (network %s)", bridge, n.Name)
		}
	}
	return bridge
}

func (c *Container) endpointOn(bridge string) *Endpoint {
	for i := range c.Endpoints {
		if c.Endpoints[i].Bridge == bridge {
			return &c.Endpoints[i]
		}
	}
	return nil
}

func linkByName(ls []Link, name string) *Link {
	for i := range ls {
		if ls[i].Name == name {
			return &ls[i]
		}
	}
	return nil
}

func linkByIndex(ls []Link, index int) *Link {
	for i := range ls {
		if ls[i].Index == index && index != 0 {
			return &ls[i]
		}
	}
	return nil
}

func prefixesText(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	if len(s) == 0 {
		return "no address"
	}
	return strings.Join(s, ", ")
}
