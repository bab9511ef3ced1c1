package runtime

import (
	"net/netip"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/topology"
)

// Topology reads the live network topology (network graph): the kernel's,
// with this root's records joined in to name things and find where they
// disagree.
func (s *Store) Topology() (*topology.Topology, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	rec, err := s.topologyRecords(nets)
	if err != nil {
		return nil, err
	}
	return topology.Build(topology.Live{Table: nets.Table}, rec)
}

func (s *Store) topologyRecords(nets *network.Store) (topology.Records, error) {
	rec := topology.Records{Table: nets.Table.Name}
	all, err := nets.List()
	if err != nil {
		return rec, err
	}
	for _, n := range all {
		rec.Networks = append(rec.Networks, topology.RecNetwork{Name: n.Name, ID: n.ID, Bridge: n.Bridge,
			Subnet: n.Subnet, Gateway: n.Gateway, Internal: n.Internal})
	}
	cs, err := s.List()
	if err != nil {
		return rec, err
	}
	for _, c := range cs {
		if !c.Running() || len(c.Endpoints) == 0 {
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
	dir := s.resolverDir()
	if rec.DNS, err = topology.ReadRegistrations(dir); err != nil {
		rec.DNS, rec.DNSSource = nil, "hutch's records ("+err.Error()+")"
	} else {
		rec.DNSSource = "the resolver's registrations" // dns/members under the root
	}
	return rec, nil
}
