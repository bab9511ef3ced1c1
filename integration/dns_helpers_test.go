//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Helpers shared by the dns_* tests.
//
// No query ever reaches a real resolver: every container that could forward
// one is run with --dns naming a fake upstream of the test's own (dnsFake)
// on a loopback address 127.77.X.Y of the host, or on one inside a
// container's namespace; a test that needs hutch to read the host's
// resolv.conf runs hutch in a private mount namespace whose resolv.conf
// names such a fake. The addresses the fakes hand out are TEST-NET-3
// (203.0.113.0/24) and are never contacted.

// dnsOutside is the only name the fakes know; each fake answers it with its
// own address, so an answer tells which upstream gave it.
const dnsOutside = "outside.test"

// dnsFakeMode is how a fake upstream behaves.
type dnsFakeMode int32

const (
	dnsAnswer   dnsFakeMode = iota // outside.test: A; anything else: NXDOMAIN
	dnsServfail                    // SERVFAIL to everything
	dnsRefused                     // REFUSED to everything
	dnsSilent                      // reads every query and never answers
)

// dnsQuery is one query a fake upstream got.
type dnsQuery struct {
	name  string // lower case, fully qualified
	qtype uint16
	proto string // "udp" or "tcp"
}

// dnsFake is a DNS server of the test's own on port 53 (UDP and TCP).
type dnsFake struct {
	ip     string // where it listens
	answer string // its A record for outside.test
	mode   atomic.Int32
	mu     sync.Mutex
	seen   []dnsQuery
}

// dnsNewFake starts a fake upstream on ip:53, in the host's network
// namespace (pid 0) or in that of process pid, answering outside.test with
// answer; t.Cleanup stops it.
func dnsNewFake(t *testing.T, ip string, pid int, mode dnsFakeMode, answer string) *dnsFake {
	t.Helper()
	f := &dnsFake{ip: ip, answer: answer}
	f.mode.Store(int32(mode))
	var pc net.PacketConn
	var l net.Listener
	listen := func() (err error) {
		if pc, err = net.ListenPacket("udp4", ip+":53"); err != nil {
			return err
		}
		if l, err = net.Listen("tcp4", ip+":53"); err != nil {
			pc.Close()
		}
		return err
	}
	var err error
	if pid == 0 {
		err = listen()
	} else {
		err = dnsInNetNS(pid, listen)
	}
	if err != nil {
		t.Fatalf("fake upstream on %s:53 (netns of pid %d): %v", ip, pid, err)
	}
	for _, s := range []*mdns.Server{
		{PacketConn: pc, Handler: mdns.HandlerFunc(f.serve("udp"))},
		{Listener: l, Handler: mdns.HandlerFunc(f.serve("tcp"))},
	} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("fake upstream on %s:53 did not start", ip)
		}
		t.Cleanup(func() { s.Shutdown() })
	}
	t.Cleanup(func() { pc.Close(); l.Close() })
	return f
}

func (f *dnsFake) serve(proto string) func(mdns.ResponseWriter, *mdns.Msg) {
	return func(w mdns.ResponseWriter, req *mdns.Msg) {
		if len(req.Question) != 1 {
			return
		}
		q := req.Question[0]
		f.mu.Lock()
		f.seen = append(f.seen, dnsQuery{name: strings.ToLower(q.Name), qtype: q.Qtype, proto: proto})
		f.mu.Unlock()
		resp := new(mdns.Msg).SetReply(req)
		switch dnsFakeMode(f.mode.Load()) {
		case dnsSilent:
			return
		case dnsServfail:
			resp.Rcode = mdns.RcodeServerFailure
		case dnsRefused:
			resp.Rcode = mdns.RcodeRefused
		default:
			if strings.EqualFold(q.Name, dnsOutside+".") {
				if q.Qtype == mdns.TypeA {
					resp.Answer = append(resp.Answer, &mdns.A{
						Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
						A:   net.ParseIP(f.answer).To4(),
					})
				}
			} else {
				resp.Rcode = mdns.RcodeNameError
			}
		}
		w.WriteMsg(resp)
	}
}

// count is how many queries for name (any type, any transport) it got.
func (f *dnsFake) count(name string) int {
	return len(f.queries(name))
}

