package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime/flock"
)

// Crash safety. A hutch command can be killed at any point, so every kernel
// object is recorded before it is made, and what no live record owns is
// removed by the next command that looks (netavark keeps its firewall intent
// on disk the same way; Docker sweeps stale sandboxes):
//
//   - a network being created is a directory whose record is still
//     intentFile; one being removed is renamed to .rm-<id>. Both happen under
//     the store's lock, so either seen under it is a command that died, and
//     finishing it (teardown, then the directory) is Reconcile's first step;
//     List finishes them too, when nobody holds the lock, and so does a
//     create before it chooses a subnet;
//   - rules in this root's table tagged with a bridge no record names are
//     a create or rm that died before it could record or after it forgot;
//   - leases, published ports and veths are owned by containers, which this
//     package does not know: the caller says which are live (Owners).

// intentFile is a network's record while its kernel side is being made.
const intentFile = "intent.json"

// removingPrefix marks a network directory whose removal has begun.
const removingPrefix = ".rm-"

// Owners is what the container records of the root hold, as the caller
// reads them while holding what keeps them true (runtime: its store lock).
type Owners struct {
	// Leases are the addresses records hold: they stay.
	Leases []Lease
	// Busy reports whether a command still running may be leasing for
	// owner ("": for anyone), so that the leases it holds stay. It is asked
	// after the leases are read.
	Busy func(owner string) bool
	// Running are the containers whose monitor lives: their veths and
	// published ports stay.
	Running []Running
}

// Lease is one address held on one network.
type Lease struct {
	NetworkID string
	IP        netip.Addr
	Owner     string
}

// Running is what a live container may have wired.
type Running struct {
	Veths   []string           // host ends of its veths
	IP      netip.Addr         // its first endpoint's address: its ports go there
	Publish []portspec.Mapping // what it publishes; a host port of 0 is any
}

// Reconcile removes what no record or live owner holds: networks a killed
// create or rm left half made, their rules and bridges, and the leases,
// published ports and veths o does not name. It carries on past errors and
// returns them all.
func (s *Store) Reconcile(o Owners) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	errs := []error{s.finishLocked()}
	all, err := s.listLocked()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	// A publish in progress holds the ports lock: under it, one is either
	// done (and its container, live, in o) or not begun.
	unlockPorts, err := s.portsLock()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer unlockPorts()
	seen, err := s.observe(all)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	return errors.Join(append(errs, s.apply(plan(all, o, seen)))...)
}

// observed is what the lease files and the kernel hold of this root.
type observed struct {
	leases      map[string]map[netip.Addr]string // by network id: address -> owner
	tagged      []string                         // bridges the table has rules for
	ports       []nft.Port                       // published
	bridgePorts map[string][]string              // devices on each network's bridge
}

// cleanup is what Reconcile removes.
type cleanup struct {
	bridges []string // with their rules
	leases  []Lease
	ports   []nft.Port
	veths   []string
}

func (s *Store) observe(all []*Network) (seen observed, err error) {
	seen.leases = map[string]map[netip.Addr]string{}
	var bridges []string
	for _, n := range all {
		held, err := s.Leases(n).List()
		if err != nil && !errors.Is(err, os.ErrNotExist) { // missing: removed meanwhile
			return seen, err
		}
		seen.leases[n.ID] = held
		bridges = append(bridges, n.Bridge)
	}
	if seen.tagged, err = s.Table.Bridges(); err != nil {
		return seen, err
	}
	if ok, err := s.Table.Exists(); err != nil {
		return seen, err
	} else if ok {
		if seen.ports, err = s.Table.Ports(); err != nil {
			return seen, err
		}
	}
	seen.bridgePorts, err = link.BridgePorts(bridges)
	return seen, err
}

