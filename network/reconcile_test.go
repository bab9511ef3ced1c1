package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
)

// The reconciliation decision, from records and what the kernel was seen
// to hold (the observed value stands in for the kernel).
func TestPlan(t *testing.T) {
	a := netip.MustParseAddr
	idA, idB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ctr1, ctr2, dead := strings.Repeat("1", 64), strings.Repeat("2", 64), strings.Repeat("d", 64)
	creating := strings.Repeat("c", 64)
	nets := []*Network{{ID: idA, Bridge: "hutch-aaaaaaaaa"}, {ID: idB, Bridge: "hutch-bbbbbbbbb"}}
	web := Running{IP: a("10.1.0.2"), Veths: []string{"vh1111111111110"},
		Publish: []portspec.Mapping{{HostPort: 0, ContainerPort: 80, Proto: "tcp"}, {HostIP: a("127.0.0.1"), HostPort: 53, ContainerPort: 53, Proto: "udp"}}}
	o := Owners{
		Leases: []Lease{
			{NetworkID: idA, IP: a("10.1.0.2"), Owner: ctr1}, // running
			{NetworkID: idB, IP: a("10.2.0.5"), Owner: ctr2}, // stopped: keeps its address
		},
		Busy:    func(owner string) bool { return owner == creating },
		Running: []Running{web},
	}
	port := func(host string, hp uint16, proto string, ctr string, cp uint16) nft.Port {
		p := nft.Port{HostPort: hp, Proto: proto, ContainerIP: a(ctr), ContainerPort: cp}
		if host != "" {
			p.HostIP = a(host)
		}
		return p
	}
	seen := observed{
		leases: map[string]map[netip.Addr]string{
			idA: {a("10.1.0.2"): ctr1, a("10.1.0.3"): dead, a("10.1.0.4"): creating, a("10.1.0.5"): ctr2},
			idB: {a("10.2.0.5"): ctr2, a("10.2.0.6"): ""},
		},
		tagged: []string{"hutch-aaaaaaaaa", "hutch-ddddddddd", "hutch-bbbbbbbbb"},
		ports: []nft.Port{
			port("", 32768, "tcp", "10.1.0.2", 80),           // web's, its host port chosen
			port("127.0.0.1", 53, "udp", "10.1.0.2", 53),     // web's, on one address
			port("", 53, "udp", "10.1.0.2", 53),              // to web, but on every address: not asked
			port("", 8080, "tcp", "10.1.0.3", 80),            // to a dead container
			port("", 8081, "tcp", "10.2.0.5", 80),            // to a stopped one
			port("127.0.0.1", 32769, "tcp", "10.1.0.2", 443), // to web, a port it does not publish
			port("", 32770, "tcp", "10.1.0.2", 8080),         // the same, on every address
		},
		bridgePorts: map[string][]string{
			"hutch-aaaaaaaaa": {"vh1111111111110", "vhdddddddddddd0"},
			"hutch-bbbbbbbbb": {"vh2222222222220"},
			"hutch-ddddddddd": {"vhffffffffffff0"}, // an orphan bridge's: goes with it
		},
	}
	got := plan(nets, o, seen)
	want := cleanup{
		bridges: []string{"hutch-ddddddddd"},
		leases: []Lease{
			{NetworkID: idA, IP: a("10.1.0.3"), Owner: dead},
			{NetworkID: idA, IP: a("10.1.0.5"), Owner: ctr2}, // ctr2's record holds another network's
			{NetworkID: idB, IP: a("10.2.0.6"), Owner: ""},   // half-written, nobody busy
		},
		ports: seen.ports[2:],
		veths: []string{"vhdddddddddddd0", "vh2222222222220"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n got %+v\nwant %+v", got, want)
	}

	// A command still making something keeps a half-written lease.
	o.Busy = func(owner string) bool { return true }
	if got := plan(nets, o, seen); len(got.leases) != 0 {
		t.Errorf("with every owner busy, plan releases %v", got.leases)
	}
	// Nothing live: everything seen goes but the leases records hold.
	got = plan(nets, Owners{Leases: o.Leases}, seen)
	if len(got.ports) != len(seen.ports) || len(got.veths) != 3 || len(got.leases) != 4 {
		t.Errorf("with nothing running, plan = %+v", got)
	}
}

// Half-done networks: what a killed create or rm leaves, and what it made.
func TestHalfDone(t *testing.T) {
	dir := t.TempDir()
	id := func(c string) string { return strings.Repeat(c, 64) }
	mk := func(name string, files map[string]string) {
		if err := os.MkdirAll(filepath.Join(dir, name, "leases"), 0o700); err != nil {
			t.Fatal(err)
		}
		for f, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name, f), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := func(bridge string) string { return `{"id":"x","name":"n","bridge":"` + bridge + `"}` }
	mk(id("a"), map[string]string{"network.json": rec("hutch-a")})                // done
	mk(id("b"), map[string]string{intentFile: rec("hutch-b")})                    // create killed after its intent
	mk(id("c"), nil)                                                              // create killed before it
	mk(removingPrefix+id("d"), map[string]string{"network.json": rec("hutch-d")}) // rm killed
	mk("lost+found", nil)
	tests := []struct {
		name   string
		half   bool
		bridge string // what finishing it tears down; "" nothing
	}{
		{id("a"), false, ""},
		{id("b"), true, "hutch-b"},
		{id("c"), true, ""},
		{removingPrefix + id("d"), true, "hutch-d"},
		{"lost+found", false, ""},
	}
	for _, tt := range tests {
		if got := halfDone(dir, tt.name); got != tt.half {
			t.Errorf("halfDone(%s) = %v, want %v", tt.name, got, tt.half)
		}
		if !tt.half {
			continue
		}
		n, err := readHalfDone(filepath.Join(dir, tt.name))
		if err != nil {
			t.Fatalf("readHalfDone(%s): %v", tt.name, err)
		}
		if bridge := ""; n != nil {
			bridge = n.Bridge
			if bridge != tt.bridge {
				t.Errorf("readHalfDone(%s) = bridge %q, want %q", tt.name, bridge, tt.bridge)
			}
		} else if tt.bridge != "" {
			t.Errorf("readHalfDone(%s) = nil, want bridge %q", tt.name, tt.bridge)
		}
	}
}
