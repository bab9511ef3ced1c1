package topology

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hutchrt/hutch/network/nft"
)

func driftFixture(t *testing.T) *Topology {
	k, rec := fixture()
	k.host = slices.DeleteFunc(k.host, func(l Link) bool { return l.Name == "vh111111111111" })
	k.ns[100].Links = k.ns[100].Links[:1]
	k.ports = append(k.ports, nft.Port{HostPort: 9999, Proto: "udp", ContainerIP: addr("10.210.0.99"), ContainerPort: 53})
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, driftFixture(t)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Table    string
		Networks []struct {
			Name, Bridge, Gateway string
			Internal              bool
			Containers            []struct {
				Name, Netns string
				Interface   struct{ Name, Peer, Mark string }
			}
			Names []struct{ IP string }
		}
		Ports []struct {
			HostPort       int
			Map, Container string
			Mark           string
		}
		Problems []struct{ Mark, What string }
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	if got.Table != "hutch" || len(got.Networks) != 2 || got.Networks[1].Name != "front" || !got.Networks[0].Internal {
		t.Errorf("networks: %+v", got.Networks)
	}
	web := got.Networks[1].Containers[1]
	if web.Name != "web" || web.Interface.Peer != "vh111111111111" || web.Interface.Mark != Missing || web.Netns != "net:[4026530001]" {
		t.Errorf("web: %+v", web)
	}
	if len(got.Ports) != 2 || got.Ports[0].Container != "web" || got.Ports[1].Mark != Stale || got.Ports[1].Map != "publish_any" {
		t.Errorf("ports: %+v", got.Ports)
	}
	if len(got.Problems) != 2 {
		t.Errorf("problems: %+v", got.Problems)
	}
}

// dotEdge is one edge statement of Dot's output.
var dotEdge = regexp.MustCompile(`(?m)^\t("[^"]+"|\w+) -> ("[^"]+"|\w+)`)

func TestDot(t *testing.T) {
	var b bytes.Buffer
	if err := Dot(&b, driftFixture(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	var edges []string
	for _, m := range dotEdge.FindAllStringSubmatch(out, -1) {
		edges = append(edges, m[1]+" -> "+m[2])
	}
	for _, want := range []string{
		`"br:hutch-aaaaaaaaa" -> host`,
		`"br:hutch-aaaaaaaaa" -> "ctr:hutch-aaaaaaaaa:web"`,
		`"br:hutch-bbbbbbbbb" -> "ctr:hutch-bbbbbbbbb:db"`,
		`host -> "port:0.0.0.0:8080/tcp"`,
		`"port:0.0.0.0:8080/tcp" -> "ctr:hutch-aaaaaaaaa:web"`,
		`"port:0.0.0.0:9999/udp" -> "nowhere:10.210.0.99"`,
	} {
		if !slices.Contains(edges, want) {
			t.Errorf("no edge %s in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, `label="vh111111111111 = eth0\nMISSING", dir=none, color=red`) {
		t.Errorf("the missing veth is not red:\n%s", out)
	}
	if strings.Count(out, "subgraph cluster_") != 2 {
		t.Errorf("want a cluster per network:\n%s", out)
	}
	// Graphviz, where installed, must take it.
	if path, err := exec.LookPath("dot"); err == nil {
		cmd := exec.Command(path, "-Tsvg")
		cmd.Stdin = strings.NewReader(out)
		if res, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dot -Tsvg: %v: %s", err, res)
		}
	}
}

func TestSVG(t *testing.T) {
	var b bytes.Buffer
	if err := SVG(&b, driftFixture(t)); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, with a box per container and the marks in red.
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	var texts []string
	rects := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v\n%s", err, b.String())
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	// background, host, 2 frames, 2 bridges, 3 containers
	if rects != 9 {
		t.Errorf("%d rects, want 9", rects)
	}
	all := strings.Join(texts, "\n")
	for _, w := range []string{"eth0 10.210.0.2/24 MISSING", "0.0.0.0:9999/udp → @publish_any → 10.210.0.99:53 (no container) STALE", "network back 10.211.0.0/24 (internal)"} {
		if !strings.Contains(all, w) {
			t.Errorf("no %q in:\n%s", w, all)
		}
	}
	if !strings.Contains(b.String(), `fill="red">eth0 10.210.0.2/24 MISSING`) {
		t.Errorf("MISSING not red")
	}
}
