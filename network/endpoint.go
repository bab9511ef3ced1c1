package network

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
)

// Endpoint is one container's place on one network: its address from
// create to rm, its veth while it runs.
type Endpoint struct {
	NetworkID string     `json:"networkId"`
	Network   string     `json:"network"` // the name, for display
	IP        netip.Addr `json:"ip"`
	PrefixLen int        `json:"prefixLen"`
	Gateway   netip.Addr `json:"gateway"`
	IfName    string     `json:"ifName"` // inside the container: eth0, eth1, ...
	HostIf    string     `json:"hostIf"` // the veth's host end, on the bridge
	Aliases   []string   `json:"aliases,omitempty"`
	MACAddr   string     `json:"mac,omitempty"` // --mac-address; "": derived from the IP
}

// MAC is the endpoint's hardware address: --mac-address's, else derived
// from its IP.
func (e *Endpoint) MAC() string {
	if e.MACAddr != "" {
		return e.MACAddr
	}
	return link.MACFor(e.IP).String()
}

// newEndpoint leases an address for owner on n (ip pins one) and names the
// endpoint's interfaces: index is its place among the container's endpoints.
func (s *Store) newEndpoint(n *Network, owner string, index int, ip netip.Addr, aliases []string) (*Endpoint, error) {
	if ip.IsValid() && !n.UserDefined() {
		return nil, invalidf("--ip: a pinned address needs a user-defined network")
	}
	if len(aliases) > 0 && !n.UserDefined() {
		return nil, invalidf("--network-alias: aliases need a user-defined network")
	}
	addr, err := s.Lease(n, owner, ip)
	if err != nil {
		return nil, err
	}
	return &Endpoint{
		NetworkID: n.ID, Network: n.Name, IP: addr, PrefixLen: n.Subnet.Bits(), Gateway: n.Gateway,
		IfName: fmt.Sprintf("eth%d", index), HostIf: fmt.Sprintf("vh%s%x", owner[:12], index%16),
		Aliases: aliases,
	}, nil
}

// release gives the endpoint's address back.
func (s *Store) release(e *Endpoint, owner string) error {
	n := &Network{ID: e.NetworkID}
	return s.Leases(n).Release(e.IP, owner)
}

// attachEndpoint wires the endpoint into the network namespace ns: the network's
// bridge (remade if a reboot took it), a veth pair, the address and, for
// the first endpoint, the default route.
func (s *Store) attachEndpoint(e *Endpoint, ns *os.File) error {
	n, err := s.Get(e.NetworkID)
	if err != nil {
		return fmt.Errorf("network %s: %w", e.Network, err)
	}
	if err := s.Up(n); err != nil {
		return err
	}
	return link.AddVeth(link.Veth{
		HostName: e.HostIf, Bridge: n.Bridge, NetNS: ns, IfName: e.IfName,
		Addr: netip.PrefixFrom(e.IP, e.PrefixLen), Gateway: e.Gateway, DefaultRoute: e.IfName == "eth0",
		MAC: e.MACAddr,
	})
}

// detachEndpoint removes the endpoint's veth from the host (the container's end
// goes with it).
func (s *Store) detachEndpoint(e *Endpoint) error { return link.Delete(e.HostIf) }

// ForwardDrops warns about other tables that drop forwarded traffic before
// or after hutch's rules accept it (Docker leaves one behind).
func (s *Store) ForwardDrops() []string {
	drops, _ := nft.ForwardDrops(s.Table.Name)
	return drops
}