// plan decides, from the network records all, the owners o and what is
// seen, what goes: bridges (and their rules) no record names, leases no
// record holds and no busy command may be making, ports that go to no
// running container or to one that did not ask for them, and veths no
// running container owns (a killed monitor's, whose namespace something
// still holds, or a killed connect's).
func plan(all []*Network, o Owners, seen observed) cleanup {
	var c cleanup
	for _, b := range seen.tagged {
		if !slices.ContainsFunc(all, func(n *Network) bool { return n.Bridge == b }) {
			c.bridges = append(c.bridges, b)
		}
	}
	for _, n := range all {
		var stale []Lease
		for ip, owner := range seen.leases[n.ID] {
			l := Lease{NetworkID: n.ID, IP: ip, Owner: owner}
			if !slices.Contains(o.Leases, l) && (o.Busy == nil || !o.Busy(owner)) {
				stale = append(stale, l)
			}
		}
		slices.SortFunc(stale, func(a, b Lease) int { return a.IP.Compare(b.IP) })
		c.leases = append(c.leases, stale...)
	}
	for _, p := range seen.ports {
		if !slices.ContainsFunc(o.Running, func(r Running) bool { return r.wants(p) }) {
			c.ports = append(c.ports, p)
		}
	}
	for _, n := range all {
		for _, v := range seen.bridgePorts[n.Bridge] {
			if !slices.ContainsFunc(o.Running, func(r Running) bool { return slices.Contains(r.Veths, v) }) {
				c.veths = append(c.veths, v)
			}
		}
	}
	return c
}

// wants reports whether p is one of r's published ports.
func (r Running) wants(p nft.Port) bool {
	if p.ContainerIP != r.IP {
		return false
	}
	unspecified := func(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() }
	return slices.ContainsFunc(r.Publish, func(m portspec.Mapping) bool {
		return m.Proto == p.Proto && m.ContainerPort == p.ContainerPort &&
			(m.HostPort == 0 || m.HostPort == p.HostPort) &&
			(m.HostIP == p.HostIP || unspecified(m.HostIP) && unspecified(p.HostIP))
	})
}

func (s *Store) apply(c cleanup) error {
	var errs []error
	for _, b := range c.bridges {
		errs = append(errs, s.Table.RemoveNetwork(b), link.Delete(b))
	}
	for _, l := range c.leases {
		errs = append(errs, s.Leases(&Network{ID: l.NetworkID}).Release(l.IP, l.Owner))
	}
	errs = append(errs, s.Table.RemovePorts(c.ports))
	for _, v := range c.veths {
		errs = append(errs, link.Delete(v))
	}
	return errors.Join(errs...)
}

// finishDead finishes the creates and removals that died, unless someone
// holds the lock (a live create or rm: then there may be none).
func (s *Store) finishDead() {
	unlock, ok, err := flock.TryExclusive(filepath.Join(s.dir, ".lock"))
	if err != nil || !ok {
		return
	}
	defer unlock()
	s.finishLocked() // what fails stays for the next command
}

// finishLocked tears down every network a create or rm left half done.
func (s *Store) finishLocked() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	var errs []error
	finished := false
	for _, e := range entries {
		if !e.IsDir() || !halfDone(s.dir, e.Name()) {
			continue
		}
		dir := filepath.Join(s.dir, e.Name())
		if n, err := readHalfDone(dir); err != nil {
			errs = append(errs, err)
			continue
		} else if n != nil {
			if err := s.teardown(n); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
			continue
		}
		finished = true
	}
	if finished {
		if rest, err := s.listLocked(); err == nil && len(rest) == 0 {
			errs = append(errs, s.Table.Delete())
		}
	}
	return errors.Join(errs...)
}

// halfDone reports whether the directory name under dir is a network a
// create or rm has not finished: .rm-<id>, or <id> without network.json.
func halfDone(dir, name string) bool {
	if id, ok := strings.CutPrefix(name, removingPrefix); ok {
		return isID(id)
	}
	if !isID(name) {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, name, "network.json"))
	return errors.Is(err, os.ErrNotExist)
}

// readHalfDone reads the record (or intent) of a half-done network; nil if
// it never got one (nothing was made in the kernel yet).
func readHalfDone(dir string) (*Network, error) {
	for _, f := range []string{"network.json", intentFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var n Network
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, f), err)
		}
		return &n, nil
	}
	return nil, nil
}

func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
