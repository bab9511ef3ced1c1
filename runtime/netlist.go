package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hutchrt/hutch/network"
)

// The networks Docker lists beside bridge: host (the host's stack) and
// none (loopback only). They are modes, not records: no bridge, no leases.
var pseudoNetworks = []struct{ name, driver string }{{"host", "host"}, {"none", "null"}}

// pseudoID is a stable id per root for host or none.
func pseudoID(root, name string) string {
	sum := sha256.Sum256([]byte("hutch " + name + " network\x00" + root))
	return hex.EncodeToString(sum[:])
}

// pseudoNetwork is root's host or none if ref names it (by name, id or id
// prefix). Container inspect shows them too.
func pseudoNetwork(root, ref string) *network.Network {
	for _, p := range pseudoNetworks {
		id := pseudoID(root, p.name)
		if ref == p.name || (ref != "" && strings.HasPrefix(id, ref)) {
			return &network.Network{ID: id, Name: p.name, Driver: p.driver}
		}
	}
	return nil
}

// pseudoDetails is network inspect of host or none: the containers in that
// mode, with no addresses.
func (v *Networks) pseudoDetails(n *network.Network) *NetworkDetails {
	d := &NetworkDetails{
		Name: n.Name, ID: n.ID, Created: time.Time{}, Scope: "local", Driver: n.Driver,
		IPAM:       IPAM{Driver: "default", Options: map[string]string{}, Config: []IPAMConfig{}},
		Containers: map[string]NetworkContainer{}, Options: map[string]string{}, Labels: map[string]string{},
	}
	all, _ := v.ctrs.List()
	for _, c := range all {
		if c.Network == n.Name && c.Running() {
			d.Containers[c.ID] = NetworkContainer{Name: c.Name}
		}
	}
	return d
}

// Rows is network ls's rows: the default network, host, none and the
// user's, by name as Docker sorts them.
func (v *Networks) Rows() ([]*network.Network, error) {
	all, err := v.List()
	if err != nil {
		return nil, err
	}
	for _, p := range pseudoNetworks {
		all = append(all, pseudoNetwork(v.root, p.name))
	}
	slices.SortFunc(all, func(a, b *network.Network) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

// Exists reports whether ref could name a network (an ambiguous id prefix
// counts: inspecting it says why it fails).
func (v *Networks) Exists(ref string) bool {
	nets, err := network.Open(v.root)
	if err != nil {
		return true // let the inspection report it
	}
	_, err = nets.Find(ref)
	return !errors.Is(err, network.ErrNotFound) || pseudoNetwork(v.root, ref) != nil
}
