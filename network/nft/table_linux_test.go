package nft

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// These tests talk to the kernel, each in a network namespace of its own
// that disappears when the test ends; nothing touches the host's.

// testTable returns a table in a fresh network namespace.
func testTable(t *testing.T) Table {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN)")
	}
	return Table{Name: "hutch-test", netns: newNetNS(t)}
}

// newNetNS makes a network namespace and returns an fd to it, closed (and
// so the namespace freed) when the test ends. The namespace is made on a
// locked thread that is put back into its own namespace before being
// unlocked; if that fails it stays locked and dies with its goroutine.
func newNetNS(t *testing.T) int {
	t.Helper()
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		const self = "/proc/thread-self/ns/net"
		orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		fd, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			if err == nil {
				unix.Close(fd)
			}
			done <- result{err: fmt.Errorf("restore netns: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{fd, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("new netns: %v", r.err)
	}
	t.Cleanup(func() { unix.Close(r.fd) })
	return r.fd
}

// nftIn runs nft(8) in tb's namespace, for checks only: the package never
// runs it. The test is skipped if nft is not installed.
func nftIn(t *testing.T, tb Table, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft(8) is not installed (apt-get install nftables)")
	}
	ns := fmt.Sprintf("--net=/proc/%d/fd/%d", os.Getpid(), tb.netns)
	out, err := exec.Command("nsenter", append([]string{ns, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// conn opens a connection to tb's namespace for checks.
func conn(t *testing.T, tb Table) *nftables.Conn {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(tb.netns))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ruleCounts counts the rules of each chain of tb.
func ruleCounts(t *testing.T, tb Table) map[string]int {
	t.Helper()
	c := conn(t, tb)
	counts := map[string]int{}
	for _, ch := range chains(ipTable(tb.Name)) {
		rs, err := c.GetRules(ipTable(tb.Name), ch)
		if err != nil {
			t.Fatalf("rules of %s: %v", ch.Name, err)
		}
		counts[ch.Name] = len(rs)
	}
	return counts
}

// tagsIn lists the tag of each rule of chain, in order.
func tagsIn(t *testing.T, tb Table, chain string) []string {
	t.Helper()
	rs, err := conn(t, tb).GetRules(ipTable(tb.Name), &nftables.Chain{Name: chain})
	if err != nil {
		t.Fatalf("rules of %s: %v", chain, err)
	}
	var tags []string
	for _, r := range rs {
		tags = append(tags, tagOf(r.UserData))
	}
	return tags
}

func mustExist(t *testing.T, tb Table, want bool) {
	t.Helper()
	got, err := tb.Exists()
	if err != nil || got != want {
		t.Fatalf("Exists() = %v, %v, want %v", got, err, want)
	}
}

var baseCounts = map[string]int{
	chainRaw: 1, chainPrerouting: 1, chainOutput: 1, chainPublish: 2, chainPostrouting: 1,
	chainForward: 5, chainInternal: 0, chainIsolate: 0, chainOutbound: 0,
}

func TestEnsureIsIdempotentAndDeleteToleratesMissing(t *testing.T) {
	tb := testTable(t)
	mustExist(t, tb, false)
	for range 2 {
		if err := tb.Ensure(); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	mustExist(t, tb, true)
	if got := ruleCounts(t, tb); !maps.Equal(got, baseCounts) {
		t.Errorf("rules per chain = %v, want %v", got, baseCounts)
	}
	for range 2 {
		if err := tb.Delete(); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	mustExist(t, tb, false)
}

// Two hutch processes ensuring the table at once: every caller succeeds and
// the table has its rules once.
func TestEnsureConcurrently(t *testing.T) {
	tb := testTable(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = tb.Ensure() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got := ruleCounts(t, tb); !maps.Equal(got, baseCounts) {
		t.Errorf("rules per chain = %v, want %v", got, baseCounts)
	}
}

// The process that loses the race (finds no table, then sends its batch
// after the winner's) succeeds and adds nothing: its batch creates the table
// exclusively, so it fails whole.
func TestCreateAfterAnotherCreatorAddsNothing(t *testing.T) {
	tb := testTable(t)
	for range 2 {
		if err := tb.with(tb.create); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if got := ruleCounts(t, tb); !maps.Equal(got, baseCounts) {
		t.Errorf("rules per chain = %v, want %v", got, baseCounts)
	}
}

// A table an older hutch made, without the raw chain, gets it (once, also
// from concurrent callers) the next time it is ensured; the rest stays.
func TestEnsureAddsRawChainToOldTable(t *testing.T) {
	tb := testTable(t)
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddNetwork(Network{Bridge: "br0", Subnet: netip.MustParsePrefix("172.18.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	c := conn(t, tb)
	c.DelChain(&nftables.Chain{Table: ipTable(tb.Name), Name: chainRaw})
	if err := c.Flush(); err != nil {
		t.Fatalf("delete chain %s: %v", chainRaw, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = tb.Ensure() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	want := maps.Clone(baseCounts)
	want[chainPostrouting] += 2
	want[chainIsolate] += 2
	want[chainOutbound]++
	if got := ruleCounts(t, tb); !maps.Equal(got, want) {
		t.Errorf("rules per chain = %v, want %v", got, want)
	}
}

func TestAddNetworkReplacesAndRemoveNetwork(t *testing.T) {
	tb := testTable(t)
	if err := tb.RemoveNetwork("br0"); err != nil { // no table yet
		t.Fatalf("RemoveNetwork without table: %v", err)
	}
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	br0 := Network{Bridge: "br0", Subnet: netip.MustParsePrefix("172.18.0.0/16")}
	br1 := Network{Bridge: "br1", Subnet: netip.MustParsePrefix("10.89.0.0/20"), Internal: true}
	for _, n := range []Network{br0, br1, br0} {
		if err := tb.AddNetwork(n); err != nil {
			t.Fatalf("AddNetwork(%+v): %v", n, err)
		}
	}
	// br0 again replaced its rules, now after br1's.
	want := map[string][]string{
		chainPostrouting: {"", "br1", "br0", "br0"},
		chainInternal:    {"br1"},
		chainIsolate:     {"br1", "br1", "br0", "br0"},
		chainOutbound:    {"br0"},
	}
	for ch, tags := range want {
		if got := tagsIn(t, tb, ch); !slices.Equal(got, tags) {
			t.Errorf("after AddNetwork br0, br1, br0: tags in %s = %q, want %q", ch, got, tags)
		}
	}
	for range 2 {
		if err := tb.RemoveNetwork("br0"); err != nil {
			t.Fatalf("RemoveNetwork: %v", err)
		}
	}
	want = map[string][]string{
		chainPostrouting: {"", "br1"},
		chainInternal:    {"br1"},
		chainIsolate:     {"br1", "br1"},
		chainOutbound:    nil,
	}
	for ch, tags := range want {
		if got := tagsIn(t, tb, ch); !slices.Equal(got, tags) {
			t.Errorf("after RemoveNetwork br0: tags in %s = %q, want %q", ch, got, tags)
		}
	}
	if err := tb.AddNetwork(Network{Bridge: "br0"}); err == nil {
		t.Error("AddNetwork without a subnet succeeded")
	}
}

var (
	web     = Port{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, Proto: "tcp", ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 80}
	webTLS  = Port{HostPort: 8443, Proto: "tcp", ContainerIP: netip.MustParseAddr("172.18.0.2"), ContainerPort: 443}
	dnsPort = Port{HostPort: 53, Proto: "udp", ContainerIP: netip.MustParseAddr("172.18.0.3"), ContainerPort: 5353}
)

func mustPorts(t *testing.T, tb Table, want ...Port) {
	t.Helper()
	got, err := tb.Ports()
	if err != nil {
		t.Fatalf("Ports: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Ports() = %+v\nwant %+v", got, want)
	}
}

func TestPorts(t *testing.T) {
	tb := testTable(t)
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	mustPorts(t, tb)
	if err := tb.AddPorts([]Port{web, dnsPort}); err != nil {
		t.Fatalf("AddPorts: %v", err)
	}
	mustPorts(t, tb, dnsPort, web) // every address first

	other := netip.MustParseAddr("172.18.0.9")
	for _, p := range []Port{
		web, // the same
		{HostIP: web.HostIP, HostPort: 8080, Proto: "tcp", ContainerIP: other, ContainerPort: 1}, // same key, elsewhere
		{HostPort: 8080, Proto: "tcp", ContainerIP: other, ContainerPort: 1},                     // every address includes 127.0.0.1
		{HostIP: netip.MustParseAddr("10.0.0.1"), HostPort: 53, Proto: "udp", ContainerIP: other, ContainerPort: 1},
	} {
		// Along with a free port, which must not be added either.
		err := tb.AddPorts([]Port{webTLS, p})
		if !errors.Is(err, ErrPortPublished) {
			t.Errorf("AddPorts(%s) = %v, want ErrPortPublished", p.host(), err)
		} else if !strings.Contains(err.Error(), p.host()) {
			t.Errorf("AddPorts(%s) = %q, does not name the port", p.host(), err)
		}
	}
	if err := tb.AddPorts([]Port{webTLS, webTLS}); !errors.Is(err, ErrPortPublished) {
		t.Errorf("AddPorts of a port twice = %v, want ErrPortPublished", err)
	}
	mustPorts(t, tb, dnsPort, web)

	if err := tb.AddPorts([]Port{webTLS}); err != nil {
		t.Fatalf("AddPorts: %v", err)
	}
	elsewhere := web
	elsewhere.ContainerIP = other
	if err := tb.RemovePorts([]Port{elsewhere}); err != nil { // not what is published: left alone
		t.Fatalf("RemovePorts: %v", err)
	}
	mustPorts(t, tb, dnsPort, webTLS, web)
	for range 2 {
		if err := tb.RemovePorts([]Port{web, webTLS, web}); err != nil {
			t.Fatalf("RemovePorts: %v", err)
		}
	}
	mustPorts(t, tb, dnsPort)
	if err := tb.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := tb.RemovePorts([]Port{dnsPort}); err != nil {
		t.Fatalf("RemovePorts without table: %v", err)
	}
}

// What the kernel does with an element whose key is in the map already,
// as google/nftables adds it (NLM_F_CREATE without NLM_F_EXCL): the same
// data passes silently, other data fails the batch with EEXIST. Hence
// AddPorts reads the maps first.
func TestKernelTakesADuplicateElementSilently(t *testing.T) {
	tb := testTable(t)
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddPorts([]Port{webTLS}); err != nil {
		t.Fatal(err)
	}
	c := conn(t, tb)
	add := func(p Port) error {
		_, e := element(p, true)
		if err := c.SetAddElements(anyMap(ipTable(tb.Name)), []nftables.SetElement{e}); err != nil {
			return err
		}
		return c.Flush()
	}
	if err := add(webTLS); err != nil {
		t.Errorf("adding the same element again: %v, want no error", err)
	}
	moved := webTLS
	moved.ContainerPort = 444
	if err := add(moved); !errors.Is(err, unix.EEXIST) {
		t.Errorf("adding the same key with other data: %v, want EEXIST", err)
	}
	mustPorts(t, tb, webTLS)
}

func TestForwardDrops(t *testing.T) {
	tb := testTable(t)
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	c := conn(t, tb)
	drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
	forward := func(fam nftables.TableFamily, table, name string, policy nftables.ChainPolicy, hook *nftables.ChainHook) {
		tbl := c.AddTable(&nftables.Table{Family: fam, Name: table})
		c.AddChain(&nftables.Chain{Table: tbl, Name: name, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &policy})
	}
	forward(nftables.TableFamilyIPv4, "filter", "FORWARD", drop, nftables.ChainHookForward) // Docker's
	forward(nftables.TableFamilyINet, "fw", "fwd", drop, nftables.ChainHookForward)
	forward(nftables.TableFamilyINet, tb.Name, "fwd", drop, nftables.ChainHookForward) // same name, not ours
	forward(nftables.TableFamilyINet, "ok", "fwd", accept, nftables.ChainHookForward)
	forward(nftables.TableFamilyINet, "in", "input", drop, nftables.ChainHookInput)
	forward(nftables.TableFamilyIPv6, "six", "fwd", drop, nftables.ChainHookForward)
	forward(nftables.TableFamilyBridge, "br", "fwd", drop, nftables.ChainHookForward)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := tb.forwardDrops()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"table inet fw chain fwd", "table inet hutch-test chain fwd", "table ip filter chain FORWARD"}
	if !slices.Equal(got, want) {
		t.Errorf("forwardDrops() = %q, want %q", got, want)
	}
}

// The package's table, given the networks and ports of testdata/ref.nft,
// reads exactly like that file loaded by nft, in nft's listing and in the
// bytecode nft shows for each chain (so our registers, lengths and element
// layout are nft's).
func TestTableMatchesNft(t *testing.T) {
	tb := testTable(t)
	nftIn(t, tb, "-f", "testdata/ref.nft")
	if err := tb.Ensure(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Network{
		{Bridge: "br0", Subnet: netip.MustParsePrefix("172.18.0.0/16")},
		{Bridge: "br1", Subnet: netip.MustParsePrefix("10.89.0.0/20"), Internal: true},
		{Bridge: "br2", Subnet: netip.MustParsePrefix("10.90.16.0/20")},
	} {
		if err := tb.AddNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.AddPorts([]Port{web, dnsPort, webTLS}); err != nil {
		t.Fatal(err)
	}
	ours := nftIn(t, tb, "list", "table", "ip", tb.Name)
	ref := nftIn(t, tb, "list", "table", "ip", "ref")
	t.Logf("nft list table ip %s:\n%s", tb.Name, ours)
	if got, want := strings.Replace(ours, tb.Name, "ref", 1), ref; got != want {
		t.Errorf("nft lists our table as\n%s\nwant (testdata/ref.nft)\n%s", got, want)
	}
	ours = nftIn(t, tb, "--debug=netlink", "list", "table", "ip", tb.Name)
	ref = nftIn(t, tb, "--debug=netlink", "list", "table", "ip", "ref")
	if got, want := bytecode(ours), bytecode(ref); !slices.Equal(got, want) {
		t.Errorf("bytecode:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The elements' bytes come in hash order: compare them sorted.
	if got, want := elementLines(ours), elementLines(ref); !slices.Equal(got, want) {
		t.Errorf("element bytes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// bytecode picks the rules from nft's bytecode listing (--debug=netlink),
// in order: each rule's chain, then its expressions and user data.
func bytecode(listing string) []string {
	var lines []string
	for l := range strings.Lines(listing) {
		l = strings.TrimSpace(l)
		switch f := strings.Fields(l); {
		case len(f) >= 3 && f[0] == "ip" && !strings.HasPrefix(f[2], "@"):
			lines = append(lines, "chain "+f[2]) // without the handles
		case strings.HasPrefix(l, "[ "), strings.HasPrefix(l, "userdata "):
			lines = append(lines, "  "+l)
		}
	}
	return lines
}

// elementLines picks the elements (and their map) from nft's bytecode
// listing, sorted.
func elementLines(listing string) []string {
	var lines []string
	var set string
	for l := range strings.Lines(listing) {
		l = strings.TrimSpace(l)
		if f := strings.Fields(l); len(f) == 3 && f[0] == "ip" && strings.HasPrefix(f[2], "@") {
			set = f[2]
		}
		if strings.HasPrefix(l, "element ") {
			lines = append(lines, set+": "+l)
		}
	}
	slices.Sort(lines)
	return lines
}

// The resolver's redirect reads back as the nft rule it stands for.
func TestRedirectDNS(t *testing.T) {
	tb := testTable(t)
	if err := RedirectDNS(tb.netns, netip.MustParseAddr("127.0.0.11"), 40001, 40002); err != nil {
		t.Fatal(err)
	}
	got := nftIn(t, Table{Name: "hutch-dns", netns: tb.netns}, "list", "table", "ip", "hutch-dns")
	for _, want := range []string{
		"type nat hook output priority -100; policy accept;", // dstnat: nft names it so for prerouting only
		"ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:40001",
		"ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:40002",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table hutch-dns lacks %q:\n%s", want, got)
		}
	}
}
