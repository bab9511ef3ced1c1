package topology

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/hutchrt/hutch/network/nft"
)

// The embedded resolver's address in every container on a user-defined
// network.
const resolverAddr = "127.0.0.11"

// Build reads the kernel through k and joins rec in. An error is one the
// kernel gave for the host or the table; a container whose namespace cannot
// be read is drawn as Missing instead.
func Build(k Kernel, rec Records) (*Topology, error) {
	links, err := k.HostLinks()
	if err != nil {
		return nil, err
	}
	rules, elems, err := k.ReadTable()
	if err != nil {
		return nil, err
	}
	b := &builder{k: k, t: &Topology{Table: rec.Table, Resolver: Resolver{Address: resolverAddr, Source: rec.DNSSource}},
		byIndex: map[int]Link{}, byName: map[string]Link{}, nets: map[string]*Network{}, owners: map[netip.Addr]owner{}}
	b.links = links
	for _, l := range links {
		b.byIndex[l.Index], b.byName[l.Name] = l, l
	}
	b.baseRules(rules)
	b.networks(rec, rules)
	b.containers(rec)
	b.strayPorts()
	b.ports(rec, elems)
	b.names(rec)
	b.t.HostNetwork = slices.Sorted(slices.Values(rec.HostNetwork))
	b.finish()
	return b.t, nil
}

type builder struct {
	k       Kernel
	t       *Topology
	links   []Link
	byIndex map[int]Link
	byName  map[string]Link
	nets    map[string]*Network // by bridge
	byNet   map[string]*Network // by name
	owners  map[netip.Addr]owner
	peers   map[string]bool // host veths a container's interface is the peer of
}

// owner is the running container an address belongs to, by the records.
type owner struct {
	c       *RecContainer
	network string
}

func (b *builder) problem(n *Network, mark, format string, args ...any) string {
	what := fmt.Sprintf(format, args...)
	b.t.Problems = append(b.t.Problems, Problem{Mark: mark, What: what, Bridge: netName(n)})
	return what
}

func netName(n *Network) string {
	if n == nil {
		return ""
	}
	return n.Bridge
}

// baseRules sorts the table's untagged rules into the parts of the drawing.
func (b *builder) baseRules(rules []nft.Rule) {
	for _, r := range rules {
		if r.Tag != "" {
			continue
		}
		switch r.Chain {
		case "prerouting", "output", "publish":
			b.t.Publish = append(b.t.Publish, r)
		case "postrouting":
			b.t.Loopback = append(b.t.Loopback, r)
		default:
			b.t.Guard = append(b.t.Guard, r)
		}
	}
}

// networks makes one Network per record and per bridge the table has rules
// for without a record.
func (b *builder) networks(rec Records, rules []nft.Rule) {
	b.byNet = map[string]*Network{}
	for _, rn := range rec.Networks {
		n := &Network{Name: rn.Name, ID: rn.ID, Bridge: rn.Bridge, Subnet: rn.Subnet.String(), Internal: rn.Internal}
		b.nets[n.Bridge], b.byNet[n.Name] = n, n
		l, ok := b.byName[n.Bridge]
		if !ok {
			n.Mark = Missing
			n.Note = b.problem(n, Missing, "bridge %s of network %s is recorded but not in the kernel", n.Bridge, n.Name)
			continue
		}
		n.Up = l.Up
		want := netip.PrefixFrom(rn.Gateway, rn.Subnet.Bits())
		for _, a := range l.Addrs {
			if a.Masked() == rn.Subnet.Masked() {
				n.Gateway = a.String()
			}
		}
		if n.Gateway == "" && len(l.Addrs) > 0 {
			n.Gateway = l.Addrs[0].String()
		}
		if n.Gateway != want.String() {
			n.Mark = Differs
			n.Note = b.problem(n, Differs, "bridge %s has address %s, the record of %s says %s",
				n.Bridge, orNone(n.Gateway), n.Name, want)
		}
	}
	for _, r := range rules {
		if r.Tag == "" {
			continue
		}
		n := b.nets[r.Tag]
		if n == nil {
			n = &Network{Bridge: r.Tag, Mark: Unrecorded}
			if l, ok := b.byName[r.Tag]; ok {
				n.Up = l.Up
				if len(l.Addrs) > 0 {
					n.Gateway = l.Addrs[0].String()
					n.Subnet = l.Addrs[0].Masked().String()
				}
			}
			n.Note = b.problem(n, Unrecorded, "table %s has rules for bridge %s, which no network record has", b.t.Table, r.Tag)
			b.nets[r.Tag] = n
		}
		if r.Chain == "postrouting" {
			n.Masquerade = append(n.Masquerade, r)
		} else {
			n.Isolation = append(n.Isolation, r)
		}
	}
	bridges := slices.Sorted(maps.Keys(b.nets))
	for _, br := range bridges {
		n := b.nets[br]
		// What the kernel does decides what is drawn: the subnet is the
		// bridge's, the network is internal if the table drops what leaves it.
		if p, err := netip.ParsePrefix(n.Gateway); err == nil {
			n.Subnet = p.Masked().String()
		}
		internal := slices.ContainsFunc(n.Isolation, func(r nft.Rule) bool { return r.Chain == "internal" })
		switch {
		case n.Name != "" && len(n.Isolation) == 0 && n.Mark != Missing:
			b.problem(n, Missing, "network %s has no rules in table %s", n.Name, b.t.Table)
			if n.Mark == "" {
				n.Mark, n.Note = Missing, "no rules in table "+b.t.Table
			}
		case len(n.Isolation) > 0 && n.Name != "" && internal != n.Internal:
			what := map[bool]string{true: "internal", false: "not internal"}
			b.problem(n, Differs, "network %s is %s by its record, %s by the rules of table %s", n.Name, what[n.Internal], what[internal], b.t.Table)
			if n.Mark == "" {
				n.Mark, n.Note = Differs, "the record says "+what[n.Internal]
			}
			n.Internal = internal
		case len(n.Isolation) > 0:
			n.Internal = internal
		}
		b.t.Networks = append(b.t.Networks, n)
	}
}

