// Package network owns hutch's bridge networks: their records, addresses
// (network/ipam), bridges and veths (network/link), nftables rules
// (network/nft) and published ports (network/portspec).
//
// A network is a directory under <root>/networks/<id>: network.json and
// leases/, one file per address handed out. The files are the truth: a
// network is in use while it holds a lease. The kernel side (bridge, rules)
// is made on create and remade when next used after a reboot. A create or
// rm killed part-way is finished by the next command (reconcile.go).
//
// A container holds an endpoint per network from create to rm (its lease,
// endpoint.go). While it runs, its attachment (veths, host ports bound and
// published, its DNS registration) is made as one transaction and undone
// in reverse order (attach.go, ports.go).
package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hutchrt/hutch/network/ipam"
	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/runtime/atomicfile"
	"github.com/hutchrt/hutch/runtime/flock"
)

// DefaultName is the network containers join when run names none.
const DefaultName = "bridge"

// DefaultRoot is the root whose kernel objects carry the plain names
// (bridge hutch0, table hutch); any other root gets its own suffix, so that
// one --root always isolates one whole hutch instance.
const DefaultRoot = "/var/lib/hutch"

var (
	ErrNotFound = errors.New("no such network")
	ErrInvalid  = errors.New("invalid network request")
	ErrInUse    = errors.New("network in use")
	errExists   = fmt.Errorf("network exists%w", errSilent{ErrInvalid})
)

// Network is the persisted record of one network.
type Network struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Driver   string       `json:"driver"`
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway"`
	Internal bool         `json:"internal"`
	Bridge   string       `json:"bridge"`
	Created  time.Time    `json:"created"`
	// --label: shown by network inspect, matched by network ls --filter label=.
	Labels map[string]string `json:"labels,omitempty"`
}

// UserDefined reports whether n is a network of the user's (with name
// discovery), not the default bridge.
func (n *Network) UserDefined() bool { return n.Name != DefaultName }

// ShortID is the 12-character id Docker shows.
func (n *Network) ShortID() string { return n.ID[:12] }

// Store keeps the networks of one hutch root.
type Store struct {
	dir           string    // <root>/networks
	Table         nft.Table // this root's nftables table
	defaultBridge string
}

// Open opens (creating if needed) the network store of root.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(abs, "networks")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	s := &Store{dir: dir, Table: nft.Table{Name: "hutch"}, defaultBridge: "hutch0"}
	if abs != DefaultRoot {
		sum := sha256.Sum256([]byte(abs))
		tag := hex.EncodeToString(sum[:4])
		s.Table.Name += "-" + tag
		s.defaultBridge += "-" + tag
	}
	return s, nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s%w", fmt.Sprintf(format, args...), errSilent{ErrInvalid})
}

// errSilent wraps a sentinel without adding to the message.
type errSilent struct{ err error }

func (e errSilent) Error() string { return "" }
func (e errSilent) Unwrap() error { return e.err }

// MaxNameLen is the longest network name. Docker sets none; hutch keeps
// names to what fits one line of an error message and a file name.
const MaxNameLen = 128

var validName = sync.OnceValue(func() *regexp.Regexp { // compiled on first use, not at every start
	return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
})

// CreateOptions is what `network create` asks for.
type CreateOptions struct {
	Subnet   string // CIDR; empty: the first free subnet of the pool
	Gateway  string // empty: the subnet's first address
	Internal bool
	Labels   map[string]string
}

