package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime/events"
)

// The network commands live here, beside the containers they count: the
// network package knows addresses, not containers.

// NetworkDetails is `network inspect`'s view of one network.
type NetworkDetails struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Created    time.Time                   `json:"Created"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       IPAM                        `json:"IPAM"`
	Subnet     string                      `json:"Subnet"`
	Gateway    string                      `json:"Gateway"`
	Internal   bool                        `json:"Internal"`
	Attachable bool                        `json:"Attachable"`
	Ingress    bool                        `json:"Ingress"`
	Bridge     string                      `json:"Bridge"`
	NftTable   string                      `json:"NftTable"`
	Containers map[string]NetworkContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`
}

// IPAM is Docker's address block of a network.
type IPAM struct {
	Driver  string            `json:"Driver"`
	Options map[string]string `json:"Options"`
	Config  []IPAMConfig      `json:"Config"`
}

// IPAMConfig is one subnet of a network.
type IPAMConfig struct {
	Subnet  string `json:"Subnet"`
	Gateway string `json:"Gateway"`
}

// NetworkContainer is one attached container, keyed by its id.
type NetworkContainer struct {
	Name        string   `json:"Name"`
	IPv4Address string   `json:"IPv4Address"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases,omitempty"`
}

// CreateNetwork makes a user-defined network.
func (s *Store) CreateNetwork(name string, o network.CreateOptions) (*network.Network, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	n, err := nets.Create(name, o)
	if err == nil {
		s.Event(events.Network, "create", n.ID, "name", n.Name, "type", n.Driver)
	}
	return n, asInvalid(err)
}

// ListNetworks returns every network, the default one also before it is
// made (then without a subnet). Listing makes nothing.
func (s *Store) ListNetworks() ([]*network.Network, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	return nets.ListAll()
}

// InspectNetwork describes a network and the containers on it.
func (s *Store) InspectNetwork(ref string) (*NetworkDetails, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	n, err := nets.Find(ref) // inspecting makes nothing, not even the default network
	if err != nil {
		if p := s.pseudoNetwork(ref); p != nil {
			return s.pseudoDetails(p), nil
		}
		return nil, asInvalid(err)
	}
	d := &NetworkDetails{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver, Internal: n.Internal,
		IPAM:   IPAM{Driver: "default", Options: map[string]string{}, Config: []IPAMConfig{}},
		Bridge: n.Bridge, NftTable: nets.Table.Name, Containers: map[string]NetworkContainer{},
		Options: map[string]string{"com.docker.network.bridge.name": n.Bridge}, Labels: n.Labels,
	}
	if d.Labels == nil {
		d.Labels = map[string]string{}
	}
	if !n.Made() {
		return d, nil // no subnet chosen yet, nobody attached
	}
	d.Subnet, d.Gateway = n.Subnet.String(), n.Gateway.String()
	d.IPAM.Config = []IPAMConfig{{Subnet: d.Subnet, Gateway: d.Gateway}}
	ids, err := nets.Users(n)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		c, err := s.Get(id)
		if err != nil {
			continue
		}
		for _, ep := range c.Endpoints {
			if ep.NetworkID == n.ID {
				d.Containers[c.ID] = NetworkContainer{Name: c.Name, IPv4Address: netip.PrefixFrom(ep.IP, ep.PrefixLen).String(),
					MacAddress: ep.MAC(), Aliases: ep.Aliases}
			}
		}
	}
	return d, nil
}

// RemoveNetwork deletes a network no container uses. What a killed hutch
// left (a lease whose container is gone, say) is reclaimed first.
func (s *Store) RemoveNetwork(ref string) (*network.Network, error) {
	s.Reconcile() // what it cannot free shows as the removal's own error
	return s.removeNetwork(ref)
}

