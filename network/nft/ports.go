package nft

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// ErrPortPublished is wrapped by AddPorts when a host port is taken.
var ErrPortPublished = errors.New("port is already published")

// Port is one published port: HostIP:HostPort/Proto is DNATed to
// ContainerIP:ContainerPort.
type Port struct {
	HostIP        netip.Addr // IPv4; zero (or 0.0.0.0): every host address
	HostPort      uint16
	Proto         string // "tcp" or "udp"
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// AddPorts publishes ps in one batch, or none of them: if a host port is
// published already, on the same address or on every address (or twice in
// ps), it fails with an error wrapping ErrPortPublished that names it.
//
// The kernel cannot refuse an existing key for us (google/nftables adds
// elements without NLM_F_EXCL, and the kernel then takes a key that is
// already there with the same data silently), so AddPorts reads the maps
// first: callers serialise AddPorts and RemovePorts with their own lock.
func (t Table) AddPorts(ps []Port) error {
	ps, err := checkPorts(ps)
	if err != nil || len(ps) == 0 {
		return err
	}
	return t.with(func(c *nftables.Conn) error {
		tbl := ipTable(t.Name)
		published, err := listPorts(c, tbl)
		if err != nil {
			return err
		}
		if err := clashes(published, ps); err != nil {
			return err
		}
		if err := changeElements(c, tbl, ps, c.SetAddElements, true); err != nil {
			return err
		}
		err = c.Flush()
		if errors.Is(err, unix.EEXIST) { // someone published one meanwhile
			return fmt.Errorf("publish %s: %w", hosts(ps), ErrPortPublished)
		}
		if err != nil {
			return fmt.Errorf("publish %s: %w", hosts(ps), err)
		}
		return nil
	})
}

// RemovePorts unpublishes ps in one batch. A port that is not published, or
// whose host port now goes elsewhere, is left alone and is not an error, so
// removing twice (say, after a crash) succeeds. A missing table is fine.
func (t Table) RemovePorts(ps []Port) error {
	ps, err := checkPorts(ps)
	if err != nil || len(ps) == 0 {
		return err
	}
	return t.with(func(c *nftables.Conn) error {
		if ok, err := t.exists(c); err != nil || !ok {
			return err
		}
		tbl := ipTable(t.Name)
		published, err := listPorts(c, tbl)
		if err != nil {
			return err
		}
		var gone []Port
		for _, p := range ps {
			// Deleting a key twice in one batch would fail it.
			if slices.Contains(published, p) && !slices.Contains(gone, p) {
				gone = append(gone, p)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		if err := changeElements(c, tbl, gone, c.SetDeleteElements, false); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("unpublish %s: %w", hosts(gone), err)
		}
		return nil
	})
}

// Ports lists every published port, ordered by host address (every address
// first), port and protocol.
func (t Table) Ports() (ps []Port, err error) {
	err = t.with(func(c *nftables.Conn) error {
		ps, err = listPorts(c, ipTable(t.Name))
		return err
	})
	return ps, err
}

func listPorts(c *nftables.Conn, tbl *nftables.Table) ([]Port, error) {
	var ps []Port
	for _, m := range []string{mapAddr, mapAny} {
		elems, err := c.GetSetElements(&nftables.Set{Table: tbl, Name: m})
		if err != nil {
			return nil, fmt.Errorf("list map %s of table ip %s: %w", m, tbl.Name, err)
		}
		for _, e := range elems {
			p, err := portOf(m, e)
			if err != nil {
				return nil, fmt.Errorf("list map %s of table ip %s: %w", m, tbl.Name, err)
			}
			ps = append(ps, p)
		}
	}
	sortPorts(ps)
	return ps, nil
}

// sortPorts orders ports by host address, port and protocol.
func sortPorts(ps []Port) {
	slices.SortFunc(ps, func(a, b Port) int {
		return cmp.Or(a.HostIP.Compare(b.HostIP), cmp.Compare(a.HostPort, b.HostPort), cmp.Compare(a.Proto, b.Proto))
	})
}

// changeElements queues one element change per map for ps.
func changeElements(c *nftables.Conn, tbl *nftables.Table, ps []Port,
	change func(*nftables.Set, []nftables.SetElement) error, withData bool) error {
	byMap := map[string][]nftables.SetElement{}
	for _, p := range ps {
		m, e := element(p, withData)
		byMap[m] = append(byMap[m], e)
	}
	for _, s := range []*nftables.Set{addrMap(tbl), anyMap(tbl)} {
		if len(byMap[s.Name]) == 0 {
			continue
		}
		if err := change(s, byMap[s.Name]); err != nil {
			return fmt.Errorf("queue elements of map %s: %w", s.Name, err)
		}
	}
	return nil
}

// clashes reports the first port of ps whose host port is taken, by one in
// published or earlier in ps.
func clashes(published, ps []Port) error {
	for i, p := range ps {
		for _, q := range slices.Concat(published, ps[:i]) {
			if clash(p, q) {
				return fmt.Errorf("publish %s: %w (%s to %s)", p.host(), ErrPortPublished, q.host(), q.target())
			}
		}
	}
	return nil
}

// clash reports whether a and b want the same host port: same protocol and
// port, on the same address or one of them on every address.
func clash(a, b Port) bool {
	return a.Proto == b.Proto && a.HostPort == b.HostPort &&
		(!a.HostIP.IsValid() || !b.HostIP.IsValid() || a.HostIP == b.HostIP)
}

// checkPorts validates ps and returns them normalised (see Port.check).
func checkPorts(ps []Port) ([]Port, error) {
	out := make([]Port, len(ps))
	for i, p := range ps {
		var err error
		if out[i], err = p.check(); err != nil {
			return nil, fmt.Errorf("port %s: %w", p.host(), err)
		}
	}
	return out, nil
}

// check validates p and returns it with its addresses unmapped from IPv6
// and 0.0.0.0 as the zero address (every host address).
func (p Port) check() (Port, error) {
	p.HostIP, p.ContainerIP = p.HostIP.Unmap(), p.ContainerIP.Unmap()
	if p.HostIP.IsUnspecified() {
		p.HostIP = netip.Addr{}
	}
	switch {
	case p.HostIP.IsValid() && !p.HostIP.Is4():
		return p, fmt.Errorf("host address %s is not IPv4", p.HostIP)
	case !p.ContainerIP.Is4():
		return p, fmt.Errorf("container address %s is not IPv4", p.ContainerIP)
	case p.HostPort == 0 || p.ContainerPort == 0:
		return p, errors.New("port 0")
	}
	if _, ok := protoNum(p.Proto); !ok {
		return p, fmt.Errorf("protocol %q: want tcp or udp", p.Proto)
	}
	return p, nil
}

// host is p's host side, as ADDR:PORT/PROTO (0.0.0.0 for every address).
func (p Port) host() string {
	a := p.HostIP
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(a, p.HostPort).String() + "/" + p.Proto
}

// hosts names the host side of ps for an error: the first, and how many more.
func hosts(ps []Port) string {
	if len(ps) == 1 {
		return ps[0].host()
	}
	return fmt.Sprintf("%s and %d more", ps[0].host(), len(ps)-1)
}

// target is p's container side, as ADDR:PORT.
func (p Port) target() string { return netip.AddrPortFrom(p.ContainerIP, p.ContainerPort).String() }