// Create makes a network with its bridge and rules. Bad input fails before
// anything exists; a failure later leaves nothing behind.
func (s *Store) Create(name string, o CreateOptions) (*Network, error) {
	switch {
	case len(name) > MaxNameLen:
		return nil, invalidf("network name %s: at most %d characters are allowed", shorten(name), MaxNameLen)
	case name == DefaultName || name == "host" || name == "none":
		return nil, invalidf("network name %s is reserved", name)
	case !validName().MatchString(name) || strings.HasPrefix(name, "container:"):
		return nil, invalidf("network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	var subnet netip.Prefix
	var gateway netip.Addr
	var err error
	if o.Subnet != "" {
		if subnet, err = ipam.ParseSubnet(o.Subnet); err != nil {
			return nil, invalidf("--subnet: %v", err)
		}
	} else if o.Gateway != "" {
		return nil, invalidf("--gateway needs --subnet")
	}
	if o.Gateway != "" {
		if gateway, err = netip.ParseAddr(o.Gateway); err != nil || !gateway.Is4() {
			return nil, invalidf("--gateway %q is not an IPv4 address", o.Gateway)
		}
	}
	if subnet.IsValid() {
		if gateway, err = ipam.CheckSubnet(subnet, gateway); err != nil {
			return nil, invalidf("%v", err)
		}
	}
	return s.create(name, subnet, gateway, o.Internal, o.Labels)
}

// create takes the locks, checks the name and subnet against what exists,
// then records and sets up the network.
func (s *Store) create(name string, subnet netip.Prefix, gateway netip.Addr, internal bool, labels map[string]string) (_ *Network, err error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Subnets are a host-wide resource: other hutch roots choose from the
	// same pool, so the choice and the bridge address that claims it happen
	// under one host-wide lock.
	unlockHost, err := flock.Exclusive("/run/lock/hutch-subnets.lock")
	if err != nil {
		return nil, err
	}
	defer unlockHost()
	// A create or rm that died may hold a subnet (its bridge's address) and
	// a name: finish it first. What fails is left for Reconcile.
	s.finishLocked()
	all, err := s.listLocked()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == name {
			return nil, fmt.Errorf("network with name %s already exists%w", name, errSilent{errExists})
		}
	}
	taken, err := link.HostPrefixes()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		taken = append(taken, n.Subnet)
	}
	if subnet.IsValid() {
		for _, n := range all {
			if ipam.Overlaps(subnet, n.Subnet) {
				return nil, invalidf("subnet %s overlaps network %s (%s)", subnet, n.Name, n.Subnet)
			}
		}
		for _, p := range taken {
			if ipam.Overlaps(subnet, p) {
				return nil, invalidf("subnet %s overlaps %s, already routed on this host", subnet, p)
			}
		}
	} else {
		pool, err := ipam.PoolFromEnv()
		if err != nil {
			return nil, err
		}
		if subnet, err = ipam.ChooseSubnet(pool, taken); err != nil {
			return nil, fmt.Errorf("no free subnet for network %s: %w", name, err)
		}
		if gateway, err = ipam.CheckSubnet(subnet, netip.Addr{}); err != nil {
			return nil, err
		}
	}
	n := &Network{ID: newID(), Name: name, Driver: "bridge", Subnet: subnet, Gateway: gateway,
		Internal: internal, Created: time.Now().UTC(), Labels: labels}
	n.Bridge = "hutch-" + n.ID[:9]
	if name == DefaultName {
		n.ID, n.Bridge = s.defaultID(), s.defaultBridge // as ListAll showed it before
	}
	dir := s.netDir(n.ID)
	if err := os.MkdirAll(filepath.Join(dir, "leases"), 0o711); err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	defer func() {
		if err != nil {
			s.teardown(n)
			os.RemoveAll(dir)
		}
	}()
	// The intent is recorded before the kernel objects are made: a create
	// killed after it is finished by the next command (see finishLocked).
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return nil, err
	}
	intent := filepath.Join(dir, intentFile)
	if err := atomicfile.Write(intent, b, 0o644); err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	if err := s.setup(n); err != nil {
		return nil, err
	}
	if err := os.Rename(intent, filepath.Join(dir, "network.json")); err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	return n, nil
}

// setup makes the network's bridge and rules, if they are missing.
func (s *Store) setup(n *Network) error {
	made, err := link.EnsureBridge(n.Bridge, netip.PrefixFrom(n.Gateway, n.Subnet.Bits()))
	if err != nil {
		return err
	}
	exists, err := s.Table.Exists()
	if err != nil {
		return err
	}
	if made || !exists {
		if err := s.Table.Ensure(); err != nil {
			return err
		}
		return s.Table.AddNetwork(nft.Network{Bridge: n.Bridge, Subnet: n.Subnet, Internal: n.Internal})
	}
	return nil
}

// teardown removes the network's kernel side: rules, then bridge.
func (s *Store) teardown(n *Network) error {
	err := s.Table.RemoveNetwork(n.Bridge)
	return errors.Join(err, link.Delete(n.Bridge))
}

// Up makes sure the network's bridge and rules exist (after a reboot, or
// after someone deleted them) before a container is attached.
func (s *Store) Up(n *Network) error {
	if link.Exists(n.Bridge) {
		return nil
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.setup(n)
}

// Get finds a network by name, full id or unique id prefix. The default
// network is made on first use.
func (s *Store) Get(ref string) (*Network, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	if n := find(all, ref); n != nil {
		return n, nil
	}
	if ref != DefaultName {
		for _, n := range all {
			if ref != "" && strings.HasPrefix(n.ID, ref) {
				return nil, invalidf("network id prefix %s is ambiguous", ref)
			}
		}
		return nil, fmt.Errorf("network %s not found%w", shorten(ref), errSilent{ErrNotFound})
	}
	n, err := s.create(DefaultName, netip.Prefix{}, netip.Addr{}, false, nil)
	if errors.Is(err, errExists) { // a parallel hutch made it
		return s.Get(ref)
	}
	return n, err
}

// find returns the network ref names exactly (name or id), or by its only
// id prefix; nil if none or several.
func find(all []*Network, ref string) *Network {
	var byPrefix []*Network
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n
		}
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			byPrefix = append(byPrefix, n)
		}
	}
	if len(byPrefix) == 1 {
		return byPrefix[0]
	}
	return nil
}

