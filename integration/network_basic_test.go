//go:build integration

package integration

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var netInetRE = regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+/\d+)`)

// netSections runs a script made of commands separated by "echo ---" in
// ctr and returns each command's trimmed output.
func (e *env) netSections(ctr string, cmds ...string) []string {
	e.t.Helper()
	out := e.ok("exec", ctr, "sh", "-c", strings.Join(cmds, "; echo ---; "))
	parts := strings.Split(out, "---")
	if len(parts) != len(cmds) {
		e.t.Fatalf("exec %s: %d sections, want %d: %q", ctr, len(parts), len(cmds), out)
	}
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// netHostsHas reports whether an /etc/hosts text maps ip to name.
func netHostsHas(hosts, ip, name string) bool {
	for _, l := range strings.Split(hosts, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == ip {
			for _, n := range f[1:] {
				if n == name {
					return true
				}
			}
		}
	}
	return false
}

// TestNetworkDefaultBridge: a container on the default network gets eth0
// with an address of the network's subnet, a default route through its
// gateway, lo up, and its address and name in /etc/hosts.
func TestNetworkDefaultBridge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.lcRunDetached("--name", "def", "busybox", "sleep", "100")
	br := e.netInspect("bridge")
	subnet, err := netip.ParsePrefix(br.Subnet)
	if err != nil || subnet != subnet.Masked() {
		t.Fatalf("network inspect bridge: Subnet %q: %v", br.Subnet, err)
	}
	gw, err := netip.ParseAddr(br.Gateway)
	if err != nil || !subnet.Contains(gw) {
		t.Fatalf("network inspect bridge: Gateway %q not in %s", br.Gateway, subnet)
	}
	if br.Name != "bridge" || br.Driver != "bridge" || br.Internal || !lcFullID.MatchString(br.ID) {
		t.Errorf("network inspect bridge: %+v", br)
	}
	if !linkExists(br.Bridge) {
		t.Errorf("bridge device %q of the default network does not exist", br.Bridge)
	}

	s := e.netSections("def", "ip -4 -o addr show eth0", "ip route", "ip -o link show lo", "ip -4 -o addr show lo", "cat /etc/hosts", "hostname")
	m := netInetRE.FindStringSubmatch(s[0])
	if m == nil {
		t.Fatalf("eth0 has no IPv4 address: %q", s[0])
	}
	addr := netip.MustParsePrefix(m[1])
	if !subnet.Contains(addr.Addr()) || addr.Bits() != subnet.Bits() || addr.Addr() == gw {
		t.Errorf("eth0 has %s, want an address of %s other than the gateway %s", addr, subnet, gw)
	}
	if !strings.Contains(s[1], "default via "+gw.String()+" dev eth0") {
		t.Errorf("routes %q, want default via %s dev eth0", s[1], gw)
	}
	if !regexp.MustCompile(`<[^>]*\bUP\b[^>]*>`).MatchString(s[2]) || !strings.Contains(s[3], "inet 127.0.0.1/8") {
		t.Errorf("lo is not up with 127.0.0.1: %q / %q", s[2], s[3])
	}
	if !netHostsHas(s[4], addr.Addr().String(), s[5]) {
		t.Errorf("/etc/hosts does not map %s to the hostname %q:\n%s", addr.Addr(), s[5], s[4])
	}

	ctr := e.netCtr(id)
	ns := ctr.NetworkSettings
	ep, ok := ns.Networks["bridge"]
	if ns.IPAddress != addr.Addr().String() || ns.IPPrefixLen != subnet.Bits() || ns.Gateway != gw.String() ||
		!ok || ep.NetworkID != br.ID || ep.IPAddress != ns.IPAddress || ep.Interface != "eth0" || len(ns.Networks) != 1 {
		t.Errorf("inspect NetworkSettings %+v, want %s on bridge %s via %s", ns, addr, br.ID, gw)
	}
	if ports := netBridgePorts(br.Bridge); len(ports) != 1 || ports[0] != ep.HostInterface {
		t.Errorf("ports of bridge %s: %v, want the container's veth %q", br.Bridge, ports, ep.HostInterface)
	}
	br = e.netInspect("bridge")
	if c, ok := br.Containers[id]; !ok || c.IPv4Address != addr.String() || c.Name != "def" || len(br.Containers) != 1 {
		t.Errorf("network inspect bridge Containers %+v, want %s at %s", br.Containers, id, addr)
	}

	ls := e.ok("network", "ls")
	if !regexp.MustCompile(`(?m)^` + br.ID[:12] + `\s+bridge\s+bridge\s+local$`).MatchString(ls) {
		t.Errorf("network ls does not list the default network:\n%s", ls)
	}
	// Docker's three: bridge, host, none (by name).
	if q := strings.Fields(e.ok("network", "ls", "-q")); len(q) != 3 || q[0] != br.ID[:12] {
		t.Errorf("network ls -q = %q, want [%s and host's and none's ids]", q, br.ID[:12])
	}
}

// TestNetworkCreateInspectRemove: a user-defined network with its own
// subnet and gateway, --ip pinning, the attached containers in network
// inspect, and rm refused while in use, then removing the bridge.
func TestNetworkCreateInspectRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.netCreate("webnet", "--subnet", "10.201.1.0/24", "--gateway", "10.201.1.254")
	if n.Name != "webnet" || n.Subnet != "10.201.1.0/24" || n.Gateway != "10.201.1.254" || n.Driver != "bridge" ||
		n.Internal || n.Bridge == "" || n.NftTable == "" || len(n.Containers) != 0 {
		t.Errorf("network inspect webnet: %+v", n)
	}
	if out, _ := exec.Command("ip", "-4", "-o", "addr", "show", "dev", n.Bridge).Output(); !strings.Contains(string(out), "inet 10.201.1.254/24") {
		t.Errorf("bridge %s addresses %q, want 10.201.1.254/24", n.Bridge, out)
	}
	ls := e.ok("network", "ls")
	if !regexp.MustCompile(`(?m)^` + n.ID[:12] + `\s+webnet\s+bridge\s+local$`).MatchString(ls) {
		t.Errorf("network ls does not list webnet:\n%s", ls)
	}

	pinned := e.lcRunDetached("--name", "pinned", "--network", "webnet", "--ip", "10.201.1.77", "busybox", "sleep", "100")
	auto := e.lcRunDetached("--name", "auto", "--network", "webnet", "busybox", "sleep", "100")
	s := e.netSections("pinned", "ip -4 -o addr show eth0", "ip route")
	if !strings.Contains(s[0], "inet 10.201.1.77/24") || !strings.Contains(s[1], "default via 10.201.1.254 dev eth0") {
		t.Errorf("pinned container: eth0 %q, routes %q; want 10.201.1.77/24 via 10.201.1.254", s[0], s[1])
	}
	pc := e.netCtr("pinned").NetworkSettings
	if ep := pc.Networks["webnet"]; pc.IPAddress != "10.201.1.77" || pc.IPPrefixLen != 24 || pc.Gateway != "10.201.1.254" ||
		ep.NetworkID != n.ID || ep.IPAddress != "10.201.1.77" || len(pc.Networks) != 1 {
		t.Errorf("inspect pinned NetworkSettings: %+v", pc)
	}
	autoIP := e.netIP("auto")
	if a := netip.MustParseAddr(autoIP); !netip.MustParsePrefix("10.201.1.0/24").Contains(a) || autoIP == "10.201.1.77" || autoIP == "10.201.1.254" {
		t.Errorf("auto container got %s", autoIP)
	}
	n = e.netInspect("webnet")
	want := map[string][2]string{pinned: {"pinned", "10.201.1.77/24"}, auto: {"auto", autoIP + "/24"}}
	for id, w := range want {
		if c, ok := n.Containers[id]; !ok || c.Name != w[0] || c.IPv4Address != w[1] || c.MacAddress == "" {
			t.Errorf("network inspect webnet Containers[%s] = %+v, want %v", id[:12], c, w)
		}
	}
	if len(n.Containers) != 2 {
		t.Errorf("network inspect webnet lists %d containers, want 2", len(n.Containers))
	}
	if got := len(netBridgePorts(n.Bridge)); got != 2 {
		t.Errorf("bridge %s has %d ports, want 2", n.Bridge, got)
	}

	r := e.run("network", "rm", "webnet")
	netOneLine(t, "network rm of a network in use", r, 1, "webnet", "pinned", "auto")
	if !linkExists(n.Bridge) {
		t.Errorf("refused network rm took the bridge %s", n.Bridge)
	}
	e.ok("rm", "-f", "pinned", "auto")
	if out := e.ok("network", "rm", "webnet"); out != "webnet" {
		t.Errorf("network rm webnet printed %q", out)
	}
	if linkExists(n.Bridge) {
		t.Errorf("bridge %s still exists after network rm", n.Bridge)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", n.Bridge)); !os.IsNotExist(err) {
		t.Errorf("/sys/class/net/%s: %v", n.Bridge, err)
	}
	if strings.Contains(e.ok("network", "ls"), "webnet") {
		t.Errorf("network ls still lists webnet")
	}
	// Like Docker, inspect prints the networks it found (none) before failing.
	if r := e.run("network", "inspect", "webnet"); r.code != 1 || strings.TrimSpace(r.stdout) != "[]" ||
		!strings.HasPrefix(r.stderr, "hutch: ") || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "webnet") {
		t.Errorf("network inspect of a removed network: %s; want exit 1, [] and one line naming webnet", r)
	}
}

// TestNetworkContainerMode: --network container:NAME shares the target's
// network namespace: its address, and its servers on 127.0.0.1.
func TestNetworkContainerMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("shared", "--subnet", "10.208.1.0/24")
	tgt := e.netStartWeb([]string{"--name", "tgt", "--network", "shared"})
	ip := e.netIP("tgt")
	out := e.runSh("ip -4 -o addr show; echo ---; timeout 5 wget -qO- http://127.0.0.1:80/", "--network", "container:tgt")
	addrs, body, _ := strings.Cut(out, "---")
	if !strings.Contains(addrs, "inet "+ip+"/24") {
		t.Errorf("container:tgt sees addresses %q, want tgt's %s/24", addrs, ip)
	}
	if strings.TrimSpace(body) != "port80" {
		t.Errorf("container:tgt fetched %q from 127.0.0.1:80, want tgt's httpd (port80)", body)
	}
	// Same namespace, not a copy.
	side := e.lcRunDetached("--network", "container:tgt", "busybox", "sleep", "100")
	nsOf := func(id string) string {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", e.netCtr(id).State.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if a, b := nsOf(tgt), nsOf(side); a != b {
		t.Errorf("container:tgt is in %s, tgt in %s", b, a)
	}
	// An exec (and so a health check) into it is in that namespace too.
	if got, want := strings.TrimSpace(e.ok("exec", side, "readlink", "/proc/self/ns/net")), nsOf(tgt); got != want {
		t.Errorf("exec into container:tgt is in %s, tgt in %s", got, want)
	}
	if veths := netVeths(side); len(veths) != 0 {
		t.Errorf("a container:NAME container has veths of its own: %v", veths)
	}
}

// TestNetworkHostsAndDNS: --add-host lands in /etc/hosts, --dns replaces
// the nameservers, and the default network drops the host's loopback
// nameservers (which cannot answer from another network namespace).
func TestNetworkHostsAndDNS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.runSh("cat /etc/hosts; echo ---; cat /etc/resolv.conf",
		"--add-host", "db.example.test:10.9.8.7", "--add-host", "cache:10.9.8.6", "--dns", "10.11.12.13", "--dns", "10.11.12.14")
	hosts, resolv, _ := strings.Cut(out, "---")
	if !netHostsHas(hosts, "10.9.8.7", "db.example.test") || !netHostsHas(hosts, "10.9.8.6", "cache") {
		t.Errorf("/etc/hosts lacks the --add-host entries:\n%s", hosts)
	}
	var ns []string
	for _, l := range strings.Split(resolv, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" {
			ns = append(ns, f[1])
		}
	}
	if strings.Join(ns, " ") != "10.11.12.13 10.11.12.14" {
		t.Errorf("resolv.conf nameservers %v, want exactly the --dns ones:\n%s", ns, resolv)
	}

	// The host's resolv.conf, in a private mount namespace of hutch's own:
	// a loopback resolver and a reachable one.
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.53\nnameserver 10.11.12.15\nnameserver 127.0.1.1\nsearch example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /etc/resolv.conf && exec "$2" --root "$3" run --rm busybox cat /etc/resolv.conf`,
		"sh", conf, hutchBin, e.root)
	cmd.Env = append(os.Environ(), "HUTCH_ROOT=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run in a private mount namespace: %v: %s", err, b)
	}
	got := string(b)
	if strings.Contains(got, "nameserver 127.") || !strings.Contains(got, "nameserver 10.11.12.15") || !strings.Contains(got, "search example.test") {
		t.Errorf("default network resolv.conf from a host with loopback nameservers:\n%s\nwant the 127.x ones dropped and the rest kept", got)
	}
}
