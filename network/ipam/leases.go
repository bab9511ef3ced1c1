package ipam

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// hintFile holds the address the next Allocate tries first, so that
// allocation does not rescan the leases already handed out and a freed
// address is not reused at once (a crash-looping container does not get its
// predecessor's address and its stale ARP entries).
const hintFile = ".next"

// Leases hands out the addresses of one subnet. Each lease is a file in Dir
// named after the address and holding the owner's id; creating it with
// O_EXCL is the reservation, which is atomic across processes. An empty
// lease file (its owner still writing) counts as taken, owner unknown.
//
// Dir belongs to the network and is created by the caller: a missing Dir
// means the network is gone, and every method then fails with an error
// wrapping fs.ErrNotExist rather than recreating it.
type Leases struct {
	Dir     string
	Subnet  netip.Prefix
	Gateway netip.Addr // never leased; zero when the network has none
}

// Allocate leases the next free address after the previous allocation,
// wrapping around once; never the network, broadcast or gateway address.
func (l *Leases) Allocate(owner string) (netip.Addr, error) {
	if err := l.check(owner); err != nil {
		return netip.Addr{}, fmt.Errorf("allocate address: %w", err)
	}
	r := rangeOf(l.Subnet)
	first, n := r.network+1, uint64(0) // n stays 0 for a /31 or /32
	if r.broadcast > first {
		n = r.broadcast - first
	}
	start := l.readHint(first, n)
	for i := range n {
		idx := (start + i) % n
		addr := addrOf(first + idx)
		if addr == l.Gateway.Unmap() {
			continue
		}
		err := l.create(addr, owner)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return netip.Addr{}, fmt.Errorf("allocate address in %s: %w", l.Subnet, err)
		}
		l.writeHint(addrOf(first + (idx+1)%n))
		return addr, nil
	}
	return netip.Addr{}, fmt.Errorf("allocate address in %s: %w", l.Subnet, ErrNoFreeAddress)
}

// Reserve leases a given address (--ip). Reserving an address the owner
// already holds succeeds, so that a retried setup is harmless.
func (l *Leases) Reserve(addr netip.Addr, owner string) error {
	if err := l.check(owner); err != nil {
		return fmt.Errorf("reserve %s: %w", addr, err)
	}
	addr = addr.Unmap()
	r := rangeOf(l.Subnet)
	switch {
	case !l.Subnet.Contains(addr):
		return fmt.Errorf("reserve %s: %w %s", addr, ErrOutsideSubnet, l.Subnet)
	case addr == addrOf(r.network):
		return fmt.Errorf("reserve %s: it is the network address of %s", addr, l.Subnet)
	case addr == addrOf(r.broadcast):
		return fmt.Errorf("reserve %s: it is the broadcast address of %s", addr, l.Subnet)
	case addr == l.Gateway.Unmap():
		return fmt.Errorf("reserve %s: %w by the gateway of %s", addr, ErrAddressInUse, l.Subnet)
	}
	// Retry once if the holder releases between our create and our read.
	for range 2 {
		err := l.create(addr, owner)
		if !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return fmt.Errorf("reserve %s: %w", addr, err)
			}
			return nil
		}
		holder, err := l.owner(addr)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reserve %s: %w", addr, err)
		}
		if holder == owner {
			return nil
		}
		if holder == "" {
			holder = "an unknown owner"
		}
		return fmt.Errorf("reserve %s: %w by %s", addr, ErrAddressInUse, holder)
	}
	return fmt.Errorf("reserve %s: %w (contended)", addr, ErrAddressInUse)
}

// Release removes the lease on addr if owner holds it. A missing lease, or
// one held by someone else, is left as it is and is not an error: teardown
// must be repeatable.
func (l *Leases) Release(addr netip.Addr, owner string) error {
	path := l.path(addr.Unmap())
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	defer f.Close()
	// Two releases by the same owner could race: the first removes the
	// lease, someone else leases the address again, and the second would
	// remove that new lease. Holding a lock on the file we read, and checking
	// it is still the one at path, closes that window.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("release %s: lock lease: %w", addr, err)
	}
	holder, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	if strings.TrimSpace(string(holder)) != owner {
		return nil
	}
	opened, err := f.Stat()
	if err != nil {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	current, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !os.SameFile(opened, current) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	return nil
}

// List returns every lease, address -> owner ("" while the owner is still
// being written).
func (l *Leases) List() (map[netip.Addr]string, error) {
	entries, err := os.ReadDir(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	leases := make(map[netip.Addr]string, len(entries))
	for _, e := range entries {
		addr, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue // the hint, or a stranger's file
		}
		owner, err := l.owner(addr)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released while we listed
		}
		if err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		leases[addr] = owner
	}
	return leases, nil
}

// Owned returns the addresses owner holds, in ascending order.
func (l *Leases) Owned(owner string) ([]netip.Addr, error) {
	leases, err := l.List()
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for addr, o := range leases {
		if o == owner {
			addrs = append(addrs, addr)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs, nil
}

func (l *Leases) check(owner string) error {
	if owner == "" || strings.TrimSpace(owner) != owner || strings.ContainsAny(owner, "\r\n") {
		return fmt.Errorf("invalid owner %q", owner) // it must read back as written
	}
	if !l.Subnet.IsValid() || !l.Subnet.Addr().Is4() {
		return fmt.Errorf("subnet %s: not an IPv4 subnet", l.Subnet)
	}
	return nil
}

func (l *Leases) path(addr netip.Addr) string {
	return filepath.Join(l.Dir, addr.String())
}

// create takes the lease on addr; an fs.ErrExist error means it is taken.
func (l *Leases) create(addr netip.Addr, owner string) error {
	f, err := os.OpenFile(l.path(addr), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(owner)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(l.path(addr)) // an ownerless lease would never be released
		return fmt.Errorf("write lease %s: %w", addr, err)
	}
	return nil
}

func (l *Leases) owner(addr netip.Addr) (string, error) {
	b, err := os.ReadFile(l.path(addr))
	return strings.TrimSpace(string(b)), err
}

// readHint returns the index in [0, n) where allocation starts. Anything
// unusable (no hint, garbage, another subnet's address) means 0.
func (l *Leases) readHint(first, n uint64) uint64 {
	b, err := os.ReadFile(filepath.Join(l.Dir, hintFile))
	if err != nil {
		return 0
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(string(b)))
	if err != nil || !addr.Is4() {
		return 0
	}
	if idx := uint64(toU32(addr)) - first; idx < n { // below first wraps to a huge idx
		return idx
	}
	return 0
}

// writeHint is best effort: a lost or garbled hint only costs a rescan. The
// fixed width, written in place without truncating, keeps concurrent writers
// from leaving a mix of a long and a short address.
func (l *Leases) writeHint(next netip.Addr) {
	f, err := os.OpenFile(filepath.Join(l.Dir, hintFile), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%-15s\n", next)
	f.Close()
}