// containers reads each running container's namespace and places its
// interfaces on their networks.
func (b *builder) containers(rec Records) {
	b.peers = map[string]bool{}
	for i := range rec.Containers {
		rc := &rec.Containers[i]
		ns, nsErr := b.k.Namespace(rc.Pid, rc.PidStart)
		for _, ep := range rc.Endpoints {
			n := b.byNet[ep.Network]
			if n == nil {
				continue // a network removed under it: nothing to draw it on
			}
			b.owners[ep.Addr.Addr()] = owner{c: rc, network: n.Name}
			c := &Container{Name: rc.Name, ID: rc.ID, Pid: rc.Pid, Sharing: slices.Sorted(slices.Values(rec.Joined[rc.ID]))}
			n.Containers = append(n.Containers, c)
			if nsErr != nil {
				c.Mark = Missing
				c.Note = b.problem(n, Missing, "network namespace of %s: %v", rc.Name, nsErr)
				c.If = &Interface{Name: ep.IfName, Addrs: []string{ep.Addr.String()}, Peer: ep.HostIf}
				b.peers[ep.HostIf] = true
				continue
			}
			c.NetNS, c.DNS = ns.ID, ns.DNS
			c.If = b.iface(n, rc, ep, ns)
		}
	}
}

// iface is a container's interface on n as its namespace has it, checked
// against the endpoint record ep.
func (b *builder) iface(n *Network, rc *RecContainer, ep RecEndpoint, ns *Namespace) *Interface {
	i := &Interface{Name: ep.IfName, Peer: ep.HostIf}
	_, hostOK := b.byName[ep.HostIf]
	b.peers[ep.HostIf] = true // reported here if anything is wrong with it
	idx := slices.IndexFunc(ns.Links, func(l Link) bool { return l.Name == ep.IfName })
	if idx < 0 {
		// Deleting either end of a veth takes both: say which end is gone.
		i.Addrs = []string{ep.Addr.String()}
		i.Mark = Missing
		if !hostOK {
			i.Note = b.problem(n, Missing, "veth %s (%s's %s on %s) is recorded but not in the kernel", ep.HostIf, rc.Name, ep.IfName, n.Bridge)
		} else {
			i.Note = b.problem(n, Missing, "%s of %s is recorded but not in its namespace", ep.IfName, rc.Name)
		}
		return i
	}
	l := ns.Links[idx]
	i.MAC = l.MAC
	for _, a := range l.Addrs {
		i.Addrs = append(i.Addrs, a.String())
	}
	peer, peerOK := b.byIndex[l.PeerIndex]
	switch {
	case !slices.Contains(l.Addrs, ep.Addr):
		i.Mark = Differs
		i.Note = b.problem(n, Differs, "%s of %s has %s, the records say %s", ep.IfName, rc.Name, orNone(strings.Join(i.Addrs, ",")), ep.Addr)
	case !peerOK:
		i.Mark = Missing
		i.Note = b.problem(n, Missing, "the host end of %s's %s is not in the host namespace", rc.Name, ep.IfName)
	case peer.Name != ep.HostIf:
		i.Peer = peer.Name
		i.Mark = Differs
		i.Note = b.problem(n, Differs, "the host end of %s's %s is %s, the records say %s", rc.Name, ep.IfName, peer.Name, ep.HostIf)
	case !hostOK || peer.Master != b.byName[n.Bridge].Index || b.byName[n.Bridge].Index == 0:
		i.Mark = Differs
		i.Note = b.problem(n, Differs, "veth %s of %s is not a port of bridge %s", peer.Name, rc.Name, n.Bridge)
	}
	if peerOK {
		i.Peer = peer.Name
		b.peers[peer.Name] = true
	}
	return i
}

