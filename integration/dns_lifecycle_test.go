//go:build integration

package integration

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDNSChangesAtOnce: a container that has just started resolves at once
// from another; once stopped or removed it no longer does (the name goes to
// the upstream, which says NXDOMAIN); started again it resolves again.
func TestDNSChangesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("changes", "--subnet", "10.224.1.0/24")
	fake := dnsNewFake(t, "127.77.31.1", 0, dnsAnswer, "203.0.113.31")
	e.dnsSleeper("client", "changes", fake.ip)

	e.dnsSleeper("fresh", "changes", fake.ip, "--network-alias", "fresh-alias")
	if l := e.nslookup("client", "fresh"); !l.only(e.netIP("fresh")) {
		t.Errorf("nslookup fresh right after run -d: %s", l)
	}
	e.ok("rm", "-f", "fresh")
	for _, name := range []string{"fresh", "fresh-alias"} {
		if l := e.nslookup("client", name, "-type=a"); !l.nxdomain() || fake.count(name) == 0 {
			t.Errorf("nslookup %s right after rm -f: %s (upstream asked %d times), want it forwarded and NXDOMAIN", name, l, fake.count(name))
		}
	}

	e.dnsSleeper("paused", "changes", fake.ip)
	if l := e.nslookup("client", "paused"); !l.only(e.netIP("paused")) {
		t.Errorf("nslookup paused while it runs: %s", l)
	}
	e.ok("kill", "paused")
	e.lcWaitExited("paused", 10*time.Second)
	if l := e.nslookup("client", "paused", "-type=a"); !l.nxdomain() {
		t.Errorf("nslookup paused once it has exited: %s, want NXDOMAIN", l)
	}
	e.ok("start", "paused")
	if l := e.nslookup("client", "paused"); !l.only(e.netIP("paused")) {
		t.Errorf("nslookup paused right after start: %s", l)
	}
	if l := e.nslookup("paused", "client"); !l.only(e.netIP("client")) {
		t.Errorf("the restarted container cannot resolve client: %s", l)
	}
}

// TestDNSConnectDisconnect: network connect makes the container's names on
// the new network, alias included, resolve there at once, and lets it
// resolve that network's names; disconnect undoes both at once.
func TestDNSConnectDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("cd1", "--subnet", "10.224.2.0/24")
	e.netCreate("cd2", "--subnet", "10.224.3.0/24")
	fake := dnsNewFake(t, "127.77.32.1", 0, dnsAnswer, "203.0.113.32")
	e.dnsSleeper("x", "cd1", fake.ip, "--network-alias", "x-on-cd1")
	e.dnsSleeper("y", "cd2", fake.ip, "--network-alias", "ya")
	x1, y := e.netIP("x"), e.netIP("y")

	for _, c := range [][2]string{{"x", "y"}, {"x", "ya"}, {"y", "x"}, {"y", "xa"}} {
		if l := e.nslookup(c[0], c[1], "-type=a"); !l.nxdomain() {
			t.Errorf("before connect: %s: nslookup %s: %s, want NXDOMAIN", c[0], c[1], l)
		}
	}
	e.ok("network", "connect", "--alias", "xa", "cd2", "x")
	x2 := e.netCtr("x").NetworkSettings.Networks["cd2"].IPAddress
	if x2 == "" || x2 == x1 {
		t.Fatalf("x's address on cd2: %q", x2)
	}
	for _, c := range [][3]string{
		{"x", "y", y}, {"x", "ya", y}, {"x", "y.cd2", y}, {"x", "x", ""},
		{"y", "x", x2}, {"y", "xa", x2}, {"y", "x.cd2", x2}, {"y", "XA.CD2", x2},
	} {
		want := c[2]
		if want == "" { // x itself: both its addresses
			if l := e.nslookup(c[0], c[1]); !l.only(x1, x2) {
				t.Errorf("after connect: x: nslookup x: %s, want %s and %s", l, x1, x2)
			}
			continue
		}
		if l := e.nslookup(c[0], c[1]); !l.only(want) {
			t.Errorf("after connect: %s: nslookup %s: %s, want %s", c[0], c[1], l, want)
		}
	}
	// Aliases are per network: x's alias on cd1 is not a name on cd2.
	for _, name := range []string{"x.cd1", "x-on-cd1", "x-on-cd1.cd2"} {
		if l := e.nslookup("y", name, "-type=a"); !l.nxdomain() {
			t.Errorf("after connect: y: nslookup %s (x's name on cd1 only): %s, want NXDOMAIN", name, l)
		}
	}
	if l := e.nslookup("x", "x-on-cd1"); !l.only(x1) {
		t.Errorf("after connect: x: nslookup x-on-cd1: %s, want %s", l, x1)
	}

	e.ok("network", "disconnect", "cd2", "x")
	for _, c := range [][2]string{{"x", "y"}, {"x", "ya"}, {"y", "x"}, {"y", "xa"}, {"y", "x.cd2"}} {
		if l := e.nslookup(c[0], c[1], "-type=a"); !l.nxdomain() {
			t.Errorf("after disconnect: %s: nslookup %s: %s, want NXDOMAIN", c[0], c[1], l)
		}
	}
	if l := e.nslookup("x", "x"); !l.only(x1) {
		t.Errorf("after disconnect: x: nslookup x: %s, want %s only", l, x1)
	}
}

