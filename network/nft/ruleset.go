package nft

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Ruleset is one table as the kernel holds it: its chains, each with its
// rules in order, and its maps with their elements. It is what both the
// drawing (network graph) and the evaluator (network trace) read.
type Ruleset struct {
	Table  string
	Chains []*Chain
	Maps   map[string]Map
}

// Chain is one chain of a table with its rules in order. Base chains have
// a hook; Policy is "accept" or "drop" for them.
type Chain struct {
	Name     string
	Hook     string // "prerouting", "output", ... ; "" for a regular chain
	Priority int32
	Type     string // filter, nat
	Policy   string
	Rules    []Rule
}

// Map is one named set or map of a table: its types as nft names them
// ("ipv4_addr . inet_proto . inet_service") and its elements.
type Map struct {
	KeyType, DataType string
	Elements          []Element
}

// Element is one element of a map (key and data as the kernel stores them).
type Element struct{ Key, Val []byte }

// Chain finds a chain by name; nil if the table has none.
func (rs *Ruleset) Chain(name string) *Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Ruleset reads the table: every chain (in the kernel's order) with its
// rules and handles, and every map with its elements. A missing table is
// an empty ruleset.
func (t Table) Ruleset() (*Ruleset, error) {
	rs := &Ruleset{Table: t.Name, Maps: map[string]Map{}}
	err := t.with(func(c *nftables.Conn) error {
		if ok, err := t.exists(c); err != nil || !ok {
			return err
		}
		tbl := ipTable(t.Name)
		chs, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("list chains of table ip %s: %w", t.Name, err)
		}
		for _, ch := range chs {
			if ch.Table.Name != t.Name {
				continue
			}
			rules, err := c.GetRules(tbl, ch)
			if err != nil {
				return fmt.Errorf("list rules of chain %s: %w", ch.Name, err)
			}
			rs.Chains = append(rs.Chains, chainOf(ch, rules))
		}
		sets, err := c.GetSets(tbl)
		if err != nil {
			return fmt.Errorf("list maps of table ip %s: %w", t.Name, err)
		}
		for _, s := range sets {
			elems, err := c.GetSetElements(s)
			if err != nil {
				return fmt.Errorf("list map %s: %w", s.Name, err)
			}
			m := Map{KeyType: s.KeyType.Name, DataType: s.DataType.Name}
			for _, e := range elems {
				m.Elements = append(m.Elements, Element{Key: e.Key, Val: e.Val})
			}
			rs.Maps[s.Name] = m
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// Rules lists every rule of hutch's chains, chain by chain in the order
// Ensure makes them (a raw chain added to an older table comes first all
// the same); none if the table is missing.
func (t Table) Rules() ([]Rule, error) {
	rs, err := t.Ruleset()
	if err != nil {
		return nil, err
	}
	return rs.Rules(), nil
}

// Rules lists the rules of hutch's chains in the order Ensure makes them.
func (rs *Ruleset) Rules() []Rule {
	var out []Rule
	for _, ch := range chains(ipTable(rs.Table)) {
		if c := rs.Chain(ch.Name); c != nil {
			out = append(out, c.Rules...)
		}
	}
	return out
}

// Ports decodes the elements of the published-port maps, as Table.Ports
// lists them.
func (rs *Ruleset) Ports() ([]Port, error) {
	var ps []Port
	for _, m := range []string{mapAddr, mapAny} {
		for _, e := range rs.Maps[m].Elements {
			p, err := portOf(m, nftables.SetElement{Key: e.Key, Val: e.Val})
			if err != nil {
				return nil, fmt.Errorf("list map %s of table ip %s: %w", m, rs.Table, err)
			}
			ps = append(ps, p)
		}
	}
	sortPorts(ps)
	return ps, nil
}

var hookNames = map[nftables.ChainHook]string{
	*nftables.ChainHookPrerouting: "prerouting", *nftables.ChainHookInput: "input", *nftables.ChainHookForward: "forward",
	*nftables.ChainHookOutput: "output", *nftables.ChainHookPostrouting: "postrouting",
}

func chainOf(ch *nftables.Chain, rules []*nftables.Rule) *Chain {
	c := &Chain{Name: ch.Name, Type: string(ch.Type)}
	if ch.Hooknum != nil {
		c.Hook = hookNames[*ch.Hooknum]
		c.Policy = "accept"
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			c.Policy = "drop"
		}
	}
	if ch.Priority != nil {
		c.Priority = int32(*ch.Priority)
	}
	for _, r := range rules {
		c.Rules = append(c.Rules, ruleOf(ch.Name, r))
	}
	return c
}

func ruleOf(chain string, r *nftables.Rule) Rule {
	return Rule{Chain: chain, Handle: r.Handle, Tag: tagOf(r.UserData), Text: Text(r.Exprs), Exprs: r.Exprs}
}

// DNSRules lists the rules of the hutch-dns table's output chain in the
// namespace netns (an open fd); none if there is no table.
func DNSRules(netns int) (rs []Rule, err error) {
	t := Table{Name: "hutch-dns", netns: netns}
	err = t.with(func(c *nftables.Conn) error {
		tbl := ipTable(t.Name)
		got, err := c.GetRules(tbl, &nftables.Chain{Table: tbl, Name: "output"})
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list rules of table ip hutch-dns: %w", err)
		}
		for _, r := range got {
			rs = append(rs, ruleOf("output", r))
		}
		return nil
	})
	return rs, err
}

// Listed is the rule as `nft list` prints it: its text and its tag as the
// comment.
func (r Rule) Listed() string {
	if r.Tag == "" {
		return r.Text
	}
	return fmt.Sprintf("%s comment %q", r.Text, r.Tag)
}
