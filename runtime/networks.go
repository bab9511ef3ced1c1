package runtime

import (
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/runtime/events"
)

// Networks is the network verbs of a root: create, ls, inspect, rm and
// prune. The network package knows addresses, not containers; what these
// verbs need of the containers comes through NetworkUsers.
type Networks struct {
	root string
	ctrs NetworkUsers
}

// NetworkUsers is what the network verbs ask of the containers: a record
// by id (who an attached id is), every record (who runs with --network
// host or none), and a reconcile (a lease a dead container left must not
// keep its network from going). *Store is one.
type NetworkUsers interface {
	Get(ref string) (*Container, error)
	List() ([]*Container, error)
	Reconcile() error
}

// NewNetworks gives the network verbs of root, whose containers are ctrs.
func NewNetworks(root string, ctrs NetworkUsers) *Networks {
	return &Networks{root: root, ctrs: ctrs}
}

func (v *Networks) event(action string, n *network.Network) {
	event(v.root, events.Network, action, n.ID, "name", n.Name, "type", n.Driver)
}

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

// Create makes a user-defined network.
func (v *Networks) Create(name string, o network.CreateOptions) (*network.Network, error) {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil, err
	}
	n, err := nets.Create(name, o)
	if err == nil {
		v.event("create", n)
	}
	return n, asInvalid(err)
}

// List returns every network, the default one also before it is made
// (then without a subnet). Listing makes nothing.
func (v *Networks) List() ([]*network.Network, error) {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil, err
	}
	return nets.ListAll()
}

// Inspect describes a network and the containers on it.
func (v *Networks) Inspect(ref string) (*NetworkDetails, error) {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil, err
	}
	n, err := nets.Find(ref) // inspecting makes nothing, not even the default network
	if err != nil {
		if p := pseudoNetwork(v.root, ref); p != nil {
			return v.pseudoDetails(p), nil
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
		c, err := v.ctrs.Get(id)
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

// Remove deletes a network no container uses. What a killed hutch left (a
// lease whose container is gone, say) is reclaimed first.
func (v *Networks) Remove(ref string) (*network.Network, error) {
	v.ctrs.Reconcile() // what it cannot free shows as the removal's own error
	return v.remove(ref)
}

func (v *Networks) remove(ref string) (*network.Network, error) {
	nets, err := network.Open(v.root)
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
			if c, err := v.ctrs.Get(id); err == nil {
				names = append(names, c.Name)
			}
		}
		return n, invalidf("network %s is in use by container(s) %s: remove them or disconnect them first", n.Name, strings.Join(names, ", "))
	}
	if err == nil {
		v.event("destroy", n)
	}
	return n, asInvalid(err)
}

// Prune removes every user-defined network no container uses.
func (v *Networks) Prune() ([]string, error) {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil, err
	}
	all, err := nets.List()
	if err != nil {
		return nil, err
	}
	v.ctrs.Reconcile() // once for all: see Remove
	var removed []string
	for _, n := range all {
		if !n.UserDefined() {
			continue
		}
		if _, err := v.remove(n.ID); err == nil {
			removed = append(removed, n.Name)
		} else if !IsInvalid(err) {
			return removed, err
		}
	}
	return removed, nil
}

// ForwardDrops names other nftables chains that drop forwarded traffic.
func (v *Networks) ForwardDrops() []string {
	nets, err := network.Open(v.root)
	if err != nil {
		return nil
	}
	return nets.ForwardDrops()
}