func (s *Store) removeNetwork(ref string) (*network.Network, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	n, err := nets.Find(ref)
	if err != nil {
		return nil, asInvalid(err)
	}
	if !n.UserDefined() {
		return n, invalidf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	n, err = nets.Remove(n.ID)
	if errors.Is(err, network.ErrInUse) {
		ids, _ := nets.Users(n)
		var names []string
		for _, id := range ids {
			if c, err := s.Get(id); err == nil {
				names = append(names, c.Name)
			}
		}
		return n, invalidf("network %s is in use by container(s) %s: remove them or disconnect them first", n.Name, strings.Join(names, ", "))
	}
	if err == nil {
		s.Event(events.Network, "destroy", n.ID, "name", n.Name, "type", n.Driver)
	}
	return n, asInvalid(err)
}

// PruneNetworks removes every user-defined network no container uses.
func (s *Store) PruneNetworks() ([]string, error) {
	nets, err := s.Networks()
	if err != nil {
		return nil, err
	}
	all, err := nets.List()
	if err != nil {
		return nil, err
	}
	s.Reconcile() // once for all: see RemoveNetwork
	var removed []string
	for _, n := range all {
		if !n.UserDefined() {
			continue
		}
		if _, err := s.removeNetwork(n.ID); err == nil {
			removed = append(removed, n.Name)
		} else if !IsInvalid(err) {
			return removed, err
		}
	}
	return removed, nil
}

// Connect attaches a container to one more network: a running one gets the
// next ethN at once, a stopped one at its next start.
func (s *Store) Connect(ref, netRef string, ip string, aliases []string) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	if c.Network == "none" || c.Network == "host" || strings.HasPrefix(c.Network, "container:") {
		return invalidf("container %s uses --network %s: it cannot join other networks", c.Name, c.Network)
	}
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	n, err := nets.Get(netRef)
	if err != nil {
		return asInvalid(err)
	}
	var pinned netip.Addr
	if ip != "" {
		if pinned, err = netip.ParseAddr(ip); err != nil || !pinned.Is4() {
			return invalidf("--ip %q is not an IPv4 address", ip)
		}
	}
	// The lease and the veth are made under the store's lock, with the
	// record that names them, and under an intent: if this process dies
	// half-way, the next command finds them unnamed and removes them.
	done, err := s.beginIntent(c.ID)
	if err != nil {
		return err
	}
	defer done()
	var ep *network.Endpoint
	id := c.ID
	c, err = s.update(id, func(c *Container) error {
		index := 0
		for _, ep := range c.Endpoints {
			if ep.NetworkID == n.ID {
				return invalidf("container %s is already connected to network %s", c.Name, n.Name)
			}
		}
		for slices.ContainsFunc(c.Endpoints, func(ep *network.Endpoint) bool { return ep.IfName == fmt.Sprintf("eth%d", index) }) {
			index++
		}
		var ns *os.File // a running container gets its veth now
		if c.Running() {
			f, err := containerNetNS(c)
			if err != nil {
				return err
			}
			defer f.Close()
			ns = f
		}
		e, err := nets.Connect(n, c.ID, index, pinned, aliases, ns)
		if err != nil {
			return asInvalid(err)
		}
		ep = e
		c.Endpoints = append(c.Endpoints, ep)
		return nil
	})
	if err != nil {
		if ep != nil { // made, but the record could not be saved
			err = errors.Join(err, nets.Disconnect(ep, id))
		}
		return err
	}
	s.Event(events.Network, "connect", n.ID, "container", id, "name", n.Name, "type", n.Driver)
	// Its names on the new network resolve at once. (A container started
	// on the default bridge has no resolver to tell.)
	return s.updateDNS(c)
}

// Disconnect takes a container off a network: its interface goes at once.
func (s *Store) Disconnect(ref, netRef string) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	n, err := nets.Find(netRef)
	if err != nil {
		return asInvalid(err)
	}
	done, err := s.beginIntent(c.ID) // the lease and veth outlive the record's change
	if err != nil {
		return err
	}
	defer done()
	var gone *network.Endpoint
	c, err = s.update(c.ID, func(c *Container) error {
		i := slices.IndexFunc(c.Endpoints, func(ep *network.Endpoint) bool { return ep.NetworkID == n.ID })
		if i < 0 {
			return invalidf("container %s is not connected to network %s", c.Name, n.Name)
		}
		if i == 0 && len(c.Publish) > 0 && c.Running() {
			return invalidf("container %s publishes ports through network %s: stop it first", c.Name, n.Name)
		}
		gone = c.Endpoints[i]
		c.Endpoints = slices.Delete(c.Endpoints, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	s.Event(events.Network, "disconnect", n.ID, "container", c.ID, "name", n.Name, "type", n.Driver)
	return errors.Join(s.updateDNS(c), nets.Disconnect(gone, c.ID))
}

// PortLines is `hutch port`: the container's published ports, optionally
// only those of one container port ("80" or "80/udp").
func (s *Store) PortLines(ref, filter string) ([]string, error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	if filter != "" && !strings.Contains(filter, "/") {
		filter += "/tcp"
	}
	var out []string
	for _, m := range c.Ports {
		if filter == "" || m.ContainerKey() == filter {
			out = append(out, m.String())
		}
	}
	if filter != "" && len(out) == 0 {
		return nil, invalidf("no public port '%s' published for %s", filter, c.Name)
	}
	sort.Strings(out)
	return out, nil
}

// PortsColumn is `ps`'s PORTS: "0.0.0.0:8080->80/tcp, ...".
func PortsColumn(ms []portspec.Mapping) string {
	var parts []string
	for _, m := range ms {
		host := "0.0.0.0"
		if m.HostIP.IsValid() {
			host = m.HostIP.String()
		}
		parts = append(parts, fmt.Sprintf("%s:%d->%s", host, m.HostPort, m.ContainerKey()))
	}
	return strings.Join(parts, ", ")
}

// ForwardDrops names other nftables chains that drop forwarded traffic.
func (s *Store) ForwardDrops() []string {
	nets, err := s.Networks()
	if err != nil {
		return nil
	}
	return nets.ForwardDrops()
}
