package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/runtime/events"
)

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
