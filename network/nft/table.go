package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Table is the nftables table (family ip) of one hutch instance.
type Table struct {
	Name string

	netns int // fd of the network namespace to work in (tests); 0: the calling thread's
}

// Network is what the table needs to know of one network.
type Network struct {
	Bridge   string       // the network's bridge; its rules are tagged with this name
	Subnet   netip.Prefix // IPv4
	Internal bool         // no traffic between the network and the outside
}

// Exists reports whether the table exists.
func (t Table) Exists() (ok bool, err error) {
	err = t.with(func(c *nftables.Conn) error {
		ok, err = t.exists(c)
		return err
	})
	return ok, err
}

// Ensure makes the table with its maps, chains and base rules if it is
// missing, in one batch. It leaves an existing table as it is, but for
// adding the raw chain to a table made before there was one. Two processes
// may ensure the same table at once: the batch creates the table exclusively
// (NLM_F_EXCL), so the second one fails whole, with EEXIST, and adds nothing.
func (t Table) Ensure() error {
	return t.with(func(c *nftables.Conn) error {
		// One dump tells both whether the table exists (it always has
		// chains) and whether it has its raw chain.
		chs, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("list chains of table ip %s: %w", t.Name, err)
		}
		var found, guarded bool
		for _, ch := range chs {
			if ch.Table.Name == t.Name {
				found = true
				guarded = guarded || ch.Name == chainRaw
			}
		}
		switch {
		case !found:
			return t.create(c)
		case !guarded:
			return t.addRawChain(c)
		}
		return nil
	})
}

// addRawChain adds the raw chain and its rule to a table made by an older
// hutch. The chain is flushed in the same batch, so two processes doing it
// at once leave the rule once.
func (t Table) addRawChain(c *nftables.Conn) error {
	tbl := ipTable(t.Name)
	for _, ch := range chains(tbl) {
		if ch.Name == chainRaw {
			c.AddChain(ch)
			c.FlushChain(ch)
		}
	}
	c.AddRule(newRule(tbl, chainRule{chainRaw, dropRemoteLoopback()}, ""))
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add chain %s to table ip %s: %w", chainRaw, t.Name, err)
	}
	return nil
}

// create makes the table in one batch. If the table exists (another hutch
// made it since we looked), the batch fails whole with EEXIST, which is fine.
func (t Table) create(c *nftables.Conn) error {
	tbl := ipTable(t.Name)
	c.CreateTable(tbl)
	byAddr, byAny := addrMap(tbl), anyMap(tbl)
	for _, m := range []*nftables.Set{byAddr, byAny} {
		if err := c.AddSet(m, nil); err != nil {
			return fmt.Errorf("create table ip %s: map %s: %w", t.Name, m.Name, err)
		}
	}
	for _, ch := range chains(tbl) {
		c.AddChain(ch)
	}
	for _, r := range baseRules(byAddr, byAny) {
		c.AddRule(newRule(tbl, r, ""))
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create table ip %s: %w", t.Name, err)
	}
	return nil
}

// Delete deletes the table and everything in it; a missing table is fine.
func (t Table) Delete() error {
	return t.with(func(c *nftables.Conn) error {
		c.DelTable(ipTable(t.Name))
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete table ip %s: %w", t.Name, err)
		}
		return nil
	})
}

// AddNetwork adds the rules of network n, replacing those it has already,
// in one batch. The table must exist.
func (t Table) AddNetwork(n Network) error {
	n, err := n.check()
	if err != nil {
		return fmt.Errorf("add network %s to table ip %s: %w", n.Bridge, t.Name, err)
	}
	return t.with(func(c *nftables.Conn) error {
		tbl := ipTable(t.Name)
		old, err := taggedRules(c, tbl, n.Bridge)
		if err != nil {
			return fmt.Errorf("add network %s to table ip %s: %w", n.Bridge, t.Name, err)
		}
		for _, r := range old {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("add network %s to table ip %s: %w", n.Bridge, t.Name, err)
			}
		}
		for _, r := range networkRules(n) {
			c.AddRule(newRule(tbl, r, n.Bridge))
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("add network %s to table ip %s: %w", n.Bridge, t.Name, err)
		}
		return nil
	})
}

// RemoveNetwork deletes the rules of the network whose bridge is named
// bridge, in one batch. A network without rules, or a missing table, is
// fine.
func (t Table) RemoveNetwork(bridge string) error {
	return t.with(func(c *nftables.Conn) error {
		if ok, err := t.exists(c); err != nil || !ok {
			return err
		}
		old, err := taggedRules(c, ipTable(t.Name), bridge)
		if err != nil || len(old) == 0 {
			return err
		}
		for _, r := range old {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("remove network %s from table ip %s: %w", bridge, t.Name, err)
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("remove network %s from table ip %s: %w", bridge, t.Name, err)
		}
		return nil
	})
}