// queries are the queries for name it got (every one for name "").
func (f *dnsFake) queries(name string) []dnsQuery {
	name = strings.ToLower(mdns.Fqdn(name))
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dnsQuery
	for _, q := range f.seen {
		if name == "." || q.name == name {
			out = append(out, q)
		}
	}
	return out
}

// total is how many queries it got in all.
func (f *dnsFake) total() int { return len(f.queries("")) }

// dnsInNetNS runs fn on a thread inside the network namespace of process
// pid (see inNetNS).
func dnsInNetNS(pid int, fn func() error) error {
	return inNetNS(fmt.Sprintf("/proc/%d/ns/net", pid), fn)
}

// dnsDial connects, from inside the network namespace of pid, to
// 127.0.0.11:53 over network ("udp4" or "tcp4").
func dnsDial(t *testing.T, pid int, network string) net.Conn {
	t.Helper()
	var c net.Conn
	err := dnsInNetNS(pid, func() (err error) {
		c, err = net.DialTimeout(network, "127.0.0.11:53", 5*time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("dial 127.0.0.11:53/%s in the netns of %d: %v", network, pid, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dnsAsk sends m over c (UDP or TCP) and reads one reply, within timeout.
func dnsAsk(c net.Conn, m *mdns.Msg, timeout time.Duration) (*mdns.Msg, error) {
	co := &mdns.Conn{Conn: c}
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if r.Id == m.Id { // an answer to an earlier query that timed out is skipped
			return r, nil
		}
	}
}

// dnsQ is a query for name of type qtype.
func dnsQ(name string, qtype uint16) *mdns.Msg {
	return new(mdns.Msg).SetQuestion(mdns.Fqdn(name), qtype)
}

// dnsAddrs are the A records of r, sorted.
func dnsAddrs(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out
}

// dnsLookup is what busybox nslookup printed.
type dnsLookup struct {
	code  int
	addrs []string // every "Address:" of the answers, sorted
	errs  []string // "** server can't find ..." lines
	out   string
}

func (l dnsLookup) String() string {
	return fmt.Sprintf("exit %d, addresses %v, errors %q", l.code, l.addrs, l.errs)
}

// only reports whether the lookup succeeded with exactly the addresses want.
func (l dnsLookup) only(want ...string) bool {
	sort.Strings(want)
	return l.code == 0 && len(l.errs) == 0 && strings.Join(l.addrs, " ") == strings.Join(want, " ")
}

// nxdomain reports whether the lookup failed for name with NXDOMAIN only.
func (l dnsLookup) nxdomain() bool {
	if l.code == 0 || len(l.addrs) != 0 || len(l.errs) == 0 {
		return false
	}
	for _, e := range l.errs {
		if !strings.HasSuffix(e, "NXDOMAIN") {
			return false
		}
	}
	return true
}

// nslookup runs busybox nslookup [flags] name in container ctr (against its
// resolv.conf: 127.0.0.11 on a user-defined network).
func (e *env) nslookup(ctr, name string, flags ...string) dnsLookup {
	e.t.Helper()
	args := append(append([]string{"exec", ctr, "timeout", "10", "nslookup"}, flags...), name)
	r := e.run(args...)
	l := dnsLookup{code: r.code, out: r.stdout + r.stderr}
	// The answers follow the first blank line (before it: the server's
	// own "Address:\t127.0.0.11:53").
	_, answers, _ := strings.Cut(r.stdout, "\n\n")
	for _, line := range strings.Split(answers, "\n") {
		if a, ok := strings.CutPrefix(line, "Address: "); ok {
			l.addrs = append(l.addrs, strings.TrimSpace(a))
		}
	}
	for _, line := range strings.Split(r.stdout+"\n"+r.stderr, "\n") {
		if strings.HasPrefix(line, "** server can't find") {
			l.errs = append(l.errs, strings.TrimSpace(line))
		}
	}
	sort.Strings(l.addrs)
	return l
}

// dnsDig is what one dig run printed.
type dnsDig struct {
	out     string
	status  string          // NOERROR, NXDOMAIN, SERVFAIL…; "" when no reply
	flags   map[string]bool // qr aa tc rd ra…
	answers [][]string      // the answer section's records, split in fields
	size    int             // MSG SIZE rcvd
	proto   string          // UDP or TCP, from the SERVER line
	ednsUDP int             // the reply OPT's UDP size; 0 without OPT
	took    time.Duration
}

func (d dnsDig) String() string { return d.out }

// data are the last fields (the rdata) of the answers of type typ, sorted.
func (d dnsDig) data(typ string) []string {
	var out []string
	for _, f := range d.answers {
		if len(f) >= 5 && f[3] == typ {
			out = append(out, f[4])
		}
	}
	sort.Strings(out)
	return out
}

var (
	digStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	digFlags  = regexp.MustCompile(`(?m)^;; flags:([a-z ]*);`)
	digSize   = regexp.MustCompile(`MSG SIZE\s+rcvd: (\d+)`)
	digServer = regexp.MustCompile(`(?m)^;; SERVER: .*\((UDP|TCP)\)`)
	digEDNS   = regexp.MustCompile(`(?m)^; EDNS: version: \d+, flags:[a-z ]*; udp: (\d+)`)
)

// dnsDigIn runs dig @127.0.0.11 args inside the network namespace of
// process pid (one try, 3 s, unless args say otherwise).
func dnsDigIn(t *testing.T, pid int, args ...string) dnsDig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"-t", strconv.Itoa(pid), "-n", "dig", "@127.0.0.11", "+time=3", "+tries=1"}, args...)
	start := time.Now()
	b, err := exec.CommandContext(ctx, "nsenter", all...).CombinedOutput()
	d := dnsDig{out: string(b), took: time.Since(start), flags: map[string]bool{}}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok || ctx.Err() != nil {
			t.Fatalf("nsenter %s: %v: %s", strings.Join(all, " "), err, b)
		}
	}
	if m := digStatus.FindStringSubmatch(d.out); m != nil {
		d.status = m[1]
	}
	if m := digFlags.FindStringSubmatch(d.out); m != nil {
		for _, f := range strings.Fields(m[1]) {
			d.flags[f] = true
		}
	}
	if m := digSize.FindStringSubmatch(d.out); m != nil {
		d.size, _ = strconv.Atoi(m[1])
	}
	if m := digServer.FindStringSubmatch(d.out); m != nil {
		d.proto = m[1]
	}
	if m := digEDNS.FindStringSubmatch(d.out); m != nil {
		d.ednsUDP, _ = strconv.Atoi(m[1])
	}
	if _, rest, ok := strings.Cut(d.out, ";; ANSWER SECTION:\n"); ok {
		for _, line := range strings.Split(rest, "\n") {
			if strings.TrimSpace(line) == "" {
				break
			}
			d.answers = append(d.answers, strings.Fields(line))
		}
	}
	return d
}

