package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
)

// fakeKernel answers from fixed tables: the host (pid 0) has lo, eth0
// (192.0.2.7/24, default route via 192.0.2.1), bridges br1 (10.1.0.1/24) and
// br2 (10.2.0.1/24); container a (pid 100) is 10.1.0.3 on br1, web (pid 200)
// 10.1.0.2 on br1, b (pid 300) 10.2.0.2 on br2.
type fakeKernel struct {
	rs     *nft.Ruleset
	links  map[int][]Link
	fdb    map[string][]FDBEntry
	dns    map[string][]netip.Addr
	brnf   bool
	drops  []string
	routes func(pid int, q RouteQuery) (Route, error)
}

func a(s string) netip.Addr   { return netip.MustParseAddr(s) }
func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func newFake() *fakeKernel {
	k := &fakeKernel{rs: fixtureRuleset(), dns: map[string][]netip.Addr{"web": {a("10.1.0.2")}}}
	k.links = map[int][]Link{
		0: {
			{Index: 1, Name: "lo", Kind: "device", Addrs: []netip.Prefix{p("127.0.0.1/8")}},
			{Index: 2, Name: "eth0", Kind: "device", MAC: "52:54:00:00:00:01", Addrs: []netip.Prefix{p("192.0.2.7/24")}},
			{Index: 3, Name: "br1", Kind: "bridge", MAC: "aa:00:00:00:00:01", Addrs: []netip.Prefix{p("10.1.0.1/24")}},
			{Index: 4, Name: "br2", Kind: "bridge", MAC: "aa:00:00:00:00:02", Addrs: []netip.Prefix{p("10.2.0.1/24")}},
			{Index: 10, Name: "vha0", Kind: "veth", Master: "br1", PeerIndex: 2},
			{Index: 11, Name: "vhweb0", Kind: "veth", Master: "br1", PeerIndex: 2},
			{Index: 12, Name: "vhb0", Kind: "veth", Master: "br2", PeerIndex: 2},
		},
		100: ctrLinks(10, "02:42:0a:01:00:03", "10.1.0.3/24"),
		200: ctrLinks(11, "02:42:0a:01:00:02", "10.1.0.2/24"),
		300: ctrLinks(12, "02:42:0a:02:00:02", "10.2.0.2/24"),
	}
	k.fdb = map[string][]FDBEntry{
		"br1": {{MAC: "aa:00:00:00:00:01", Port: "br1", Local: true}, {MAC: "02:42:0a:01:00:02", Port: "vhweb0"}},
		"br2": {},
	}
	k.routes = k.route
	return k
}

func ctrLinks(peer int, mac, addr string) []Link {
	return []Link{
		{Index: 1, Name: "lo", Addrs: []netip.Prefix{p("127.0.0.1/8")}},
		{Index: 2, Name: "eth0", Kind: "veth", MAC: mac, PeerIndex: peer, Addrs: []netip.Prefix{p(addr)}},
	}
}

// route is a small routing table per namespace; it stands for the kernel,
// not for the code under test.
func (k *fakeKernel) route(pid int, q RouteQuery) (Route, error) {
	local := map[int][]netip.Prefix{0: {p("192.0.2.7/32"), p("10.1.0.1/32"), p("10.2.0.1/32")},
		100: {p("10.1.0.3/32")}, 200: {p("10.1.0.2/32")}, 300: {p("10.2.0.2/32")}}
	if q.Dst.Is4() && q.Dst.As4()[0] == 127 {
		return Route{Dev: "lo", Src: a("127.0.0.1"), Type: unix.RTN_LOCAL}, nil
	}
	for _, l := range local[pid] {
		if l.Contains(q.Dst) {
			return Route{Dev: "lo", Src: q.Dst, Type: unix.RTN_LOCAL}, nil
		}
	}
	if pid != 0 {
		self := k.links[pid][1].Addrs[0]
		gw := self.Masked().Addr().Next()
		if self.Masked().Contains(q.Dst) {
			return Route{Dev: "eth0", Src: self.Addr(), Type: unix.RTN_UNICAST}, nil
		}
		return Route{Dev: "eth0", Gw: gw, Src: self.Addr(), Type: unix.RTN_UNICAST}, nil
	}
	for _, l := range k.links[0] {
		for _, ad := range l.Addrs {
			if l.Name != "lo" && ad.Masked().Contains(q.Dst) {
				return Route{Dev: l.Name, Src: ad.Addr(), Type: unix.RTN_UNICAST}, nil
			}
		}
	}
	return Route{Dev: "eth0", Gw: a("192.0.2.1"), Src: a("192.0.2.7"), Type: unix.RTN_UNICAST}, nil
}

