package runtime

import (
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/topology"
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
	rec, err := v.topologyRecords(nets)
	if err != nil {
		return nil, err
	}
	t, err := topology.Build(topology.Live{Table: nets.Table}, rec)
	if err != nil || len(refs) == 0 {
		return t, err
	}
	return t, t.Only(only)
}

func (v *Networks) topologyRecords(nets *network.Store) (topology.Records, error) {
	rec := topology.Records{Table: nets.Table.Name}
	all, err := nets.List()
	if err != nil {
		return rec, err
	}
	for _, n := range all {
		rec.Networks = append(rec.Networks, topology.RecNetwork{Name: n.Name, ID: n.ID, Bridge: n.Bridge,
			Subnet: n.Subnet, Gateway: n.Gateway, Internal: n.Internal})
	}
	cs, err := v.ctrs.List()
	if err != nil {
		return rec, err
	}
	for _, c := range cs {
		if !c.Running() {
			continue
		}
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
	dir := filepath.Join(v.root, "dns") // the resolver's
	if rec.DNS, err = topology.ReadRegistrations(dir); err != nil {
		rec.DNS, rec.DNSSource = nil, "hutch's records ("+err.Error()+")"
	} else {
		rec.DNSSource = "the resolver's registrations" // dns/members under the root
	}
	return rec, nil
}