// Bridges lists the bridges the table holds network rules for, each once;
// none if the table is missing.
func (t Table) Bridges() (bridges []string, err error) {
	err = t.with(func(c *nftables.Conn) error {
		if ok, err := t.exists(c); err != nil || !ok {
			return err
		}
		tbl := ipTable(t.Name)
		for _, name := range []string{chainPostrouting, chainInternal, chainIsolate, chainOutbound} {
			rs, err := c.GetRules(tbl, &nftables.Chain{Table: tbl, Name: name})
			if err != nil {
				return fmt.Errorf("list rules of chain %s: %w", name, err)
			}
			for _, r := range rs {
				if tag := tagOf(r.UserData); tag != "" && !slices.Contains(bridges, tag) {
					bridges = append(bridges, tag)
				}
			}
		}
		return nil
	})
	return bridges, err
}

// ForwardDrops lists the base chains of other tables (families ip and inet)
// hooked at forward with policy drop, as "table ip filter chain FORWARD".
// Docker leaves one behind (iptables-nft), and an accept in our table does
// not override it: containers then cannot reach outside, nor be reached on
// published ports, and with br_netfilter not even each other.
func ForwardDrops(ourTable string) ([]string, error) {
	return Table{Name: ourTable}.forwardDrops()
}

func (t Table) forwardDrops() ([]string, error) {
	var drops []string
	err := t.with(func(c *nftables.Conn) error {
		chs, err := c.ListChains()
		if err != nil {
			return fmt.Errorf("list chains: %w", err)
		}
		for _, ch := range chs {
			if d, ok := forwardDrop(ch, t.Name); ok {
				drops = append(drops, d)
			}
		}
		return nil
	})
	return drops, err
}

// forwardDrop describes ch if it is a forward chain with policy drop in a
// table of family ip or inet other than table ip ourTable.
func forwardDrop(ch *nftables.Chain, ourTable string) (string, bool) {
	var fam string
	switch ch.Table.Family {
	case nftables.TableFamilyIPv4:
		if ch.Table.Name == ourTable {
			return "", false
		}
		fam = "ip"
	case nftables.TableFamilyINet:
		fam = "inet"
	default:
		return "", false
	}
	if ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookForward ||
		ch.Policy == nil || *ch.Policy != nftables.ChainPolicyDrop {
		return "", false
	}
	return fmt.Sprintf("table %s %s chain %s", fam, ch.Table.Name, ch.Name), true
}

// with runs fn on one netlink socket, open for its duration, in the table's
// network namespace.
func (t Table) with(fn func(c *nftables.Conn) error) error {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if t.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(t.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("open nftables netlink socket: %w", err)
	}
	defer c.CloseLasting()
	return fn(c)
}

func (t Table) exists(c *nftables.Conn) (bool, error) {
	_, err := c.ListTableOfFamily(t.Name, nftables.TableFamilyIPv4)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up table ip %s: %w", t.Name, err)
	}
	return true, nil
}

// taggedRules lists the rules of the network chains tagged with bridge.
func taggedRules(c *nftables.Conn, tbl *nftables.Table, bridge string) ([]*nftables.Rule, error) {
	var tagged []*nftables.Rule
	for _, name := range []string{chainPostrouting, chainInternal, chainIsolate, chainOutbound} {
		rs, err := c.GetRules(tbl, &nftables.Chain{Table: tbl, Name: name})
		if err != nil {
			return nil, fmt.Errorf("list rules of chain %s: %w", name, err)
		}
		for _, r := range rs {
			if tagOf(r.UserData) == bridge {
				tagged = append(tagged, r)
			}
		}
	}
	return tagged, nil
}

// newRule makes cr a rule of tbl, tagged unless tag is "".
func newRule(tbl *nftables.Table, cr chainRule, tag string) *nftables.Rule {
	r := &nftables.Rule{Table: tbl, Chain: &nftables.Chain{Table: tbl, Name: cr.chain}, Exprs: cr.exprs}
	if tag != "" {
		r.UserData = tagData(tag)
	}
	return r
}

// check validates n and returns it with its subnet masked.
func (n Network) check() (Network, error) {
	if n.Bridge == "" || len(n.Bridge) >= unix.IFNAMSIZ || strings.ContainsRune(n.Bridge, 0) {
		return n, fmt.Errorf("bridge name %q: want 1 to %d bytes", n.Bridge, unix.IFNAMSIZ-1)
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet.Bits() == 0 {
		return n, fmt.Errorf("subnet %s: want an IPv4 prefix of 1 to 32 bits", n.Subnet)
	}
	n.Subnet = n.Subnet.Masked()
	return n, nil
}
