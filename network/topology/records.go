package topology

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadRegistrations reads the embedded resolver's registrations, one file
// per container in DIR/members (the resolver's own record of what it
// serves: "e NETWORK IP NAME..." lines). No directory: none.
func ReadRegistrations(dir string) ([]Registration, error) {
	des, err := os.ReadDir(filepath.Join(dir, "members"))
	if errors.Is(err, fs.ErrNotExist) {
		return []Registration{}, nil
	}
	if err != nil {
		return nil, err
	}
	regs := []Registration{}
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "members", de.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, err
		}
		regs = append(regs, parseRegistration(de.Name(), string(b)))
	}
	sort.Slice(regs, func(i, j int) bool { return regs[i].ID < regs[j].ID })
	return regs, nil
}

func parseRegistration(id, text string) Registration {
	r := Registration{ID: id}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "e" {
			continue
		}
		ip, err := netip.ParseAddr(f[2])
		if err != nil {
			continue
		}
		r.Entries = append(r.Entries, Entry{Network: f[1], IP: ip, Names: f[3:]})
	}
	return r
}
