package topology

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hutchrt/hutch/network/nft"
)

// Style says how Text draws: box-drawing characters or plain ASCII, with
// colour (ANSI) or without.
type Style struct {
	ASCII bool
	Color bool
}

const (
	red   = "\x1b[31m"
	bold  = "\x1b[1m"
	reset = "\x1b[0m"
)

// Text draws t: the host with its published ports and NAT, then each
// network as a box holding its bridge and, wired to it, its containers'
// namespaces; what the kernel and the records disagree about is marked
// with a word (MISSING, STALE...), in red when st.Color.
func Text(w io.Writer, t *Topology, st Style) error {
	d := drawer{st: st}
	out := d.host(t)
	for _, n := range t.Networks {
		out = append(out, "")
		out = append(out, d.network(t, n)...)
	}
	out = append(out, "")
	out = append(out, d.problems(t)...)
	s := strings.Join(out, "\n") + "\n"
	if st.ASCII {
		s = asciiReplacer.Replace(s)
	}
	_, err := io.WriteString(w, s)
	return err
}

// Every character the drawing uses beyond ASCII, and its stand-in: each
// one column wide, so boxes stay aligned.
var asciiReplacer = strings.NewReplacer(
	"┌", "+", "┐", "+", "└", "+", "┘", "+", "├", "+", "┤", "+", "┬", "+", "┴", "+",
	"─", "-", "│", "|", "═", "=", "▶", ">", "◀", "<", "✕", "x",
)

type drawer struct{ st Style }

func (d drawer) red(s string) string {
	if d.st.Color && s != "" {
		return red + s + reset
	}
	return s
}

func (d drawer) bold(s string) string {
	if d.st.Color && s != "" {
		return bold + s + reset
	}
	return s
}

// marked is s followed by its mark, if any, in red.
func (d drawer) marked(s, mark string) string {
	if mark == "" {
		return s
	}
	return s + " " + d.red(mark)
}

func (d drawer) host(t *Topology) []string {
	var ls []string
	onHost := "on the host's own network stack (--network host): " + strings.Join(t.HostNetwork, ", ")
	if len(t.Publish)+len(t.Guard)+len(t.Loopback) == 0 {
		ls = append(ls, "no table: nothing is published, routed or masqueraded yet")
		if len(t.HostNetwork) > 0 {
			ls = append(ls, onHost)
		}
		return d.frame(d.bold("host")+" ─ nft table ip "+t.Table, ls)
	}
	ls = append(ls, "published ports: a packet for one of the host's addresses")
	for _, r := range t.Publish {
		ls = append(ls, "  "+rule(r))
	}
	ls = append(ls, "is DNATed by one lookup in a map, whose elements are:")
	if len(t.Ports) == 0 {
		ls = append(ls, "  (none: no port is published)")
	}
	for _, p := range t.Ports {
		to := "(no container)"
		if p.Container != "" {
			to = p.Container + " on " + p.Network
		}
		line := fmt.Sprintf("  %s:%d/%s ─▶ @%s ─▶ %s:%d  %s", p.HostIP, p.HostPort, p.Proto, p.Map, p.ContainerIP, p.ContainerPort, to)
		ls = append(ls, d.marked(line, p.Mark))
		if p.Note != "" {
			ls = append(ls, "    "+d.red(p.Note))
		}
	}
	ls = append(ls, "a packet from 127.0.0.1 DNATed into a bridge takes the bridge's address as its source:")
	for _, r := range t.Loopback {
		ls = append(ls, "  "+rule(r))
	}
	ls = append(ls, "packets for 127.0.0.0/8 arriving on anything but lo are dropped, before any DNAT:")
	for _, r := range t.Guard {
		if r.Chain == "raw_prerouting" {
			ls = append(ls, "  "+rule(r))
		}
	}
	if len(t.HostNetwork) > 0 {
		ls = append(ls, onHost)
	}
	ls = append(ls, "forwarding between bridges and out (each network's own rules are in its box):")
	for _, r := range t.Guard {
		if r.Chain != "raw_prerouting" {
			ls = append(ls, "  "+rule(r))
		}
	}
	return d.frame(d.bold("host")+" ─ nft table ip "+t.Table, ls)
}