// TestDNSConnectFromDefault: a container started on the default network
// (no resolver of its own) and then connected to a user-defined network is
// found by name by the containers there, as with Docker.
func TestDNSConnectFromDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("late", "--subnet", "10.224.7.0/24")
	fake := dnsNewFake(t, "127.77.36.1", 0, dnsAnswer, "203.0.113.36")
	e.lcRunDetached("--name", "x", "--dns", fake.ip, "busybox", "sleep", "300")
	e.dnsSleeper("y", "late", fake.ip)
	if l := e.nslookup("y", "x", "-type=a"); !l.nxdomain() {
		t.Errorf("before connect: y: nslookup x (on the default network): %s, want NXDOMAIN", l)
	}
	e.ok("network", "connect", "--alias", "xa", "late", "x")
	x := e.netCtr("x").NetworkSettings.Networks["late"].IPAddress
	if x == "" || !e.netPing("y", x) {
		t.Fatalf("x on late: address %q, not reachable from y", x)
	}
	for _, name := range []string{"x", "xa", "x.late"} {
		if l := e.nslookup("y", name); !l.only(x) {
			t.Errorf("after connect: y: nslookup %s: %s, want %s", name, l, x)
		}
	}
}

// TestDNSResolverLifetime: one resolver process per root, started with the
// first container on a user-defined network (not by default-network ones),
// kept while any runs, gone with its socket within seconds after the last
// one is removed or stopped, and started again by the next.
func TestDNSResolverLifetime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("life", "--subnet", "10.224.4.0/24")
	fake := dnsNewFake(t, "127.77.33.1", 0, dnsAnswer, "203.0.113.33")
	e.lcRunDetached("--name", "plain", "--dns", fake.ip, "busybox", "sleep", "300")
	if r := e.dnsResolvers(); len(r) != 0 {
		t.Errorf("a default-network container started resolver %v", r)
	}
	gone := func(what string) {
		t.Helper()
		if !lcWaitUntil(5*time.Second, func() bool {
			_, err := os.Stat(e.dnsSocket())
			return len(e.dnsResolvers()) == 0 && os.IsNotExist(err)
		}) {
			_, err := os.Stat(e.dnsSocket())
			t.Errorf("%s: resolver %v still runs or its socket is left (stat: %v) after 5 s", what, e.dnsResolvers(), err)
		}
	}
	one := func(what string) int {
		t.Helper()
		r := e.dnsResolvers()
		if len(r) != 1 {
			t.Fatalf("%s: resolver processes %v, want one", what, r)
		}
		if _, err := os.Stat(e.dnsSocket()); err != nil {
			t.Errorf("%s: resolver socket: %v", what, err)
		}
		return r[0]
	}

	e.dnsSleeper("a", "life", fake.ip)
	e.dnsSleeper("b", "life", fake.ip)
	first := one("two containers")
	e.ok("rm", "-f", "a")
	if got := one("one left"); got != first {
		t.Errorf("the resolver changed from %d to %d while a container ran", first, got)
	}
	if l := e.nslookup("b", "b"); !l.only(e.netIP("b")) {
		t.Errorf("b after a is gone: %s", l)
	}
	e.ok("rm", "-f", "b")
	gone("after the last rm -f")

	e.dnsSleeper("c", "life", fake.ip)
	second := one("started again")
	if l := e.nslookup("c", "c"); !l.only(e.netIP("c")) {
		t.Errorf("c with a new resolver: %s", l)
	}
	if second == first {
		t.Errorf("the new resolver has the old pid %d", first)
	}
	e.ok("kill", "c")
	e.lcWaitExited("c", 10*time.Second)
	gone("after the last one stopped")
	if out := e.ok("ps", "-q"); !strings.Contains(out, e.netCtr("plain").ID[:12]) {
		t.Errorf("the default-network container is not running: %q", out)
	}
}