// strayPorts lists each bridge's ports and marks those no container's
// interface is the peer of.
func (b *builder) strayPorts() {
	for _, n := range b.t.Networks {
		br, ok := b.byName[n.Bridge]
		if !ok {
			continue
		}
		for _, l := range b.links {
			if l.Master != br.Index {
				continue
			}
			n.Ports = append(n.Ports, l.Name)
			if !b.peers[l.Name] {
				b.problem(n, Stale, "%s on bridge %s is the wire of no running container", l.Name, n.Bridge)
			}
		}
	}
}

// ports draws the maps' elements, each with the container the records say
// has its address, and the recorded ports the maps do not have.
func (b *builder) ports(rec Records, elems []nft.Port) {
	for _, e := range elems {
		p := portOf(e)
		o, ok := b.owners[e.ContainerIP]
		switch {
		case !ok:
			// Drawn with the network whose subnet the address is in, if any.
			n := b.subnetOf(e.ContainerIP)
			if n != nil {
				p.Network = n.Name
			}
			p.Mark = Stale
			p.Note = b.problem(n, Stale, "map %s sends %s:%d/%s to %s:%d, which no running container has",
				p.Map, p.HostIP, p.HostPort, p.Proto, p.ContainerIP, p.ContainerPort)
		case !slices.ContainsFunc(o.c.Ports, func(q nft.Port) bool { return samePort(q, e) }):
			p.Container, p.Network = o.c.Name, o.network
			p.Mark = Stale
			p.Note = b.problem(b.byNet[o.network], Stale, "map %s sends %s:%d/%s to %s, which does not publish it",
				p.Map, p.HostIP, p.HostPort, p.Proto, o.c.Name)
		default:
			p.Container, p.Network = o.c.Name, o.network
		}
		b.t.Ports = append(b.t.Ports, p)
	}
	for _, rc := range rec.Containers {
		for _, q := range rc.Ports {
			if slices.ContainsFunc(elems, func(e nft.Port) bool { return samePort(q, e) }) {
				continue
			}
			p := portOf(q)
			p.Container = rc.Name
			if o, ok := b.owners[q.ContainerIP]; ok {
				p.Network = o.network
			}
			p.Mark = Missing
			p.Note = b.problem(b.byNet[p.Network], Missing, "%s publishes %s:%d/%s, map %s has no such element",
				rc.Name, p.HostIP, p.HostPort, p.Proto, p.Map)
			b.t.Ports = append(b.t.Ports, p)
		}
	}
}

// subnetOf is the network whose subnet (as the kernel has it) holds a.
func (b *builder) subnetOf(a netip.Addr) *Network {
	for _, n := range b.t.Networks {
		if p, err := netip.ParsePrefix(n.Subnet); err == nil && p.Contains(a) {
			return n
		}
	}
	return nil
}

func portOf(e nft.Port) *Port {
	p := &Port{Proto: e.Proto, HostIP: "0.0.0.0", HostPort: e.HostPort, Map: "publish_any",
		ContainerIP: e.ContainerIP.String(), ContainerPort: e.ContainerPort}
	if e.HostIP.IsValid() && !e.HostIP.IsUnspecified() {
		p.HostIP, p.Map = e.HostIP.String(), "publish_addr"
	}
	return p
}