// network is one network's box: its bridge, the containers wired to it,
// its NAT and isolation rules and the names its resolver answers.
func (d drawer) network(t *Topology, n *Network) []string {
	title := "network " + n.Name
	if n.Name == "" {
		title = "bridge " + n.Bridge + " (no network record)"
	}
	title = d.bold(title)
	if n.Subnet != "" {
		title += " ─ " + n.Subnet
	}
	if n.Internal {
		title += " ─ internal"
	}
	title = d.marked(title, n.Mark)

	var ls []string
	state := "down"
	if n.Up {
		state = "up"
	}
	br := []string{"gateway " + orNone(n.Gateway) + ", " + state}
	if n.Note != "" {
		br = append(br, d.red(n.Note))
	}
	ls = append(ls, d.frame("bridge "+n.Bridge, br)...)
	// The wires hang from the bridge box's bottom left corner.
	last := len(ls) - 1
	ls[last] = "└─┬" + strings.TrimPrefix(ls[last], "└──")
	for i, c := range n.Containers {
		ls = append(ls, d.wired(c, i == len(n.Containers)-1)...)
	}
	if len(n.Containers) == 0 {
		ls = append(ls, "  └ (no container)")
	}
	for _, p := range n.Ports {
		if !n.wired(p) {
			ls = append(ls, d.red(fmt.Sprintf("  port %s: %s", p, Stale)))
		}
	}
	ls = append(ls, "")
	if n.Internal {
		ls = append(ls, "out: none, internal (no masquerade); hairpin to published ports:")
	} else {
		ls = append(ls, "out: masquerade to the host's address (and hairpin):")
	}
	for _, r := range n.Masquerade {
		ls = append(ls, "  "+rule(r))
	}
	ls = append(ls, "isolation from other networks:")
	for _, r := range n.Isolation {
		ls = append(ls, "  "+rule(r))
	}
	if n.Name != "" && n.Name != "bridge" {
		ls = append(ls, "names at "+t.Resolver.Address+" (from "+t.Resolver.Source+"):")
		if len(n.Names) == 0 {
			ls = append(ls, "  (none)")
		}
		for _, nm := range n.Names {
			ls = append(ls, fmt.Sprintf("  %s ◀ %s", nm.IP, strings.Join(nm.Names, ", ")))
		}
	}
	return d.frame(title, ls)
}

// wired reports whether the bridge port is a container's wire.
func (n *Network) wired(port string) bool {
	for _, c := range n.Containers {
		if c.If != nil && c.If.Peer == port {
			return true
		}
	}
	return false
}

// wired is a container's box with its veth wire from the bridge's bus.
func (d drawer) wired(c *Container, last bool) []string {
	var in []string
	if c.NetNS != "" {
		in = append(in, "netns "+c.NetNS)
	}
	i := c.If
	in = append(in, d.marked(strings.Join(slices.DeleteFunc([]string{i.Name, orNone(strings.Join(i.Addrs, ",")), i.MAC}, isEmpty), " "), i.Mark))
	if len(c.Sharing) > 0 {
		in = append(in, "shared with "+strings.Join(c.Sharing, ", ")+" (--network container:)")
	}
	if c.DNS != nil {
		in = append(in, fmt.Sprintf("%s:53 ▶ udp :%d, tcp :%d (table hutch-dns)", c.DNS.Resolver, c.DNS.UDPPort, c.DNS.TCPPort))
	}
	for _, note := range []string{c.Note, i.Note} {
		if note != "" {
			in = append(in, d.red(note))
		}
	}
	title := d.marked(d.bold(c.Name)+" "+short(c.ID), c.Mark)
	box := d.frame(title, in)
	branch, bus := "├", "│"
	if last {
		branch, bus = "└", " "
	}
	wire := "═══"
	if i.Mark == Missing {
		wire = d.red(" ✕ ")
	}
	head := fmt.Sprintf("  %s── %s %s %s ─", branch, i.Peer, wire, i.Name)
	pad := strings.Repeat(" ", width(head)-3)
	var ls []string
	for k, b := range box {
		switch {
		case k == 1:
			ls = append(ls, head+"┤"+strings.TrimPrefix(b, "│"))
		case k == 0:
			ls = append(ls, "  │"+pad+b)
		default:
			ls = append(ls, "  "+bus+pad+b)
		}
	}
	return ls
}

func (d drawer) problems(t *Topology) []string {
	if len(t.Problems) == 0 {
		return []string{"The kernel and hutch's records agree."}
	}
	ls := []string{d.red(fmt.Sprintf("%d disagreement(s) between the kernel and hutch's records:", len(t.Problems)))}
	for _, p := range t.Problems {
		ls = append(ls, d.red("  "+p.Mark+": "+p.What))
	}
	return ls
}

// frame boxes lines under title.
func (d drawer) frame(title string, lines []string) []string {
	w := width(title) + 2
	for _, l := range lines {
		w = max(w, width(l))
	}
	out := []string{"┌─ " + title + " " + strings.Repeat("─", w-width(title)-1) + "┐"}
	for _, l := range lines {
		out = append(out, "│ "+l+strings.Repeat(" ", w-width(l))+" │")
	}
	return append(out, "└"+strings.Repeat("─", w+2)+"┘")
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// width is the columns s takes: every character the drawing uses is one
// column wide; colour codes take none.
func width(s string) int { return utf8.RuneCountInString(ansi.ReplaceAllString(s, "")) }

func rule(r nft.Rule) string {
	return fmt.Sprintf("%s: %s  # handle %d", r.Chain, r.Text, r.Handle)
}

func isEmpty(s string) bool { return s == "" }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