// TestDNSPingWget: ping and wget find a container by name, alias and
// NAME.NETWORK.
func TestDNSPingWget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("pw", "--subnet", "10.224.5.0/24")
	fake := dnsNewFake(t, "127.77.34.1", 0, dnsAnswer, "203.0.113.34")
	e.netStartWeb([]string{"--name", "web", "--network", "pw", "--network-alias", "site", "--dns", fake.ip})
	e.dnsSleeper("client", "pw", fake.ip)
	ip := e.netIP("web")
	for _, name := range []string{"web", "site", "web.pw"} {
		r := e.run("exec", "client", "ping", "-c1", "-W2", name)
		if r.code != 0 || !strings.Contains(r.stdout, "("+ip+")") {
			t.Errorf("ping %s: %s, want an answer from %s", name, r, ip)
		}
		if body, err := e.netCtrGet("client", "http://"+name+"/"); err != nil || body != "port80" {
			t.Errorf("wget http://%s/: %q, %v", name, body, err)
		}
	}
	if r := e.run("exec", "client", "ping", "-c1", "-W1", "nosuch"); r.code == 0 {
		t.Errorf("ping nosuch succeeded: %s", r)
	}
}

// TestDNSParallelFirstStarts: containers of a root with no resolver yet,
// started in parallel, all start, end up served by one resolver and all see
// each other. The race is retried over a few rounds, each from no resolver.
func TestDNSParallelFirstStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("par", "--subnet", "10.224.6.0/24")
	fake := dnsNewFake(t, "127.77.35.1", 0, dnsAnswer, "203.0.113.35")
	const n = 12
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		var names []string
		for i := range n {
			name := fmt.Sprintf("r%dp%d", round, i)
			names = append(names, name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := execHutch(hutchBin, e.root, "", nil, "run", "-d", "--name", name, "--network", "par",
					"--network-alias", "all", "--dns", fake.ip, "busybox", "sleep", "300")
				if err == nil && r.code != 0 {
					err = fmt.Errorf("round %d: run %s: %s", round, name, r)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		started := n
		for err := range errs {
			if err != nil {
				t.Error(err)
				started--
			}
		}
		if r := e.dnsResolvers(); len(r) != 1 {
			t.Errorf("round %d: resolver processes of the root: %v, want one", round, r)
		}
		for _, name := range names {
			if !e.netCtr(name).State.Running {
				continue
			}
			if d := dnsDigIn(t, e.dnsPid(name), "+tcp", "all"); len(d.data("A")) != started {
				t.Errorf("round %d: %s sees %d of the %d running containers sharing the alias: %v", round, name, len(d.data("A")), started, d.data("A"))
			}
		}
		if t.Failed() {
			return
		}
		e.ok(append([]string{"rm", "-f"}, names...)...)
		if !lcWaitUntil(5*time.Second, func() bool { return len(e.dnsResolvers()) == 0 }) {
			t.Fatalf("round %d: resolver %v still runs 5 s after the last container went", round, e.dnsResolvers())
		}
	}
}
