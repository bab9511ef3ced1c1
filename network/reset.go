package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hutchrt/hutch/network/link"
)

// Reset removes every network of the root, the default one included, with
// their bridges and rules, then the root's nftables table and the store's
// directory: afterwards nothing of the root's networking is left on the
// host. Callers remove the containers first (their veths go with their
// network namespaces); leases are not checked. It returns the names of the
// networks it removed.
func (s *Store) Reset() ([]string, error) {
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		return nil, s.Table.Delete() // a table without a store: a crash, or none at all
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reset networks: %w", err)
	}
	var removed []string
	var errs []error
	// The default bridge is named by the root: it goes even if its record
	// never got written (a crash while it was made).
	bridges := map[string]bool{s.defaultBridge: true}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		// .rm-<id>: a network rm that died part-way; its bridge is still to go.
		var n Network
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name(), "network.json"))
		if err != nil || json.Unmarshal(b, &n) != nil || n.Bridge == "" {
			continue
		}
		bridges[n.Bridge] = true
		if !strings.HasPrefix(e.Name(), ".") {
			removed = append(removed, n.Name)
		}
	}
	for br := range bridges {
		errs = append(errs, link.Delete(br))
	}
	// The table holds every network's rules and the published ports: it goes whole.
	errs = append(errs, s.Table.Delete())
	if err := errors.Join(errs...); err != nil {
		return nil, err // the records stay, so a second reset finds what to remove
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return removed, fmt.Errorf("reset networks: %w", err)
	}
	return removed, nil
}
