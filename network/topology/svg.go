package topology

import (
	"fmt"
	"html"
	"io"
	"strings"
	"unicode/utf8"
)

// SVG draws t as an SVG picture without Graphviz: the host box with its
// published ports on top, below it a column per network (its frame, the
// bridge, and each container's box wired to the bridge by its veth). What
// is marked is red. Text is monospace, so sizes come from character counts.
func SVG(w io.Writer, t *Topology) error {
	const (
		charW, lineH, pad, gap = 7.2, 16.0, 8.0, 14.0
		margin                 = 20.0
	)
	var body strings.Builder
	boxW := func(lines []string) float64 {
		n := 0
		for _, l := range lines {
			n = max(n, utf8.RuneCountInString(l))
		}
		return float64(n)*charW + 2*pad
	}
	boxH := func(lines []string) float64 { return float64(len(lines))*lineH + pad }
	colour := func(mark string) string {
		if mark != "" {
			return "red"
		}
		return "black"
	}
	box := func(x, y float64, lines []string, mark string, fill string) (float64, float64) {
		bw, bh := boxW(lines), boxH(lines)
		fmt.Fprintf(&body, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s"/>`+"\n", x, y, bw, bh, fill, colour(mark))
		for i, l := range lines {
			weight := ""
			if i == 0 {
				weight = ` font-weight="bold"`
			}
			fmt.Fprintf(&body, `<text x="%.1f" y="%.1f" fill="%s"%s>%s</text>`+"\n", x+pad, y+float64(i+1)*lineH, colour(mark), weight, html.EscapeString(l))
		}
		return bw, bh
	}
	line := func(x1, y1, x2, y2 float64, mark string) {
		fmt.Fprintf(&body, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x1, y1, x2, y2, colour(mark))
	}
	label := func(x, y float64, s, mark string) {
		fmt.Fprintf(&body, `<text x="%.1f" y="%.1f" fill="%s" font-size="10">%s</text>`+"\n", x, y, colour(mark), html.EscapeString(s))
	}

	host := []string{"host — nft table ip " + t.Table}
	for _, p := range t.Ports {
		to := "(no container)"
		if p.Container != "" {
			to = p.Container + " on " + p.Network
		}
		host = append(host, withMarkInline(fmt.Sprintf("%s:%d/%s → @%s → %s:%d %s", p.HostIP, p.HostPort, p.Proto, p.Map, p.ContainerIP, p.ContainerPort, to), p.Mark))
	}
	hostMark := ""
	for _, p := range t.Ports {
		hostMark += p.Mark
	}
	hw, hh := box(margin, margin, host, hostMark, "#eef")
	totalW, totalH := margin+hw, margin+hh

	x, top := margin, margin+hh+4*gap
	for _, n := range t.Networks {
		title := "network " + n.Name
		if n.Name == "" {
			title = "bridge with no record"
		}
		title = withMarkInline(strings.TrimSpace(title+" "+n.Subnet+map[bool]string{true: " (internal)"}[n.Internal]), n.Mark)
		bridge := []string{"bridge " + n.Bridge, "gateway " + orNone(n.Gateway)}
		// Lay out first, to know the frame's size.
		wireW := 0.0
		var boxes [][]string
		var marks []string
		for _, c := range n.Containers {
			wireW = max(wireW, float64(utf8.RuneCountInString(c.If.Peer+" ═ "+c.If.Name))*6.0+2*pad)
			ls := []string{c.Name + " " + short(c.ID), c.NetNS, withMarkInline(c.If.Name+" "+strings.Join(c.If.Addrs, ","), c.If.Mark)}
			if c.Note != "" {
				ls = append(ls, c.Note)
			}
			if c.If.Note != "" {
				ls = append(ls, c.If.Note)
			}
			boxes = append(boxes, ls)
			marks = append(marks, c.Mark+c.If.Mark)
		}
		innerW := boxW(bridge)
		innerH := boxH(bridge)
		for _, ls := range boxes {
			innerW = max(innerW, 2*pad+wireW+boxW(ls))
			innerH += gap + boxH(ls)
		}
		frameW := max(innerW, float64(utf8.RuneCountInString(title))*charW) + 2*pad
		frameH := lineH + pad + innerH + 2*pad
		fmt.Fprintf(&body, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s" stroke-dasharray="4 3"/>`+"\n", x, top, frameW, frameH, colour(n.Mark))
		// The title at the bottom: the wire from the host comes in at the top.
		label(x+pad, top+frameH-pad, title, n.Mark)
		bx, by := x+pad, top+2*pad
		bw, bh := box(bx, by, bridge, n.Mark, "#efe")
		// host to bridge: routed (and masqueraded, unless internal)
		// The bridge is the host's own device: the host routes between it
		// and the rest (and masquerades, unless the network is internal).
		line(margin+hw/2, margin+hh, bx+bw/2, top, n.Mark)
		line(bx+bw/2, top, bx+bw/2, by, n.Mark)
		out := "routed, masqueraded"
		if n.Internal {
			out = "internal: not routed out"
		}
		label((margin+hw/2+bx+bw/2)/2+6, (margin+hh+top)/2, out, "")
		busX, y := bx+pad, by+bh
		for i, ls := range boxes {
			y += gap
			cx := bx + 2*pad + wireW
			_, ch := box(cx, y, ls, marks[i], "#ffe")
			wy := y + lineH
			line(busX, by+bh, busX, wy, "")
			line(busX, wy, cx, wy, marks[i])
			label(busX+4, wy-3, n.Containers[i].If.Peer+" ═ "+n.Containers[i].If.Name, marks[i])
			y += ch
		}
		totalW = max(totalW, x+frameW)
		totalH = max(totalH, top+frameH)
		x += frameW + 2*gap
	}
	y := totalH + 2*gap
	for _, p := range t.Problems {
		label(margin, y, p.Mark+": "+p.What, p.Mark)
		totalW = max(totalW, margin+float64(utf8.RuneCountInString(p.Mark+p.What))*6.0)
		y += lineH
	}
	totalH = y
	_, err := fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="monospace" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
%s</svg>
`, totalW+margin, totalH+margin, body.String())
	return err
}

func withMarkInline(s, mark string) string {
	if mark == "" {
		return s
	}
	return s + " " + mark
}