// dnsPid is the pid of container ref's init, as inspect shows it.
func (e *env) dnsPid(ref string) int {
	e.t.Helper()
	c := e.netCtr(ref)
	if !c.State.Running || c.State.Pid <= 0 {
		e.t.Fatalf("inspect %s: not running (pid %d)", ref, c.State.Pid)
	}
	return c.State.Pid
}

// dnsSleeper runs a detached busybox sleeper named name on network net,
// forwarding to the fake upstream at dnsIP, with more run flags; it returns
// the full id.
func (e *env) dnsSleeper(name, net, dnsIP string, flags ...string) string {
	e.t.Helper()
	args := []string{"--name", name, "--network", net, "--dns", dnsIP}
	args = append(append(args, flags...), "busybox", "sleep", "300")
	return e.lcRunDetached(args...)
}

// dnsResolvers lists the live resolver processes of the env's root.
func (e *env) dnsResolvers() []int {
	want := "_dns-serve " + filepath.Join(e.root, "dns")
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if strings.HasSuffix(lcCmdline(pid), want) && lcAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// dnsSocket is the env's resolver control socket.
func (e *env) dnsSocket() string { return filepath.Join(e.root, "dns", "resolver.sock") }

// dnsNftTables lists the nftables tables inside the network namespace of pid.
func dnsNftTables(t *testing.T, pid int) string {
	t.Helper()
	b, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables in the netns of %d: %v: %s", pid, err, b)
	}
	return string(b)
}
