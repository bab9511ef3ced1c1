//go:build integration

package integration

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDNSForward: names the resolver does not know go to the --dns
// upstreams in order, over UDP and over TCP as the client asked; the
// first upstream's answer is final, NXDOMAIN included.
func TestDNSForward(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("fwd", "--subnet", "10.222.1.0/24")
	f1 := dnsNewFake(t, "127.77.11.1", 0, dnsAnswer, "203.0.113.111")
	f2 := dnsNewFake(t, "127.77.11.2", 0, dnsAnswer, "203.0.113.112")
	e.dnsSleeper("c", "fwd", f1.ip, "--dns", f2.ip)
	pid := e.dnsPid("c")

	if l := e.nslookup("c", dnsOutside, "-type=a"); !l.only(f1.answer) {
		t.Errorf("nslookup %s: %s, want the first upstream's %s", dnsOutside, l, f1.answer)
	}
	if l := e.nslookup("c", strings.ToUpper(dnsOutside), "-type=a"); !l.only(f1.answer) {
		t.Errorf("nslookup %s: %s, want %s", strings.ToUpper(dnsOutside), l, f1.answer)
	}
	d := dnsDigIn(t, pid, "+tcp", dnsOutside)
	if d.status != "NOERROR" || d.proto != "TCP" || strings.Join(d.data("A"), " ") != f1.answer {
		t.Errorf("dig +tcp %s: want %s over TCP:\n%s", dnsOutside, f1.answer, d)
	}
	var udp, tcp int
	for _, q := range f1.queries(dnsOutside) {
		if q.proto == "tcp" {
			tcp++
		} else {
			udp++
		}
	}
	if udp == 0 || tcp == 0 {
		t.Errorf("the upstream saw %d UDP and %d TCP queries for %s, want both transports", udp, tcp, dnsOutside)
	}
	if d := dnsDigIn(t, pid, "nx.test"); d.status != "NXDOMAIN" || f1.count("nx.test") != 1 {
		t.Errorf("dig nx.test: want the first upstream's NXDOMAIN (it saw %d):\n%s", f1.count("nx.test"), d)
	}
	if n := f2.total(); n != 0 {
		t.Errorf("the second upstream got %d queries while the first answered: %v", n, f2.queries(""))
	}
}

// TestDNSForwardFallback: the next upstream is asked when the first is
// unreachable (at once), silent (after its timeout), says SERVFAIL or
// says REFUSED.
func TestDNSForwardFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("fallback", "--subnet", "10.222.2.0/24")
	good := dnsNewFake(t, "127.77.12.1", 0, dnsAnswer, "203.0.113.121")
	silent := dnsNewFake(t, "127.77.12.2", 0, dnsSilent, "")
	servfail := dnsNewFake(t, "127.77.12.3", 0, dnsServfail, "")
	refused := dnsNewFake(t, "127.77.12.4", 0, dnsRefused, "")
	const dead = "127.77.12.99" // nothing listens: the kernel refuses at once
	cases := []struct {
		name  string
		first string
		fake  *dnsFake
		max   time.Duration
	}{
		{"dead", dead, nil, 1500 * time.Millisecond},
		{"silent", silent.ip, silent, 5 * time.Second},
		{"servfail", servfail.ip, servfail, 1500 * time.Millisecond},
		{"refused", refused.ip, refused, 1500 * time.Millisecond},
	}
	for _, c := range cases {
		e.dnsSleeper(c.name, "fallback", c.first, "--dns", good.ip)
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		pid := e.dnsPid(c.name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dnsDigIn(t, pid, "+time=10", dnsOutside)
			if d.status != "NOERROR" || strings.Join(d.data("A"), " ") != good.answer {
				t.Errorf("%s first: dig %s: want the second upstream's %s:\n%s", c.name, dnsOutside, good.answer, d)
			}
			if d.took > c.max {
				t.Errorf("%s first: the answer took %s, want under %s", c.name, d.took, c.max)
			}
			if c.fake != nil && c.fake.count(dnsOutside) == 0 {
				t.Errorf("%s first: the first upstream was not asked", c.name)
			}
		}()
	}
	wg.Wait()
	if n := good.count(dnsOutside); n < len(cases) {
		t.Errorf("the second upstream answered %d queries, want %d", n, len(cases))
	}
}

// TestDNSForwardAllFail: when no upstream answers the client gets SERVFAIL
// in bounded time: at once when they are unreachable, after a timeout each
// (three of them) when they are silent; at most three upstreams are asked.
func TestDNSForwardAllFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("allfail", "--subnet", "10.222.3.0/24")
	good := dnsNewFake(t, "127.77.13.1", 0, dnsAnswer, "203.0.113.131")
	var silent []*dnsFake
	for _, ip := range []string{"127.77.13.2", "127.77.13.3", "127.77.13.4"} {
		silent = append(silent, dnsNewFake(t, ip, 0, dnsSilent, ""))
	}
	dead := []string{"127.77.13.97", "127.77.13.98", "127.77.13.99"}
	e.dnsSleeper("silent", "allfail", silent[0].ip, "--dns", silent[1].ip, "--dns", silent[2].ip)
	e.dnsSleeper("dead", "allfail", dead[0], "--dns", dead[1], "--dns", dead[2])
	// A fourth, working upstream is one too many: never asked.
	e.dnsSleeper("four", "allfail", dead[0], "--dns", dead[1], "--dns", dead[2], "--dns", good.ip)
	e.dnsSleeper("control", "allfail", good.ip)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the slow one, meanwhile
		defer wg.Done()
		d := dnsDigIn(t, e.dnsPid("silent"), "+time=20", "slow.test")
		if d.status != "SERVFAIL" {
			t.Errorf("three silent upstreams: want SERVFAIL:\n%s", d)
		}
		if d.took > 8*time.Second || d.took < 3*time.Second {
			t.Errorf("three silent upstreams: SERVFAIL after %s, want about 3 × 2 s (3 s to 8 s)", d.took)
		}
		for _, s := range silent {
			if s.count("slow.test") == 0 {
				t.Errorf("silent upstream %s was not asked", s.ip)
			}
		}
	}()
	if d := dnsDigIn(t, e.dnsPid("dead"), "+time=10", "gone.test"); d.status != "SERVFAIL" || d.took > 2*time.Second {
		t.Errorf("three unreachable upstreams: want SERVFAIL within 2 s, took %s:\n%s", d.took, d)
	}
	if l := e.nslookup("dead", "gone.test", "-type=a"); l.code == 0 || !strings.Contains(strings.Join(l.errs, " "), "SERVFAIL") {
		t.Errorf("busybox nslookup with unreachable upstreams: %s, want SERVFAIL", l)
	}
	if d := dnsDigIn(t, e.dnsPid("control"), dnsOutside); strings.Join(d.data("A"), " ") != good.answer {
		t.Errorf("control: the working upstream does not answer directly:\n%s", d)
	}
	before := good.total()
	if d := dnsDigIn(t, e.dnsPid("four"), "+time=10", dnsOutside); d.status != "SERVFAIL" {
		t.Errorf("three unreachable upstreams and a fourth working one: want SERVFAIL (only 3 are used):\n%s", d)
	}
	if n := good.total() - before; n != 0 {
		t.Errorf("the fourth upstream was asked %d times", n)
	}
	wg.Wait()
}
