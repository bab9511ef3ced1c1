package trace

import (
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
)

// inFreshNetNS runs fn on a locked thread in a network namespace of its
// own, which goes when fn returns; the thread goes home before it is
// unlocked, or dies locked.
func inFreshNetNS(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN)")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		goruntime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			t.Error(err)
			return
		}
		defer home.Close()
		ns, err := netns.New() // unshares the locked thread into it
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		defer func() {
			if netns.Set(home) == nil {
				goruntime.UnlockOSThread()
			}
		}()
		fn()
	}()
	<-done
}

// TestLiveRuleset reads a table made by network/nft in a fresh namespace:
// each rule renders as nft(8) lists it, with the handle it shows, and the
// evaluator runs the kernel's own rules.
func TestLiveRuleset(t *testing.T) {
	inFreshNetNS(t, func() {
		tbl := nft.Table{Name: "hutch-test"}
		err := tbl.Ensure()
		if err == nil {
			err = tbl.AddNetwork(nft.Network{Bridge: "br1", Subnet: netip.MustParsePrefix("10.1.0.0/24")})
		}
		if err == nil {
			err = tbl.AddNetwork(nft.Network{Bridge: "br2", Subnet: netip.MustParsePrefix("10.2.0.0/23"), Internal: true})
		}
		if err == nil {
			err = tbl.AddPorts([]nft.Port{
				{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, Proto: "tcp", ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80},
				{HostPort: 5353, Proto: "udp", ContainerIP: netip.MustParseAddr("10.2.0.2"), ContainerPort: 53},
			})
		}
		if err != nil {
			t.Error(err)
			return
		}
		rs, err := Live{}.Ruleset("hutch-test")
		if err != nil {
			t.Error(err)
			return
		}
		out, err := exec.Command("nft", "-a", "list", "table", "ip", "hutch-test").CombinedOutput()
		if err != nil {
			t.Errorf("nft list: %v: %s", err, out)
			return
		}
		listed := map[string]string{} // handle → rule, as nft prints them
		re := regexp.MustCompile(`^\s*(.*?) # handle (\d+)$`)
		for _, l := range strings.Split(string(out), "\n") {
			if m := re.FindStringSubmatch(l); m != nil && !strings.HasPrefix(m[1], "chain ") && !strings.HasPrefix(m[1], "map ") && !strings.HasPrefix(m[1], "table ") {
				listed[m[2]] = m[1]
			}
		}
		n := 0
		for _, c := range rs.Chains {
			for _, r := range c.Rules {
				n++
				h := strconv.FormatUint(r.Handle, 10)
				if got, want := r.Listed(), listed[h]; got != want {
					t.Errorf("chain %s handle %s: Render = %q, nft lists %q", c.Name, h, got, want)
				}
			}
		}
		if n != len(listed) || n < 15 {
			t.Errorf("read %d rules, nft lists %d", n, len(listed))
		}
		// The evaluator on the kernel's rules: the internal network reaches
		// nothing outside, not even a published port of another network.
		p := Packet{IIf: "br2", OIf: "br1", Src: netip.MustParseAddr("10.2.0.3"), Dst: netip.MustParseAddr("10.1.0.2"),
			Proto: unix.IPPROTO_TCP, DPort: 80, CtStatus: nft.IPSDstNAT, DstType: unix.RTN_UNICAST}
		o, err := RunChain(rs, "forward", p)
		if err != nil {
			t.Error(err)
			return
		}
		if last := o.Steps[len(o.Steps)-1]; o.Verdict != "drop" || last.Chain != "internal" || last.Rule != `iifname "br2" oifname != "br2" drop comment "br2"` {
			t.Errorf("internal network's forward: %s by %+v", o.Verdict, last)
		}
		// The map elements as the kernel holds them.
		p = Packet{IIf: "eth0", Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("192.0.2.7"),
			Proto: unix.IPPROTO_UDP, DPort: 5353, DstType: unix.RTN_LOCAL}
		if o, err = RunChain(rs, "prerouting", p); err != nil || o.DNAT.String() != "10.2.0.2:53" {
			t.Errorf("prerouting of udp 5353: %+v, %v; want dnat to 10.2.0.2:53", o, err)
		}
	})
}
