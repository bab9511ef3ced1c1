package runtime

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/trace"
)

// One reading of the records serves both views: graph's names and trace's
// joins come out of the same networks and containers.
func TestNetRecords(t *testing.T) {
	ip := netip.MustParseAddr
	ep := func(netID, name, addr, ifName, hostIf string, aliases ...string) *network.Endpoint {
		return &network.Endpoint{NetworkID: netID, Network: name, IP: ip(addr), PrefixLen: 24, IfName: ifName, HostIf: hostIf, Aliases: aliases}
	}
	r := netRecords{
		table: "hutch",
		nets: []*network.Network{
			{Name: network.DefaultName, ID: "d1", Bridge: "hutch0", Subnet: netip.MustParsePrefix("10.88.0.0/24")},
			{Name: "front", ID: "f1", Bridge: "hutch-f1", Subnet: netip.MustParsePrefix("10.201.0.0/24")},
		},
		bridges: map[string]string{"d1": "hutch0", "f1": "hutch-f1"},
		running: []*Container{
			{Name: "web", ID: "0123456789abcdef", Pid: 41, Host: "web", Network: "front",
				Endpoints: []*network.Endpoint{ep("f1", "front", "10.201.0.2", "eth0", "veth1", "www")}},
			{Name: "old", ID: "fedcba9876543210", Pid: 42, Network: network.DefaultName,
				Endpoints: []*network.Endpoint{ep("d1", network.DefaultName, "10.88.0.2", "eth0", "veth2")}},
			{Name: "hosty", ID: "aaaaaaaaaaaaaaaa", Pid: 43, Network: "host"},
			{Name: "starting", ID: "bbbbbbbbbbbbbbbb", Network: "front"}, // no pid yet
		},
	}

	tr := r.trace()
	if tr.Table != "hutch" || len(tr.Networks) != 2 || tr.Networks[1] != (trace.Network{Name: "front", Bridge: "hutch-f1", Subnet: netip.MustParsePrefix("10.201.0.0/24")}) {
		t.Errorf("trace networks: %+v", tr)
	}
	if len(tr.Containers) != 3 {
		t.Fatalf("trace containers: %+v, want web, old and hosty (not one without a pid)", tr.Containers)
	}
	web := trace.Container{Name: "web", Pid: 41, Endpoints: []trace.Endpoint{{Network: "front", Bridge: "hutch-f1",
		IP: ip("10.201.0.2"), IfName: "eth0", HostIf: "veth1", Aliases: []string{"www"}}}}
	if !reflect.DeepEqual(tr.Containers[0], web) {
		t.Errorf("trace web:\n got %+v\nwant %+v", tr.Containers[0], web)
	}
	if !tr.Containers[1].NoDNS || tr.Containers[1].Endpoints[0].Bridge != "hutch0" {
		t.Errorf("trace old, on the default network only: %+v, want NoDNS on hutch0", tr.Containers[1])
	}

	tp := r.topology(t.TempDir())
	if len(tp.Networks) != 2 || len(tp.Containers) != 2 || !reflect.DeepEqual(tp.HostNetwork, []string{"hosty"}) {
		t.Fatalf("topology: %+v", tp)
	}
	if got, want := tp.Containers[0].Endpoints[0].Names, []string{"web", "www", "0123456789ab", "web"}; !reflect.DeepEqual(got, want) {
		t.Errorf("topology web names %q, want %q", got, want)
	}
	if got := tp.Containers[1].Endpoints[0].Names; got != nil {
		t.Errorf("topology old names %q, want none on the default network", got)
	}
}
