package runtime

import (
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/topology"
	"github.com/hutchrt/hutch/network/trace"
)

// Topology reads the live network topology (network graph): the kernel's,
// with this root's records joined in to name things and find where they
// disagree. refs limit it to those networks (names, ids or id prefixes, as
// network inspect takes them); one that names none is an error.
func (v *Networks) Topology(refs ...string) (*topology.Topology, error) {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil, err
	}
	var only []string
	for _, ref := range refs {
		if pseudoNetwork(v.root, ref) != nil {
			continue // host and none: no bridge, nothing of theirs to draw
		}
		n, err := nets.Find(ref)
		if err != nil {
			return nil, err
		}
		if n.Made() { // the default network before its first use has nothing to draw
			only = append(only, n.ID)
		}
	}
	recs, err := v.netRecords(nets)
	if err != nil {
		return nil, err
	}
	rec := recs.topology(v.root)
	t, err := topology.Build(topology.Live{Table: nets.Table}, rec)
	if err != nil || len(refs) == 0 {
		return t, err
	}
	return t, t.Only(only)
}

// netRecords is hutch's side of network graph and network trace: the
// networks and the running containers, read once and joined (an endpoint's
// bridge is its network's), to name what the kernel shows.
type netRecords struct {
	table   string
	nets    []*network.Network
	bridges map[string]string // by network id
	running []*Container
}

func (v *Networks) netRecords(nets *network.Store) (netRecords, error) {
	r := netRecords{table: nets.Table.Name, bridges: map[string]string{}}
	all, err := nets.List()
	if err != nil {
		return r, err
	}
	r.nets = all
	for _, n := range all {
		r.bridges[n.ID] = n.Bridge
	}
	cs, err := v.ctrs.List()
	if err != nil {
		return r, err
	}
	for _, c := range cs {
		// Alive by its pid and start: graph and trace enter its
		// namespace by that pid, which must not be a reused one.
		if c.Running() && alive(c.Pid, c.PidStart) {
			r.running = append(r.running, c)
		}
	}
	return r, nil
}

// topology is the records as network graph joins them in; root is where
// the resolver keeps its registrations.
func (r netRecords) topology(root string) topology.Records {
	rec := topology.Records{Table: r.table}
	for _, n := range r.nets {
		rec.Networks = append(rec.Networks, topology.RecNetwork{Name: n.Name, ID: n.ID, Bridge: n.Bridge,
			Subnet: n.Subnet, Gateway: n.Gateway, Internal: n.Internal})
	}
	for _, c := range r.running {
		if c.Network == "host" {
			rec.HostNetwork = append(rec.HostNetwork, c.Name)
		}
		if target, ok := strings.CutPrefix(c.Network, "container:"); ok {
			if rec.Joined == nil {
				rec.Joined = map[string][]string{}
			}
			rec.Joined[target] = append(rec.Joined[target], c.Name)
		}
		if len(c.Endpoints) == 0 {
			continue
		}
		rc := topology.RecContainer{Name: c.Name, ID: c.ID, Pid: c.Pid, PidStart: c.PidStart}
		for _, ep := range c.Endpoints {
			re := topology.RecEndpoint{Network: ep.Network, IfName: ep.IfName, HostIf: ep.HostIf,
				Addr: netip.PrefixFrom(ep.IP, ep.PrefixLen)}
			if ep.Network != network.DefaultName {
				re.Names = append(append([]string{c.Name}, ep.Aliases...), c.ShortID(), c.Host)
			}
			rc.Endpoints = append(rc.Endpoints, re)
		}
		// Ports are published to the first endpoint's address (network.AttachContainer).
		for _, m := range c.Ports {
			rc.Ports = append(rc.Ports, nft.Port{HostIP: m.HostIP, HostPort: m.HostPort, Proto: m.Proto,
				ContainerIP: c.Endpoints[0].IP, ContainerPort: m.ContainerPort})
		}
		rec.Containers = append(rec.Containers, rc)
	}
	var err error
	dir := filepath.Join(root, "dns") // the resolver's
	if rec.DNS, err = topology.ReadRegistrations(dir); err != nil {
		rec.DNS, rec.DNSSource = nil, "hutch's records ("+err.Error()+")"
	} else {
		rec.DNSSource = "the resolver's registrations" // dns/members under the root
	}
	return rec
}

// trace is the records as network trace joins them in.
func (r netRecords) trace() trace.Records {
	recs := trace.Records{Table: r.table}
	for _, n := range r.nets {
		recs.Networks = append(recs.Networks, trace.Network{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet})
	}
	for _, c := range r.running {
		if c.Pid == 0 {
			continue
		}
		tc := trace.Container{Name: c.Name, Pid: c.Pid, NoDNS: true}
		for _, e := range c.Endpoints {
			tc.NoDNS = tc.NoDNS && e.Network == network.DefaultName
			tc.Endpoints = append(tc.Endpoints, trace.Endpoint{Network: e.Network, Bridge: r.bridges[e.NetworkID],
				IP: e.IP, IfName: e.IfName, HostIf: e.HostIf, Aliases: e.Aliases})
		}
		recs.Containers = append(recs.Containers, tc)
	}
	return recs
}