func (k *fakeKernel) RouteGet(pid int, q RouteQuery) (Route, error) { return k.routes(pid, q) }
func (k *fakeKernel) Links(pid int) ([]Link, error) {
	if ls, ok := k.links[pid]; ok {
		return ls, nil
	}
	return nil, fmt.Errorf("no process %d", pid)
}
func (k *fakeKernel) FDB(bridge string) ([]FDBEntry, error)      { return k.fdb[bridge], nil }
func (k *fakeKernel) Ruleset(table string) (*nft.Ruleset, error) { return k.rs, nil }
func (k *fakeKernel) AskDNS(pid int, name string) (DNSAnswer, error) {
	if as, ok := k.dns[name]; ok {
		return DNSAnswer{Rcode: "NOERROR", Addrs: as, Via: "nft hutch-dns output rule handle 2"}, nil
	}
	return DNSAnswer{Rcode: "NXDOMAIN"}, nil
}
func (k *fakeKernel) BridgeNetfilter() bool              { return k.brnf }
func (k *fakeKernel) ForwardDrops(table string) []string { return k.drops }

func fixtureRecords() Records {
	return Records{
		Table:    "hutch",
		Networks: []Network{{Name: "n1", Bridge: "br1", Subnet: net1}, {Name: "n2", Bridge: "br2", Subnet: net2}},
		Containers: []Container{
			{Name: "a", Pid: 100, Endpoints: []Endpoint{{Network: "n1", Bridge: "br1", IP: a("10.1.0.3"), IfName: "eth0", HostIf: "vha0"}}},
			{Name: "web", Pid: 200, Endpoints: []Endpoint{{Network: "n1", Bridge: "br1", IP: a("10.1.0.2"), IfName: "eth0", HostIf: "vhweb0", Aliases: []string{"www"}}}},
			{Name: "b", Pid: 300, Endpoints: []Endpoint{{Network: "n2", Bridge: "br2", IP: a("10.2.0.2"), IfName: "eth0", HostIf: "vhb0"}}},
		},
	}
}

func fromCtr(recs Records, name string) From {
	for i := range recs.Containers {
		if recs.Containers[i].Name == name {
			return From{Container: &recs.Containers[i]}
		}
	}
	panic(name)
}

