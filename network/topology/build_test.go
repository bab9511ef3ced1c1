package topology

import (
	"bytes"
	"net/netip"
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

// The other disagreements: an address changed, a bridge gone, a veth left
// on a bridge, a recorded port with no element, a container the resolver
// does not know.
func TestBuildMoreDrift(t *testing.T) {
	k, rec := fixture()
	k.ns[200].Links[1].Addrs = []netip.Prefix{pfx("10.210.0.33/24")}
	k.host = slices.DeleteFunc(k.host, func(l Link) bool { return l.Name == "hutch-bbbbbbbbb" || l.Name == "vh222222222221" })
	k.ns[200].Links = k.ns[200].Links[:2] // eth1 went with its bridge's veth
	k.host = append(k.host, Link{Index: 40, Name: "vhleftover0000", Kind: "veth", Master: 10})
	k.ports = nil
	rec.DNS = rec.DNS[1:]
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range top.Problems {
		got = append(got, p.Mark+": "+p.What)
	}
	want := []string{
		"MISSING: bridge hutch-bbbbbbbbb of network back is recorded but not in the kernel",
		"DIFFERS: eth0 of db has 10.210.0.33/24, the records say 10.210.0.3/24",
		"MISSING: veth vh222222222221 (db's eth1 on hutch-bbbbbbbbb) is recorded but not in the kernel",
		"STALE: vhleftover0000 on bridge hutch-aaaaaaaaa is the wire of no running container",
		"MISSING: web publishes 0.0.0.0:8080/tcp, map publish_any has no such element",
		"MISSING: the resolver has no registration of web",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var b bytes.Buffer
	Text(&b, top, Style{ASCII: true})
	for _, w := range []string{"network back - 10.211.0.0/24 - internal MISSING", "eth0 10.210.0.33/24 02:42:0a:d2:00:03 DIFFERS",
		"port vhleftover0000: STALE", "0.0.0.0:8080/tcp -> @publish_any -> 10.210.0.2:80  web on front MISSING"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("drawing lacks %q:\n%s", w, b.String())
		}
	}
}

// Whether a network is internal is the table's say, not the record's.
func TestInternalFromTheRules(t *testing.T) {
	k, rec := fixture()
	rec.Networks[0].Internal = true // front, whose rules let it out
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	front := top.Networks[1]
	if front.Internal || front.Mark != Differs || len(top.Problems) != 1 ||
		top.Problems[0].What != "network front is internal by its record, not internal by the rules of table hutch" {
		t.Errorf("front: %+v, problems %+v", front, top.Problems)
	}
	if back := top.Networks[0]; !back.Internal || back.Mark != "" {
		t.Errorf("back: %+v", back)
	}
}

// A stray element to an address in a network's subnet is that network's
// problem: a graph of the network shows it.
func TestStrayPortGoesWithItsSubnet(t *testing.T) {
	top := driftFixture(t)
	if err := top.Only([]string{"front"}); err != nil {
		t.Fatal(err)
	}
	if len(top.Ports) != 2 || top.Ports[1].Network != "front" || top.Ports[1].Mark != Stale || len(top.Problems) != 2 {
		t.Errorf("ports %+v, problems %+v", top.Ports, top.Problems)
	}
}
