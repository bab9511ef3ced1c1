package topology

import (
	"errors"
	"net/netip"

	"github.com/hutchrt/hutch/network/nft"
)

// fakeKernel is a fixed topology: what Live would read from the kernel.
type fakeKernel struct {
	host  []Link
	ns    map[int]*Namespace
	rules []nft.Rule
	ports []nft.Port
}

var _ Kernel = (*fakeKernel)(nil)

func (k *fakeKernel) HostLinks() ([]Link, error)                 { return k.host, nil }
func (k *fakeKernel) ReadTable() ([]nft.Rule, []nft.Port, error) { return k.rules, k.ports, nil }
func (k *fakeKernel) Namespace(pid int, _ uint64) (*Namespace, error) {
	if ns, ok := k.ns[pid]; ok {
		return ns, nil
	}
	return nil, errors.New("no such process")
}

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// fixture: networks front (10.210.0.0/24) and back (10.211.0.0/24,
// internal); web on front publishing 0.0.0.0:8080->80 with the alias www;
// db on front and back. As the kernel holds it and as the records say.
func fixture() (*fakeKernel, Records) {
	k := &fakeKernel{
		host: []Link{
			{Index: 1, Name: "lo", Kind: "device", Up: true, Addrs: []netip.Prefix{pfx("127.0.0.1/8")}},
			{Index: 10, Name: "hutch-aaaaaaaaa", Kind: "bridge", Up: true, Addrs: []netip.Prefix{pfx("10.210.0.1/24")}},
			{Index: 11, Name: "hutch-bbbbbbbbb", Kind: "bridge", Up: true, Addrs: []netip.Prefix{pfx("10.211.0.1/24")}},
			{Index: 20, Name: "vh111111111111", Kind: "veth", Master: 10, PeerIndex: 2, Up: true},
			{Index: 21, Name: "vh222222222220", Kind: "veth", Master: 10, PeerIndex: 2, Up: true},
			{Index: 22, Name: "vh222222222221", Kind: "veth", Master: 11, PeerIndex: 3, Up: true},
		},
		ns: map[int]*Namespace{
			100: {ID: "net:[4026530001]", Links: []Link{
				{Index: 1, Name: "lo", Up: true},
				{Index: 2, Name: "eth0", Kind: "veth", PeerIndex: 20, Up: true, MAC: "02:42:0a:d2:00:02", Addrs: []netip.Prefix{pfx("10.210.0.2/24")}},
			}, DNS: &nft.DNSRedirect{Resolver: addr("127.0.0.11"), UDPPort: 40001, TCPPort: 40002}},
			200: {ID: "net:[4026530002]", Links: []Link{
				{Index: 1, Name: "lo", Up: true},
				{Index: 2, Name: "eth0", Kind: "veth", PeerIndex: 21, Up: true, MAC: "02:42:0a:d2:00:03", Addrs: []netip.Prefix{pfx("10.210.0.3/24")}},
				{Index: 3, Name: "eth1", Kind: "veth", PeerIndex: 22, Up: true, MAC: "02:42:0a:d3:00:02", Addrs: []netip.Prefix{pfx("10.211.0.2/24")}},
			}, DNS: &nft.DNSRedirect{Resolver: addr("127.0.0.11"), UDPPort: 40003, TCPPort: 40004}},
		},
		rules: []nft.Rule{
			{Chain: "raw_prerouting", Handle: 10, Text: `iifname != "lo" ip daddr 127.0.0.0/8 drop`},
			{Chain: "prerouting", Handle: 11, Text: "fib daddr type local jump publish"},
			{Chain: "output", Handle: 12, Text: "fib daddr type local jump publish"},
			{Chain: "publish", Handle: 13, Text: "dnat ip to ip daddr . meta l4proto . th dport map @publish_addr"},
			{Chain: "publish", Handle: 14, Text: "dnat ip to meta l4proto . th dport map @publish_any"},
			{Chain: "postrouting", Handle: 15, Text: "ct status dnat ip saddr 127.0.0.0/8 masquerade"},
			{Chain: "postrouting", Handle: 30, Tag: "hutch-aaaaaaaaa", Text: `ip saddr 10.210.0.0/24 oifname != "hutch-aaaaaaaaa" masquerade`},
			{Chain: "postrouting", Handle: 31, Tag: "hutch-aaaaaaaaa", Text: `ip saddr 10.210.0.0/24 oifname "hutch-aaaaaaaaa" ct status dnat masquerade`},
			{Chain: "postrouting", Handle: 40, Tag: "hutch-bbbbbbbbb", Text: `ip saddr 10.211.0.0/24 oifname "hutch-bbbbbbbbb" ct status dnat masquerade`},
			{Chain: "forward", Handle: 16, Text: "ct state established,related accept"},
			{Chain: "forward", Handle: 17, Text: "jump internal"},
			{Chain: "forward", Handle: 18, Text: "ct status dnat accept"},
			{Chain: "forward", Handle: 19, Text: "jump isolate"},
			{Chain: "forward", Handle: 20, Text: "jump outbound"},
			{Chain: "internal", Handle: 43, Tag: "hutch-bbbbbbbbb", Text: `iifname "hutch-bbbbbbbbb" oifname != "hutch-bbbbbbbbb" drop`},
			{Chain: "isolate", Handle: 32, Tag: "hutch-aaaaaaaaa", Text: `iifname "hutch-aaaaaaaaa" oifname "hutch-aaaaaaaaa" accept`},
			{Chain: "isolate", Handle: 33, Tag: "hutch-aaaaaaaaa", Text: `oifname "hutch-aaaaaaaaa" drop`},
			{Chain: "isolate", Handle: 41, Tag: "hutch-bbbbbbbbb", Text: `iifname "hutch-bbbbbbbbb" oifname "hutch-bbbbbbbbb" accept`},
			{Chain: "isolate", Handle: 42, Tag: "hutch-bbbbbbbbb", Text: `oifname "hutch-bbbbbbbbb" drop`},
			{Chain: "outbound", Handle: 34, Tag: "hutch-aaaaaaaaa", Text: `iifname "hutch-aaaaaaaaa" accept`},
		},
		ports: []nft.Port{{HostPort: 8080, Proto: "tcp", ContainerIP: addr("10.210.0.2"), ContainerPort: 80}},
	}
	web := nft.Port{HostPort: 8080, Proto: "tcp", ContainerIP: addr("10.210.0.2"), ContainerPort: 80}
	rec := Records{
		Table: "hutch",
		Networks: []RecNetwork{
			{Name: "front", ID: "a1" + zeros, Bridge: "hutch-aaaaaaaaa", Subnet: pfx("10.210.0.0/24"), Gateway: addr("10.210.0.1")},
			{Name: "back", ID: "b2" + zeros, Bridge: "hutch-bbbbbbbbb", Subnet: pfx("10.211.0.0/24"), Gateway: addr("10.211.0.1"), Internal: true},
		},
		Containers: []RecContainer{
			{Name: "web", ID: "111111111111" + zeros, Pid: 100, PidStart: 1, Ports: []nft.Port{web},
				Endpoints: []RecEndpoint{{Network: "front", IfName: "eth0", HostIf: "vh111111111111", Addr: pfx("10.210.0.2/24"), Names: []string{"web", "www"}}}},
			{Name: "db", ID: "222222222222" + zeros, Pid: 200, PidStart: 1, Endpoints: []RecEndpoint{
				{Network: "front", IfName: "eth0", HostIf: "vh222222222220", Addr: pfx("10.210.0.3/24"), Names: []string{"db"}},
				{Network: "back", IfName: "eth1", HostIf: "vh222222222221", Addr: pfx("10.211.0.2/24"), Names: []string{"db"}},
			}},
		},
		DNS: []Registration{
			{ID: "111111111111" + zeros, Entries: []Entry{{Network: "front", IP: addr("10.210.0.2"), Names: []string{"web", "www", "111111111111", "111111111111"}}}},
			{ID: "222222222222" + zeros, Entries: []Entry{
				{Network: "front", IP: addr("10.210.0.3"), Names: []string{"db", "222222222222"}},
				{Network: "back", IP: addr("10.211.0.2"), Names: []string{"db", "222222222222"}},
			}},
		},
		DNSSource: "the resolver's registrations",
	}
	return k, rec
}

const zeros = "0000000000000000000000000000000000000000000000000000"
