package topology

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// JSON writes t for tools: the model's fields as they are (see README).
func JSON(w io.Writer, t *Topology) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// Dot writes t as a Graphviz digraph: the host, a cluster per network
// holding its bridge and its containers' namespaces, a node per published
// port with an edge to its container. What is marked is red.
func Dot(w io.Writer, t *Topology) error {
	var b strings.Builder
	q := strconv.Quote
	attrs := func(label, mark string, extra ...string) string {
		a := append([]string{"label=" + q(label)}, extra...)
		if mark != "" {
			a = append(a, "color=red", "fontcolor=red")
		}
		return "[" + strings.Join(a, ", ") + "]"
	}
	b.WriteString("digraph hutch {\n\trankdir=LR;\n\tnode [shape=box, fontname=\"monospace\", fontsize=10];\n\tedge [fontname=\"monospace\", fontsize=9];\n")
	fmt.Fprintf(&b, "\thost %s;\n", attrs("host\nnft table ip "+t.Table, ""))
	for i, n := range t.Networks {
		br := "br:" + n.Bridge
		title := "network " + n.Name
		if n.Name == "" {
			title = "bridge with no record"
		}
		if n.Subnet != "" {
			title += " " + n.Subnet
		}
		if n.Internal {
			title += " (internal)"
		}
		fmt.Fprintf(&b, "\tsubgraph cluster_%d {\n\t\tlabel=%s;\n", i, q(withMark(title, n.Mark)))
		if n.Mark != "" {
			b.WriteString("\t\tcolor=red; fontcolor=red;\n")
		}
		fmt.Fprintf(&b, "\t\t%s %s;\n", q(br), attrs(withMark("bridge "+n.Bridge+"\n"+orNone(n.Gateway), n.Mark), n.Mark))
		for _, c := range n.Containers {
			id := "ctr:" + n.Bridge + ":" + c.Name
			label := c.Name + "\n" + c.NetNS + "\n" + c.If.Name + " " + strings.Join(c.If.Addrs, ",")
			fmt.Fprintf(&b, "\t\t%s %s;\n", q(id), attrs(withMark(label, c.Mark+c.If.Mark), c.Mark+c.If.Mark))
		}
		b.WriteString("\t}\n")
		out := "internal: not routed out"
		for _, r := range n.Masquerade {
			if !strings.Contains(r.Text, "ct status dnat") {
				out = fmt.Sprintf("masquerade (postrouting #%d)", r.Handle)
			}
		}
		fmt.Fprintf(&b, "\t%s -> host %s;\n", q(br), attrs(out, "", "dir=both"))
		for _, c := range n.Containers {
			id := "ctr:" + n.Bridge + ":" + c.Name
			fmt.Fprintf(&b, "\t%s -> %s %s;\n", q(br), q(id),
				attrs(withMark(c.If.Peer+" = "+c.If.Name, c.If.Mark), c.If.Mark, "dir=none"))
		}
	}
	for _, p := range t.Ports {
		id := fmt.Sprintf("port:%s:%d/%s", p.HostIP, p.HostPort, p.Proto)
		fmt.Fprintf(&b, "\t%s %s;\n", q(id), attrs(withMark(fmt.Sprintf("%s:%d/%s", p.HostIP, p.HostPort, p.Proto), p.Mark), p.Mark, "shape=cds"))
		fmt.Fprintf(&b, "\thost -> %s;\n", q(id))
		to := ""
		for _, n := range t.Networks {
			if n.Name == p.Network && p.Container != "" {
				to = "ctr:" + n.Bridge + ":" + p.Container
			}
		}
		if to == "" {
			to = "nowhere:" + p.ContainerIP
			fmt.Fprintf(&b, "\t%s %s;\n", q(to), attrs(p.ContainerIP+" (no container)", Stale, "shape=plaintext"))
		}
		fmt.Fprintf(&b, "\t%s -> %s %s;\n", q(id), q(to), attrs(fmt.Sprintf("@%s → :%d", p.Map, p.ContainerPort), p.Mark))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func withMark(s, mark string) string {
	if mark == "" {
		return s
	}
	return s + "\n" + mark
}

// GraphvizSVG renders Dot's output with dot(1); ok is false when dot is
// not on PATH (then SVG draws it instead).
func GraphvizSVG(w io.Writer, t *Topology) (ok bool, err error) {
	path, err := exec.LookPath("dot")
	if err != nil {
		return false, nil
	}
	var in, out, stderr bytes.Buffer
	if err := Dot(&in, t); err != nil {
		return true, err
	}
	cmd := exec.Command(path, "-Tsvg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, &out, &stderr
	if err := cmd.Run(); err != nil {
		return true, fmt.Errorf("dot -Tsvg: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	_, err = w.Write(out.Bytes())
	return true, err
}