// List returns every network, by name.
// Creates and removals a killed command left half done are finished first,
// unless a live one holds the lock.
func (s *Store) List() ([]*Network, error) {
	return s.list(true) // records are written by rename: readers need no lock
}

func (s *Store) listLocked() ([]*Network, error) { return s.list(false) }

func (s *Store) list(finish bool) ([]*Network, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []*Network
	halfDone := false
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") { // .rm-*: being removed
			halfDone = halfDone || strings.HasPrefix(e.Name(), removingPrefix)
			continue
		}
		var n Network
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name(), "network.json"))
		if err != nil || json.Unmarshal(b, &n) != nil {
			halfDone = true // being made or removed, or a command that did so died
			continue
		}
		out = append(out, &n)
	}
	if halfDone && finish {
		s.finishDead()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a network with no containers attached.
func (s *Store) Remove(ref string) (*Network, error) {
	n, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	if !n.UserDefined() {
		return n, invalidf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	unlock, err := s.lock()
	if err != nil {
		return n, err
	}
	defer unlock()
	// Leases are taken under the network's shared lock: holding it
	// exclusively, no container can join while the network goes.
	unlockNet, err := flock.Exclusive(filepath.Join(s.netDir(n.ID), "lock"))
	if err != nil {
		return n, err
	}
	defer unlockNet()
	owners, err := s.Leases(n).List()
	if err != nil {
		return n, err
	}
	if len(owners) > 0 {
		return n, fmt.Errorf("network %s has %d attached container(s)%w", n.Name, len(owners), errSilent{ErrInUse})
	}
	// The record goes first, renamed: a half-removed network is then gone
	// for every command, and the next one to look finishes its removal
	// from the renamed record (see finishLocked).
	dir := s.netDir(n.ID)
	gone := filepath.Join(s.dir, removingPrefix+n.ID)
	if err := os.Rename(dir, gone); err != nil {
		return n, fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := s.teardown(n); err != nil {
		return n, err
	}
	if err := os.RemoveAll(gone); err != nil {
		return n, err
	}
	// The last network gone (the default one is never removed, so none was
	// ever used here but user-defined ones): the host is as it was before.
	if rest, err := s.listLocked(); err == nil && len(rest) == 0 {
		return n, s.Table.Delete()
	}
	return n, nil
}

// Users lists the ids of the containers holding an address on n.
func (s *Store) Users(n *Network) ([]string, error) {
	owners, err := s.Leases(n).List()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range owners {
		ids = append(ids, o)
	}
	sort.Strings(ids)
	return ids, nil
}

// Leases is the address book of n.
func (s *Store) Leases(n *Network) *ipam.Leases {
	return &ipam.Leases{Dir: filepath.Join(s.netDir(n.ID), "leases"), Subnet: n.Subnet, Gateway: n.Gateway}
}

// Lease gives owner an address on n: ip if valid, else the next free one.
// It holds the network's shared lock, so a concurrent `network rm` either
// sees the lease or has removed the network before it.
func (s *Store) Lease(n *Network, owner string, ip netip.Addr) (netip.Addr, error) {
	unlock, err := flock.Shared(filepath.Join(s.netDir(n.ID), "lock"))
	if err != nil {
		return netip.Addr{}, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(s.netDir(n.ID), "network.json")); err != nil {
		return netip.Addr{}, fmt.Errorf("network %s not found%w", n.Name, errSilent{ErrNotFound})
	}
	l := s.Leases(n)
	if ip.IsValid() {
		if err := l.Reserve(ip, owner); err != nil {
			return netip.Addr{}, invalidf("--ip: %v", err)
		}
		return ip, nil
	}
	ip, err = l.Allocate(owner)
	if errors.Is(err, ipam.ErrNoFreeAddress) {
		return ip, fmt.Errorf("network %s: %w", n.Name, err)
	}
	return ip, err
}

func (s *Store) netDir(id string) string { return filepath.Join(s.dir, id) }

func (s *Store) lock() (func(), error) { return flock.Exclusive(filepath.Join(s.dir, ".lock")) }

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
