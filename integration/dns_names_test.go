//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestDNSResolvConf: on a user-defined network the container's resolv.conf
// keeps the host's search domains and other options, names 127.0.0.11 as
// its only nameserver (also with --dns) and sets ndots:0; with no --dns,
// other names go to the host's nameservers, a loopback one included (asked
// from the host's namespace). The host's resolv.conf is a fake one, in a
// private mount namespace of hutch's own, naming a fake upstream.
func TestDNSResolvConf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("rcnet", "--subnet", "10.221.1.0/24")
	fake := dnsNewFake(t, "127.77.1.1", 0, dnsAnswer, "203.0.113.11")
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	host := "search example.test\nnameserver 127.77.1.1\noptions ndots:5 attempts:2\n"
	if err := os.WriteFile(conf, []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /etc/resolv.conf && exec "$2" --root "$3" run --rm --network rcnet busybox sh -c 'cat /etc/resolv.conf; echo ---; nslookup `+dnsOutside+`'`,
		"sh", conf, hutchBin, e.root)
	cmd.Env = append(os.Environ(), "HUTCH_ROOT=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run in a private mount namespace: %v: %s", err, b)
	}
	resolv, lookup, _ := strings.Cut(string(b), "---")
	var ns, search, options []string
	for _, l := range strings.Split(resolv, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			ns = append(ns, f[1])
		case "search":
			search = append(search, f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if strings.Join(ns, " ") != "127.0.0.11" {
		t.Errorf("nameservers %v, want only 127.0.0.11:\n%s", ns, resolv)
	}
	if strings.Join(search, " ") != "example.test" {
		t.Errorf("search %v, want the host's example.test:\n%s", search, resolv)
	}
	opts := " " + strings.Join(options, " ") + " "
	if !strings.Contains(opts, " ndots:0 ") || strings.Contains(opts, "ndots:5") || !strings.Contains(opts, " attempts:2 ") {
		t.Errorf("options %v, want ndots:0 (not the host's ndots:5) and the host's attempts:2:\n%s", options, resolv)
	}
	if !strings.Contains(lookup, "Address: 203.0.113.11") {
		t.Errorf("nslookup %s with the host's (loopback) nameserver as upstream:\n%s", dnsOutside, lookup)
	}
	if fake.count(dnsOutside) == 0 {
		t.Errorf("the fake upstream named by the host's resolv.conf got no query for %s", dnsOutside)
	}

	// --dns changes the upstreams, not the container's nameserver.
	got := e.runSh("cat /etc/resolv.conf", "--network", "rcnet", "--dns", "127.77.1.2")
	if !strings.Contains(got, "nameserver 127.0.0.11") || strings.Contains(got, "127.77.1.2") {
		t.Errorf("resolv.conf with --dns 127.77.1.2 on a user-defined network:\n%s\nwant 127.0.0.11 only", got)
	}
}

// TestDNSDefaultBridge: on the default network there is no embedded
// resolver: resolv.conf names the --dns server, not 127.0.0.11, no DNS rule
// is set up in the container, no resolver runs, and another container's
// name goes to the upstream like any other name (the fake, inside the
// asker's own namespace, says NXDOMAIN).
func TestDNSDefaultBridge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.lcRunDetached("--name", "other", "--dns", "127.77.2.1", "busybox", "sleep", "300")
	e.lcRunDetached("--name", "asker", "--dns", "127.77.2.1", "busybox", "sleep", "300")
	pid := e.dnsPid("asker")
	fake := dnsNewFake(t, "127.77.2.1", pid, dnsAnswer, "203.0.113.21")

	resolv := e.ok("exec", "asker", "cat", "/etc/resolv.conf")
	if strings.Contains(resolv, "127.0.0.11") || !strings.Contains(resolv, "nameserver 127.77.2.1") {
		t.Errorf("default network resolv.conf:\n%s\nwant nameserver 127.77.2.1 and no 127.0.0.11", resolv)
	}
	if l := e.nslookup("asker", dnsOutside, "-type=a"); !l.only("203.0.113.21") {
		t.Fatalf("nslookup %s through the fake upstream: %s\n%s", dnsOutside, l, l.out)
	}
	if ip := e.netIP("other"); !e.netPing("asker", ip) {
		t.Errorf("asker cannot ping other at %s: they do not share a network", ip)
	}
	for _, name := range []string{"other", other[:12]} {
		if l := e.nslookup("asker", name, "-type=a"); !l.nxdomain() {
			t.Errorf("nslookup %s on the default network: %s, want NXDOMAIN from the upstream", name, l)
		}
		if fake.count(name) == 0 {
			t.Errorf("the query for %s did not reach the upstream", name)
		}
	}
	if tables := dnsNftTables(t, pid); strings.Contains(tables, "hutch-dns") {
		t.Errorf("a container on the default network has a DNS redirect:\n%s", tables)
	}
	if r := e.dnsResolvers(); len(r) != 0 {
		t.Errorf("resolver processes %v run for a root with only default-network containers", r)
	}
	// The controls: a container on a user-defined network has both.
	e.netCreate("userdef", "--subnet", "10.221.2.0/24")
	e.dnsSleeper("user", "userdef", "127.77.2.2")
	if tables := dnsNftTables(t, e.dnsPid("user")); !strings.Contains(tables, "hutch-dns") {
		t.Errorf("a container on a user-defined network has no DNS redirect:\n%s", tables)
	}
	if r := e.dnsResolvers(); len(r) != 1 {
		t.Errorf("resolver processes %v with a container on a user-defined network, want one", r)
	}
}

// TestDNSNames: a container resolves another's name, each alias, short id
// and hostname, each also as NAME.NETWORK, in any case, with TTL 0 and an
// authoritative answer; it resolves itself too. Unknown names, and a known
// name under another network's name, go to the upstream.
func TestDNSNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("names", "--subnet", "10.221.3.0/24")
	fake := dnsNewFake(t, "127.77.3.1", 0, dnsAnswer, "203.0.113.31")
	web := e.dnsSleeper("web", "names", fake.ip, "--network-alias", "www", "--network-alias", "Front", "--hostname", "webhost")
	cl := e.dnsSleeper("client", "names", fake.ip)
	webIP, clIP := e.netIP("web"), e.netIP("client")

	for _, name := range []string{
		"web", "www", "front", "FRONT", "Front", "webhost", "WebHost", web[:12], strings.ToUpper(web[:12]),
		"web.names", "WWW.NAMES", "front.Names", "webhost.names", web[:12] + ".names", "web.names.",
	} {
		if l := e.nslookup("client", name); !l.only(webIP) {
			t.Errorf("nslookup %s: %s, want %s", name, l, webIP)
		}
	}
	// Its own names; the default hostname is the short id.
	for _, name := range []string{"client", cl[:12], "client.names"} {
		if l := e.nslookup("client", name); !l.only(clIP) {
			t.Errorf("nslookup %s from itself: %s, want %s", name, l, clIP)
		}
	}
	if h := e.ok("exec", "client", "hostname"); h != cl[:12] {
		t.Errorf("hostname of client = %q, want its short id", h)
	}

	pid := e.dnsPid("client")
	d := dnsDigIn(t, pid, "WeB.NaMeS", "A")
	if d.status != "NOERROR" || !d.flags["aa"] || len(d.answers) != 1 || d.answers[0][1] != "0" || d.answers[0][4] != webIP {
		t.Errorf("dig WeB.NaMeS A: want one authoritative A %s with TTL 0:\n%s", webIP, d)
	}
	if len(d.answers) == 1 && d.answers[0][0] != "WeB.NaMeS." {
		t.Errorf("dig WeB.NaMeS A: owner %q, want the question's own spelling", d.answers[0][0])
	}

	before := fake.total()
	for _, name := range []string{"nosuch", "web.othernet", "www.names.extra", "we"} {
		if l := e.nslookup("client", name, "-type=a"); !l.nxdomain() {
			t.Errorf("nslookup %s: %s, want NXDOMAIN (from the upstream)", name, l)
		}
		if fake.count(name) == 0 {
			t.Errorf("unknown name %s was not forwarded", name)
		}
	}
	if fake.total() == before {
		t.Errorf("no query reached the upstream")
	}
	if fake.count("web") != 0 || fake.count("www.names") != 0 {
		t.Errorf("known names were forwarded: %v", fake.queries(""))
	}
}

// TestDNSRecordTypes: PTR for a container's address gives its name; a known
// name asked for AAAA or MX is an empty NOERROR that never reaches the
// upstream (whose counter moves for unknown names: the control); a PTR of
// an address nobody has is forwarded.
func TestDNSRecordTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("types", "--subnet", "10.221.4.0/24")
	fake := dnsNewFake(t, "127.77.4.1", 0, dnsAnswer, "203.0.113.41")
	e.dnsSleeper("db", "types", fake.ip, "--network-alias", "store")
	e.dnsSleeper("app", "types", fake.ip)
	dbIP := e.netIP("db")
	pid := e.dnsPid("app")

	d := dnsDigIn(t, pid, "-x", dbIP)
	if ptr := d.data("PTR"); d.status != "NOERROR" || len(ptr) != 1 || !strings.HasPrefix(ptr[0], "db.") {
		t.Errorf("dig -x %s: want one PTR to db:\n%s", dbIP, d)
	}
	if l := e.nslookup("app", dbIP); l.code != 0 || !strings.Contains(l.out, "name = db") {
		t.Errorf("nslookup %s (PTR) with busybox: %s\n%s", dbIP, l, l.out)
	}

	rev, _ := mdns.ReverseAddr("10.221.4.200")
	d = dnsDigIn(t, pid, "-x", "10.221.4.200")
	if d.status != "NXDOMAIN" || fake.count(rev) == 0 {
		t.Errorf("dig -x of an unused address: want it forwarded (the fake saw %d) and NXDOMAIN:\n%s", fake.count(rev), d)
	}

	for _, q := range [][2]string{{"db", "AAAA"}, {"db", "MX"}, {"store", "AAAA"}, {"DB.types", "MX"}, {"db", "TXT"}} {
		d := dnsDigIn(t, pid, q[0], q[1])
		if d.status != "NOERROR" || len(d.answers) != 0 || !d.flags["aa"] {
			t.Errorf("dig %s %s: want an empty authoritative NOERROR:\n%s", q[0], q[1], d)
		}
		d = dnsDigIn(t, pid, "+tcp", q[0], q[1])
		if d.status != "NOERROR" || len(d.answers) != 0 || d.proto != "TCP" {
			t.Errorf("dig +tcp %s %s: want an empty NOERROR over TCP:\n%s", q[0], q[1], d)
		}
	}
	// The control: the same types for an unknown name do reach the upstream.
	if d := dnsDigIn(t, pid, "nosuch", "AAAA"); d.status != "NXDOMAIN" || fake.count("nosuch") != 1 {
		t.Errorf("dig nosuch AAAA: want it forwarded once (fake saw %d) and NXDOMAIN:\n%s", fake.count("nosuch"), d)
	}
	for _, n := range []string{"db", "store", "db.types"} {
		if c := fake.count(n); c != 0 {
			t.Errorf("%d queries for known name %s reached the upstream: %v", c, n, fake.queries(n))
		}
	}
	// EDNS: a local answer carries an OPT only when the query had one; an
	// EDNS version above 0 gets BADVERS.
	if d := dnsDigIn(t, pid, "+edns=0", "+bufsize=1232", "db"); d.ednsUDP == 0 || strings.Join(d.data("A"), " ") != dbIP {
		t.Errorf("dig +edns db: want A %s with an OPT in the reply:\n%s", dbIP, d)
	}
	if d := dnsDigIn(t, pid, "+noedns", "db"); d.ednsUDP != 0 || strings.Contains(d.out, "OPT PSEUDOSECTION") || strings.Join(d.data("A"), " ") != dbIP {
		t.Errorf("dig +noedns db: want A %s and no OPT:\n%s", dbIP, d)
	}
	if d := dnsDigIn(t, pid, "+edns=1", "+noednsnegotiation", "db"); d.status != "BADVERS" {
		t.Errorf("dig +edns=1 db: want BADVERS:\n%s", d)
	}
	// A over TCP for a local name.
	if d := dnsDigIn(t, pid, "+tcp", "db"); d.proto != "TCP" || strings.Join(d.data("A"), " ") != dbIP {
		t.Errorf("dig +tcp db: want A %s over TCP:\n%s", dbIP, d)
	}
}

// TestDNSSharedAlias: two containers sharing an alias both answer it, in a
// shuffled order: over 20 queries both orders occur.
func TestDNSSharedAlias(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("shared", "--subnet", "10.221.5.0/24")
	fake := dnsNewFake(t, "127.77.5.1", 0, dnsAnswer, "203.0.113.51")
	e.dnsSleeper("s1", "shared", fake.ip, "--network-alias", "pool")
	e.dnsSleeper("s2", "shared", fake.ip, "--network-alias", "pool")
	e.dnsSleeper("asker", "shared", fake.ip)
	ip1, ip2 := e.netIP("s1"), e.netIP("s2")
	if l := e.nslookup("asker", "pool"); !l.only(ip1, ip2) {
		t.Errorf("nslookup pool: %s, want %s and %s", l, ip1, ip2)
	}
	pid := e.dnsPid("asker")
	c := dnsDial(t, pid, "udp4")
	orders := map[string]int{}
	for range 20 {
		r, err := dnsAsk(c, dnsQ("pool", mdns.TypeA), 3*time.Second)
		if err != nil {
			t.Fatalf("query pool: %v", err)
		}
		var got []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok {
				got = append(got, a.A.String())
			}
		}
		if len(got) != 2 || strings.Join(dnsAddrs(r), " ") != strings.Join(sortedPair(ip1, ip2), " ") {
			t.Fatalf("query pool: %v, want %s and %s", got, ip1, ip2)
		}
		orders[strings.Join(got, " ")]++
	}
	if len(orders) != 2 {
		t.Errorf("over 20 queries the orders were %v; want both", orders)
	}
	if fake.count("pool") != 0 {
		t.Errorf("the shared alias was forwarded")
	}
}

func sortedPair(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}

// TestDNSNetworkScope: names of containers on a network the asker is not
// on do not resolve, under either form; a container on two networks
// resolves names on both, and each side sees it at its address there.
func TestDNSNetworkScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("scopea", "--subnet", "10.221.6.0/24")
	e.netCreate("scopeb", "--subnet", "10.221.7.0/24")
	fake := dnsNewFake(t, "127.77.6.1", 0, dnsAnswer, "203.0.113.61")
	e.dnsSleeper("a1", "scopea", fake.ip)
	e.dnsSleeper("b1", "scopeb", fake.ip, "--network-alias", "bee")
	e.dnsSleeper("ab", "scopea", fake.ip)
	e.ok("network", "connect", "--alias", "both", "scopeb", "ab")
	a1, b1 := e.netIP("a1"), e.netIP("b1")
	eps := e.netCtr("ab").NetworkSettings.Networks
	abA, abB := eps["scopea"].IPAddress, eps["scopeb"].IPAddress
	if abA == "" || abB == "" {
		t.Fatalf("ab's networks: %+v", eps)
	}

	for _, c := range []struct{ from, name, want string }{
		{"a1", "ab", abA}, {"a1", "ab.scopea", abA},
		{"b1", "ab", abB}, {"b1", "both", abB}, {"b1", "ab.scopeb", abB}, {"b1", "both.scopeb", abB},
		{"ab", "a1", a1}, {"ab", "b1", b1}, {"ab", "bee", b1}, {"ab", "b1.scopeb", b1}, {"ab", "a1.scopea", a1},
	} {
		if l := e.nslookup(c.from, c.name); !l.only(c.want) {
			t.Errorf("%s: nslookup %s: %s, want %s", c.from, c.name, l, c.want)
		}
	}
	for _, c := range []struct{ from, name string }{
		{"a1", "b1"}, {"a1", "bee"}, {"a1", "b1.scopeb"}, {"a1", "both"}, {"a1", "ab.scopeb"},
		{"b1", "a1"}, {"b1", "a1.scopea"}, {"b1", "ab.scopea"},
	} {
		n := fake.count(c.name)
		if l := e.nslookup(c.from, c.name, "-type=a"); !l.nxdomain() {
			t.Errorf("%s: nslookup %s (on a network it is not on): %s, want NXDOMAIN", c.from, c.name, l)
		}
		if fake.count(c.name) == n {
			t.Errorf("%s: %s was not forwarded", c.from, c.name)
		}
	}
	// PTR too: only for addresses on the asker's networks.
	if d := dnsDigIn(t, e.dnsPid("ab"), "-x", b1); !slices.Equal(d.data("PTR"), []string{"b1."}) {
		t.Errorf("ab: dig -x %s: want PTR b1.:\n%s", b1, d)
	}
	rev, _ := mdns.ReverseAddr(b1)
	if d := dnsDigIn(t, e.dnsPid("a1"), "-x", b1); d.status != "NXDOMAIN" || fake.count(rev) != 1 {
		t.Errorf("a1: dig -x %s (on a network a1 is not on): want it forwarded (fake saw %d) and NXDOMAIN:\n%s", b1, fake.count(rev), d)
	}
}
