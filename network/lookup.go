package network

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// The default network is made on first use (a container's run), not when
// something merely looks at it: listing must leave the host as it is. Until
// then it is shown as it will be, with its id and bridge but no subnet yet
// (the subnet is chosen when it is made, among those then free). Its id is
// derived from the root, so it is the same before and after it is made.

// defaultID is the id of this root's default network.
func (s *Store) defaultID() string {
	sum := sha256.Sum256([]byte("hutch default network\x00" + s.dir))
	return hex.EncodeToString(sum[:])
}

// defaultToBe is the default network before it is made.
func (s *Store) defaultToBe() *Network {
	return &Network{ID: s.defaultID(), Name: DefaultName, Driver: "bridge", Bridge: s.defaultBridge}
}

// ListAll is List with the default network shown even before it is made.
// Like List, it makes nothing.
func (s *Store) ListAll() ([]*Network, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == DefaultName {
			return all, nil
		}
	}
	all = append(all, s.defaultToBe())
	sortByName(all)
	return all, nil
}

// Find is Get without making the default network: one not made yet is
// returned as it will be (no subnet).
func (s *Store) Find(ref string) (*Network, error) {
	all, err := s.ListAll()
	if err != nil {
		return nil, err
	}
	if n := find(all, ref); n != nil {
		return n, nil
	}
	for _, n := range all {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			return nil, invalidf("network id prefix %s is ambiguous", ref)
		}
	}
	return nil, fmt.Errorf("network %s not found%w", shorten(ref), errSilent{ErrNotFound})
}

// Made reports whether n exists (has a record), rather than being the
// default network not made yet.
func (n *Network) Made() bool { return n.Subnet.IsValid() }

// shorten keeps a user's overlong input out of error lines.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s... (%d characters)", s[:max], len(s))
}

func sortByName(all []*Network) {
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
}
