package topology

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/hutchrt/hutch/network/nft"
)

func TestBuildAgrees(t *testing.T) {
	k, rec := fixture()
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Problems) != 0 {
		t.Errorf("problems in a consistent topology: %v", top.Problems)
	}
	if len(top.Networks) != 2 || top.Networks[0].Name != "back" || top.Networks[1].Name != "front" {
		t.Fatalf("networks: %+v", top.Networks)
	}
	front := top.Networks[1]
	if front.Gateway != "10.210.0.1/24" || len(front.Containers) != 2 || front.Containers[1].If.Peer != "vh111111111111" {
		t.Errorf("front: %+v", front)
	}
	if p := top.Ports[0]; p.Container != "web" || p.Network != "front" || p.Map != "publish_any" {
		t.Errorf("port: %+v", p)
	}
}

// What `ip link del` of web's host veth and `nft add element` of a stray
// element leave: both ends of the veth gone, a map element to nobody.
func TestBuildDrift(t *testing.T) {
	k, rec := fixture()
	k.host = slices.DeleteFunc(k.host, func(l Link) bool { return l.Name == "vh111111111111" })
	k.ns[100].Links = k.ns[100].Links[:1]
	k.ports = append(k.ports, nft.Port{HostPort: 9999, Proto: "udp", ContainerIP: addr("10.210.0.99"), ContainerPort: 53})
	k.host = append(k.host, Link{Index: 30, Name: "hutch-ccccccccc", Kind: "bridge"})
	k.rules = append(k.rules, nft.Rule{Chain: "isolate", Handle: 50, Tag: "hutch-ccccccccc", Text: `oifname "hutch-ccccccccc" drop`})
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	var marks []string
	for _, p := range top.Problems {
		marks = append(marks, p.Mark+": "+p.What)
	}
	want := []string{
		"UNRECORDED: table hutch has rules for bridge hutch-ccccccccc, which no network record has",
		"MISSING: veth vh111111111111 (web's eth0 on hutch-aaaaaaaaa) is recorded but not in the kernel",
		"STALE: map publish_any sends 0.0.0.0:9999/udp to 10.210.0.99:53, which no running container has",
		// web's record still says it publishes 8080, and the map has it.
	}
	if !slices.Equal(marks, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(marks, "\n"), strings.Join(want, "\n"))
	}
	var b bytes.Buffer
	Text(&b, top, Style{ASCII: true})
	for _, w := range []string{"eth0 10.210.0.2/24 MISSING", "@publish_any -> 10.210.0.99:53  (no container) STALE", "(no network record) UNRECORDED"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("drawing lacks %q:\n%s", w, b.String())
		}
	}
	b.Reset()
	Text(&b, top, Style{Color: true})
	if !strings.Contains(b.String(), red+"MISSING"+reset) {
		t.Errorf("MISSING not in red:\n%s", b.String())
	}
}

func TestOnly(t *testing.T) {
	k, rec := fixture()
	top, _ := Build(k, rec)
	if err := top.Only([]string{"back"}); err != nil {
		t.Fatal(err)
	}
	if len(top.Networks) != 1 || top.Networks[0].Name != "back" || len(top.Ports) != 0 {
		t.Errorf("only back: %+v, ports %+v", top.Networks, top.Ports)
	}
	top, _ = Build(k, rec)
	if err := top.Only([]string{"a1"}); err != nil || len(top.Networks) != 1 || top.Networks[0].Name != "front" {
		t.Errorf("by id prefix: %v %+v", err, top.Networks)
	}
	if err := top.Only([]string{"nope"}); err == nil || err.Error() != "network nope not found" {
		t.Errorf("unknown network: %v", err)
	}
}