func samePort(a, b nft.Port) bool {
	any := func(x netip.Addr) bool { return !x.IsValid() || x.IsUnspecified() }
	return a.Proto == b.Proto && a.HostPort == b.HostPort && a.ContainerIP == b.ContainerIP &&
		a.ContainerPort == b.ContainerPort && (a.HostIP == b.HostIP || any(a.HostIP) && any(b.HostIP))
}

// names lists what the resolver answers on each network: from its
// registrations when they could be read, else from the records.
func (b *builder) names(rec Records) {
	add := func(network string, ip netip.Addr, names []string) {
		n := b.byNet[network]
		if n == nil {
			return
		}
		var uniq []string
		for _, s := range names {
			if s != "" && !slices.Contains(uniq, s) {
				uniq = append(uniq, s)
			}
		}
		n.Names = append(n.Names, Name{IP: ip.String(), Names: uniq})
	}
	if rec.DNS == nil {
		for _, rc := range rec.Containers {
			for _, ep := range rc.Endpoints {
				if len(ep.Names) > 0 {
					add(ep.Network, ep.Addr.Addr(), ep.Names)
				}
			}
		}
		return
	}
	registered := map[string]bool{}
	for _, r := range rec.DNS {
		registered[r.ID] = true
		for _, e := range r.Entries {
			add(e.Network, e.IP, e.Names)
		}
	}
	for _, rc := range rec.Containers {
		for _, ep := range rc.Endpoints {
			if len(ep.Names) > 0 && !registered[rc.ID] {
				b.problem(b.byNet[ep.Network], Missing, "the resolver has no registration of %s", rc.Name)
				break
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// finish sorts everything, for a stable drawing.
func (b *builder) finish() {
	t := b.t
	slices.SortFunc(t.Networks, func(a, c *Network) int {
		// Networks with a record first, by name; then bare bridges.
		return cmp.Or(cmp.Compare(b2i(a.Name == ""), b2i(c.Name == "")), strings.Compare(a.Name, c.Name), strings.Compare(a.Bridge, c.Bridge))
	})
	for _, n := range t.Networks {
		slices.SortFunc(n.Containers, func(a, c *Container) int {
			return cmp.Or(strings.Compare(a.Name, c.Name), strings.Compare(a.If.Peer, c.If.Peer))
		})
		slices.Sort(n.Ports)
		slices.SortFunc(n.Names, func(a, c Name) int { return compareAddr(a.IP, c.IP) })
	}
	slices.SortFunc(t.Ports, func(a, c *Port) int {
		return cmp.Or(compareAddr(a.HostIP, c.HostIP), cmp.Compare(a.HostPort, c.HostPort), strings.Compare(a.Proto, c.Proto))
	})
	if t.Networks == nil {
		t.Networks = []*Network{}
	}
	if t.Ports == nil {
		t.Ports = []*Port{}
	}
	if t.Problems == nil {
		t.Problems = []Problem{}
	}
	if t.HostNetwork == nil {
		t.HostNetwork = []string{}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func compareAddr(a, b string) int {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	if errx != nil || erry != nil {
		return strings.Compare(a, b)
	}
	return x.Compare(y)
}

// Only keeps the networks named in refs (by name, id or id prefix, or
// bridge), the ports that lead into them and the problems about them; no
// refs, none. A ref that matches none is an error like Docker's.
func (t *Topology) Only(refs []string) error {
	keep := map[*Network]bool{}
	for _, ref := range refs {
		var found *Network
		for _, n := range t.Networks {
			if ref != "" && (n.Name == ref || n.Bridge == ref || n.ID == ref) {
				found = n
				break
			}
		}
		if found == nil {
			for _, n := range t.Networks {
				if ref != "" && n.ID != "" && strings.HasPrefix(n.ID, ref) {
					found = n
					break
				}
			}
		}
		if found == nil {
			return fmt.Errorf("network %s not found", ref)
		}
		keep[found] = true
	}
	names, bridges := map[string]bool{}, map[string]bool{}
	var nets []*Network
	for _, n := range t.Networks {
		if keep[n] {
			nets = append(nets, n)
			bridges[n.Bridge] = true
			if n.Name != "" {
				names[n.Name] = true
			}
		}
	}
	t.Networks = nets
	t.Ports = slices.DeleteFunc(t.Ports, func(p *Port) bool { return !names[p.Network] })
	t.Problems = slices.DeleteFunc(t.Problems, func(p Problem) bool { return !bridges[p.Bridge] })
	return nil
}