func mustTarget(t *testing.T, s string) Target {
	t.Helper()
	tg, err := ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// text is the trace as WriteText prints it, without colour.
func text(t *testing.T, r *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTraceHostToPublishedLoopback(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	r, err := Run(k, recs, From{Host: true}, mustTarget(t, "127.0.0.1:8080"))
	if err != nil {
		t.Fatal(err)
	}
	want := `trace from host to 127.0.0.1:8080/tcp
 1  route (host): local 127.0.0.1 dev lo src 127.0.0.1
 2  nft hutch output rule handle 14: fib daddr type local jump publish
 3  nft hutch publish rule handle 15: dnat ip to ip daddr . meta l4proto . th dport map @publish_addr  → dnat to 10.1.0.2:80 (@publish_addr element 127.0.0.1 . tcp . 8080 : 10.1.0.2 . 80)
 4  route (host, after DNAT): 10.1.0.2 dev br1 src 10.1.0.1
 5  nft hutch postrouting rule handle 17: ct status dnat ip saddr 127.0.0.0/8 masquerade  → masquerade: source becomes 10.1.0.1
 6  bridge br1 (network n1): fdb 02:42:0a:01:00:02 → port vhweb0
 7  veth vhweb0 → web's eth0 (10.1.0.2/24) in its netns
    DELIVERED to web at 10.1.0.2:80/tcp
`
	if got := text(t, r); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	if r.Verdict.Kind != Delivered {
		t.Errorf("verdict %s, want %s", r.Verdict.Kind, Delivered)
	}
}

func TestTraceContainerByName(t *testing.T) {
	for _, brnf := range []bool{false, true} {
		k, recs := newFake(), fixtureRecords()
		k.brnf = brnf
		r, err := Run(k, recs, fromCtr(recs, "a"), mustTarget(t, "web:80"))
		if err != nil {
			t.Fatal(err)
		}
		got := text(t, r)
		for _, w := range []string{
			" 1  dns: web asked 127.0.0.11:53/udp from a's netns (nft hutch-dns output rule handle 2): web A 10.1.0.2\n",
			" 2  route (a's netns): 10.1.0.2 dev eth0 src 10.1.0.3\n",
			" 3  a's eth0 (10.1.0.3/24, 02:42:0a:01:00:03) → veth vha0 on bridge br1 (network n1)\n",
			"bridge br1 (network n1): fdb 02:42:0a:01:00:02 → port vhweb0\n",
			"    DELIVERED to web at 10.1.0.2:80/tcp\n",
		} {
			if !strings.Contains(got, w) {
				t.Errorf("br_netfilter %v: trace lacks %q:\n%s", brnf, w, got)
			}
		}
		// Bridged traffic meets the ip hooks only with br_netfilter.
		if has := strings.Contains(got, `isolate rule handle 25: iifname "br1" oifname "br1" accept`); has != brnf {
			t.Errorf("br_netfilter %v: isolate's accept shown %v:\n%s", brnf, has, got)
		}
		if strings.Contains(got, "[") {
			t.Errorf("a problem reported where records and kernel agree:\n%s", got)
		}
	}
}

func TestTraceAcrossNetworksDropped(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	r, err := Run(k, recs, fromCtr(recs, "a"), mustTarget(t, "10.2.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	want := `trace from a to 10.2.0.2:80/tcp
 1  route (a's netns): 10.2.0.2 via 10.1.0.1 dev eth0 src 10.1.0.3
 2  a's eth0 (10.1.0.3/24, 02:42:0a:01:00:03) → veth vha0 on bridge br1 (network n1)
 3  bridge br1 (network n1): 10.1.0.1 is its own address: up to the host's IP stack
 4  nft hutch raw_prerouting (hook prerouting): no rule decides  → policy accept
 5  nft hutch prerouting (hook prerouting): no rule decides  → policy accept
 6  route (host, input): 10.2.0.2 from 10.1.0.3 iif br1 dev br2
 7  nft hutch forward rule handle 21: jump isolate
 8  nft hutch isolate rule handle 31: oifname "br2" drop comment "br2"  → DROPPED
    DROPPED by table ip hutch chain isolate rule handle 31
`
	if got := text(t, r); got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
	last := r.Hops[len(r.Hops)-1]
	if r.Verdict.Kind != Dropped || last.Chain != "isolate" || last.Handle != 31 {
		t.Errorf("verdict %s at %s/%d, want dropped at isolate/31", r.Verdict.Kind, last.Chain, last.Handle)
	}
}

func TestTraceOutside(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	// Published on every address: DNAT in prerouting, accepted in forward.
	r, err := Run(k, recs, From{Outside: true}, mustTarget(t, "192.0.2.7:9000"))
	if err != nil {
		t.Fatal(err)
	}
	got := text(t, r)
	for _, w := range []string{
		" 1  arrives on eth0 (the interface that has 192.0.2.7) from 192.0.2.1\n",
		"nft hutch prerouting rule handle 13: fib daddr type local jump publish\n",
		"publish rule handle 16: dnat ip to meta l4proto . th dport map @publish_any  → dnat to 10.2.0.2:80 (@publish_any element tcp . 9000 : 10.2.0.2 . 80)\n",
		"route (host, input): 10.2.0.2 from 192.0.2.1 iif eth0 dev br2\n",
		"forward rule handle 20: ct status dnat accept  → ACCEPTED\n",
		"DELIVERED to b at 10.2.0.2:80/tcp\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
	// Published on 127.0.0.1 only: from outside, the raw chain drops it.
	r, err = Run(k, recs, From{Outside: true, Source: a("198.51.100.2")}, mustTarget(t, "127.0.0.1:8080"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict.Kind != Dropped || r.Hops[len(r.Hops)-1].Handle != 12 {
		t.Errorf("outside to 127.0.0.1: %s", text(t, r))
	}
	// Not published: delivered to the host itself.
	r, err = Run(k, recs, From{Outside: true}, mustTarget(t, "192.0.2.7:22"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict.Kind != ToHost || !strings.Contains(text(t, r), "@publish_any has no element tcp . 22") {
		t.Errorf("outside to an unpublished port: %s", text(t, r))
	}
}

func TestTraceVerdicts(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	noRoute := newFake()
	noRoute.routes = func(pid int, q RouteQuery) (Route, error) {
		return Route{}, errors.New("network is unreachable")
	}
	unreachable := newFake()
	unreachable.routes = func(pid int, q RouteQuery) (Route, error) { return Route{Type: unix.RTN_UNREACHABLE}, nil }
	for _, tc := range []struct {
		name   string
		k      *fakeKernel
		from   From
		target string
		kind   string
	}{
		{"to a container from the host", k, From{Host: true}, "10.2.0.2:80", Delivered},
		{"by alias from the host", k, From{Host: true}, "www:80", Delivered},
		{"to the host from a container", k, fromCtr(recs, "a"), "10.1.0.1:80", ToHost},
		{"to itself", k, fromCtr(recs, "a"), "10.1.0.3:80", Delivered},
		{"out of the host", k, fromCtr(recs, "a"), "198.51.100.1:80", LeavesHost},
		{"nobody has the address", k, fromCtr(recs, "a"), "10.1.0.99:80", Unreachable},
		{"lookup fails", noRoute, From{Host: true}, "10.2.0.2:80", NoRoute},
		{"unreachable route", unreachable, From{Host: true}, "10.2.0.2:80", NoRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Run(tc.k, recs, tc.from, mustTarget(t, tc.target))
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict.Kind != tc.kind {
				t.Errorf("verdict %s, want %s:\n%s", r.Verdict.Kind, tc.kind, text(t, r))
			}
		})
	}
}

func TestTraceOutboundMasquerade(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	r, err := Run(k, recs, fromCtr(recs, "a"), mustTarget(t, "198.51.100.1:443"))
	if err != nil {
		t.Fatal(err)
	}
	got := text(t, r)
	for _, w := range []string{
		`outbound rule handle 27: iifname "br1" accept comment "br1"  → ACCEPTED`,
		`postrouting rule handle 23: ip saddr 10.1.0.0/24 oifname != "br1" masquerade comment "br1"  → masquerade: source becomes 192.0.2.7`,
		"LEAVES the host by eth0 via 192.0.2.1, from 192.0.2.7",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
}

func TestTraceDisagreements(t *testing.T) {
	// The fdb sends web's MAC to another port, and the records name another
	// veth for a: both are reported.
	k, recs := newFake(), fixtureRecords()
	k.fdb["br1"] = []FDBEntry{{MAC: "02:42:0a:01:00:02", Port: "vha0"}}
	recs.Containers[0].Endpoints[0].HostIf = "vhgone0"
	r, err := Run(k, recs, fromCtr(recs, "a"), mustTarget(t, "10.1.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, h := range r.Hops {
		if h.Problem != "" {
			problems = append(problems, h.Problem)
		}
	}
	if len(problems) != 2 || !strings.Contains(problems[0], "vha0") || !strings.Contains(problems[1], "the fdb says port vha0") {
		t.Errorf("problems = %q:\n%s", problems, text(t, r))
	}
	// A stale map element: DNAT to an address nobody has.
	k = newFake()
	k.rs.Maps["publish_any"].Elements[0].Val[3] = 99 // 10.2.0.99
	r, err = Run(k, fixtureRecords(), From{Host: true}, mustTarget(t, "192.0.2.7:9000"))
	if err != nil {
		t.Fatal(err)
	}
	if last := r.Hops[len(r.Hops)-1]; r.Verdict.Kind != Unreachable || !strings.Contains(last.Problem, "map element") {
		t.Errorf("stale element:\n%s", text(t, r))
	}
	// Another table's forward drop is a warning on the way.
	k = newFake()
	k.drops = []string{"table ip filter chain FORWARD"}
	r, err = Run(k, fixtureRecords(), fromCtr(recs, "b"), mustTarget(t, "198.51.100.1:80"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text(t, r), "table ip filter chain FORWARD: policy drop on the forward hook") {
		t.Errorf("no warning of the forward drop:\n%s", text(t, r))
	}
}

func TestTraceBadInput(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	for _, tc := range []struct {
		name   string
		from   From
		target Target
		want   string
	}{
		{"unknown name from a container", fromCtr(recs, "a"), Target{Name: "nosuch", Port: 80, Proto: "tcp"}, "answers NXDOMAIN"},
		{"unknown name from the host", From{Host: true}, Target{Name: "nosuch", Port: 80, Proto: "tcp"}, "no running container has it"},
		{"name from the default network", From{Container: &Container{Name: "d", Pid: 100, NoDNS: true}}, Target{Name: "web", Port: 80, Proto: "tcp"}, "no embedded resolver"},
		{"bad protocol", From{Host: true}, Target{Addr: a("10.1.0.2"), Port: 80, Proto: "sctp"}, "want tcp or udp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(k, recs, tc.from, tc.target)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want a bad-input error with %q", err, tc.want)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // Target.String(), or the error's text
		ok   bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080/tcp", true},
		{"web", "web:80/tcp", true},
		{"web:53/udp", "web:53/udp", true},
		{"10.1.0.2/UDP", "10.1.0.2:80/udp", true},
		{"web:0", "port \"0\"", false},
		{"web:65536", "port \"65536\"", false},
		{"web:http", "port \"http\"", false},
		{"web:80/icmp", "protocol \"icmp\"", false},
		{"::1", "want an IPv4 address or a name", false},
		{"[::1]:80", "want an IPv4 address or a name", false},
		{"-x", "want an IPv4 address or a name", false},
		{"", "want an IPv4 address or a name", false},
	} {
		got, err := ParseTarget(tc.in)
		switch {
		case tc.ok && (err != nil || got.String() != tc.want):
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		case !tc.ok && (err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ParseTarget(%q) error %v, want one with %q", tc.in, err, tc.want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	k, recs := newFake(), fixtureRecords()
	r, err := Run(k, recs, fromCtr(recs, "a"), mustTarget(t, "10.2.0.2:80"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		From, Target string
		Hops         []Hop
		Verdict      Verdict
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	last := back.Hops[len(back.Hops)-1]
	if back.From != "a" || back.Verdict.Kind != Dropped || last.Kind != "nft" || last.Chain != "isolate" || last.Handle != 31 ||
		last.Rule != `oifname "br2" drop comment "br2"` || last.Action != "drop" {
		t.Errorf("JSON: %s", b.String())
	}
	// Colour marks problems in red on a terminal.
	r.Hops[0].Problem = "something"
	var c bytes.Buffer
	r.WriteText(&c, true)
	if !strings.Contains(c.String(), "\x1b[31m[something]\x1b[0m") {
		t.Errorf("no red problem in %q", c.String())
	}
}
