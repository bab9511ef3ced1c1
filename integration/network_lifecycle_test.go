//go:build integration

package integration

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestNetworkParallelRuns: 30 parallel runs on one network all get an
// address, no two the same; removing them gives every address back.
func TestNetworkParallelRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.netCreate("par", "--subnet", "10.206.1.0/24")
	const count = 30
	results := make([]result, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = execHutch(hutchBin, e.root, "", nil, "run", "-d", "--network", "par", "busybox", "sleep", "100")
		}()
	}
	wg.Wait()
	var ids []string
	for i := range results {
		if errs[i] != nil || results[i].code != 0 {
			t.Errorf("run %d: %v %s", i, errs[i], results[i])
			continue
		}
		ids = append(ids, strings.TrimSpace(results[i].stdout))
	}
	subnet := netip.MustParsePrefix("10.206.1.0/24")
	byIP := map[string]string{}
	for _, id := range ids {
		ip := e.netIP(id)
		if other, dup := byIP[ip]; dup {
			t.Errorf("containers %s and %s both have %s", other[:12], id[:12], ip)
		}
		byIP[ip] = id
		if a := netip.MustParseAddr(ip); !subnet.Contains(a) || ip == n.Gateway {
			t.Errorf("container %s has %s", id[:12], ip)
		}
	}
	if got := len(e.netInspect("par").Containers); got != len(ids) {
		t.Errorf("network inspect par lists %d containers, want %d", got, len(ids))
	}
	if ports := netBridgePorts(n.Bridge); len(ports) != len(ids) {
		t.Errorf("bridge %s has %d ports, want %d", n.Bridge, len(ports), len(ids))
		for _, id := range ids {
			c := e.netCtr(id)
			hostIf := c.NetworkSettings.Networks["par"].HostInterface
			if !slices.Contains(ports, hostIf) {
				master, _ := os.Readlink("/sys/class/net/" + hostIf + "/master")
				t.Errorf("container %s (%s, pid %d, %s) has no port on the bridge: veth %q exists %v, master %q; State %v; logs %s",
					id[:12], c.State.Status, c.State.Pid, c.NetworkSettings.IPAddress, hostIf, linkExists(hostIf), master,
					e.runInspect(id)["State"], e.run("logs", id))
			}
		}
	}
	e.ok(append([]string{"rm", "-f"}, ids...)...)
	if c := e.netInspect("par").Containers; len(c) != 0 {
		t.Errorf("network inspect par after rm -f of all: %d containers", len(c))
	}
	leases, _ := os.ReadDir(filepath.Join(e.root, "networks", n.ID, "leases"))
	var left []string
	for _, l := range leases {
		if !strings.HasPrefix(l.Name(), ".") { // .next: where the next search starts
			left = append(left, l.Name())
		}
	}
	if len(left) != 0 {
		t.Errorf("leases left after rm -f of all: %v", left)
	}
	if ports := netBridgePorts(n.Bridge); len(ports) != 0 {
		t.Errorf("veths left on %s: %v", n.Bridge, ports)
	}
	e.ok("network", "rm", "par")
}

// TestNetworkConnectDisconnect: connecting a running container gives it
// eth1 on the second network at once; disconnecting takes it away.
func TestNetworkConnectDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("conn1", "--subnet", "10.207.1.0/24")
	n2 := e.netCreate("conn2", "--subnet", "10.207.2.0/24")
	e.lcRunDetached("--name", "c1", "--network", "conn1", "busybox", "sleep", "100")
	e.lcRunDetached("--name", "c2", "--network", "conn2", "busybox", "sleep", "100")
	c2IP := e.netIP("c2")
	if e.netPing("c1", c2IP) {
		t.Fatalf("c1 pings c2 on another network before connect")
	}
	e.ok("network", "connect", "conn2", "c1")
	ep, ok := e.netCtr("c1").NetworkSettings.Networks["conn2"]
	if !ok || ep.Interface != "eth1" || ep.NetworkID != n2.ID || !netip.MustParsePrefix("10.207.2.0/24").Contains(netip.MustParseAddr(ep.IPAddress)) {
		t.Fatalf("inspect c1 after connect: Networks[conn2] = %+v", ep)
	}
	if out := e.ok("exec", "c1", "ip", "-4", "-o", "addr", "show", "eth1"); !strings.Contains(out, "inet "+ep.IPAddress+"/24") {
		t.Errorf("c1's eth1: %q, want %s/24", out, ep.IPAddress)
	}
	if !linkExists(ep.HostInterface) {
		t.Errorf("host end %q of c1's eth1 does not exist", ep.HostInterface)
	}
	if !e.netPing("c1", c2IP) {
		t.Errorf("c1 cannot ping c2 (%s) after connect", c2IP)
	}
	if c, ok := e.netInspect("conn2").Containers[e.netCtr("c1").ID]; !ok || c.IPv4Address != ep.IPAddress+"/24" {
		t.Errorf("network inspect conn2 does not list c1 at %s", ep.IPAddress)
	}

	e.ok("network", "disconnect", "conn2", "c1")
	if r := e.run("exec", "c1", "ip", "link", "show", "eth1"); r.code == 0 {
		t.Errorf("c1 still has eth1 after disconnect: %s", r.stdout)
	}
	if linkExists(ep.HostInterface) {
		t.Errorf("host end %q of c1's eth1 left after disconnect", ep.HostInterface)
	}
	if e.netPing("c1", c2IP) {
		t.Errorf("c1 still pings c2 after disconnect")
	}
	if _, ok := e.netCtr("c1").NetworkSettings.Networks["conn2"]; ok {
		t.Errorf("inspect c1 still lists conn2 after disconnect")
	}
	r := e.run("network", "rm", "conn2")
	netOneLine(t, "network rm conn2 with c2 on it", r, 1, "c2")
	if strings.Contains(r.stderr, "c1") {
		t.Errorf("network rm conn2 still counts the disconnected c1: %q", r.stderr)
	}
	e.ok("rm", "-f", "c2")
	e.ok("network", "rm", "conn2")
	if linkExists(n2.Bridge) {
		t.Errorf("bridge %s left after network rm", n2.Bridge)
	}
}

// TestNetworkMonitorKilled: when a container's monitor is killed, the next
// hutch command shows it exited and frees its published port and veth.
func TestNetworkMonitorKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.netCreate("monnet", "--subnet", "10.209.1.0/24")
	p := netFreePort(t)
	id := e.lcRunDetached("--network", "monnet", "-p", fmt.Sprintf("%d:80", p), "busybox", "sleep", "100")
	c := e.netCtr(id)
	hostIf := c.NetworkSettings.Networks["monnet"].HostInterface
	if els := netNftElements(t, n.NftTable); !strings.Contains(els, fmt.Sprintf(": %s . 80", c.NetworkSettings.IPAddress)) || !strings.Contains(els, fmt.Sprint(p)) {
		t.Fatalf("table %s before the kill: elements %q, want %d -> %s . 80", n.NftTable, els, p, c.NetworkSettings.IPAddress)
	}
	if !linkExists(hostIf) {
		t.Fatalf("veth %q missing before the kill", hostIf)
	}
	mons := lcSettledMonitorPids(id)
	if len(mons) != 1 {
		t.Fatalf("monitors of %s: %v", id[:12], mons)
	}
	if err := syscall.Kill(mons[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !lcWaitUntil(3*time.Second, func() bool { return !lcAlive(c.State.Pid) }) {
		t.Fatalf("container process %d alive 3 s after its monitor was killed", c.State.Pid)
	}
	_, rows := e.lcPs("-a")
	if row := lcFind(rows, id[:12]); row == nil || len(row) < 5 || !regexp.MustCompile(`^Exited \(\d+\) `).MatchString(row[4]) {
		t.Errorf("ps -a after the monitor was killed: %q, want Exited", row)
	}
	if els := netNftElements(t, n.NftTable); els != "" {
		t.Errorf("table %s still publishes after the monitor died: %q", n.NftTable, els)
	}
	if linkExists(hostIf) {
		t.Errorf("veth %s left after the monitor died", hostIf)
	}
	if ports := netBridgePorts(n.Bridge); len(ports) != 0 {
		t.Errorf("bridge %s still has ports %v", n.Bridge, ports)
	}
	if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p)); err != nil {
		t.Errorf("host port %d still taken after the monitor died: %v", p, err)
	} else {
		l.Close()
	}
	e.ok("rm", id)
	e.ok("network", "rm", "monnet")
}

// TestNetworkStartFailsUndone: a start that fails after its network was
// wired (here the command is not found) unpublishes its port, lets the host
// port go and removes its veth at once, not at some later sweep.
func TestNetworkStartFailsUndone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.netCreate("failnet", "--subnet", "10.209.2.0/24")
	p := netFreePort(t)
	e.fails(127, "nosuchcmd", "run", "-d", "--name", "nf", "--network", "failnet", "-p", fmt.Sprintf("%d:80", p), "busybox", "nosuchcmd")
	if els := netNftElements(t, n.NftTable); els != "" {
		t.Errorf("table %s still publishes for the failed start: %q", n.NftTable, els)
	}
	if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p)); err != nil {
		t.Errorf("host port %d still taken after the failed start: %v", p, err)
	} else {
		l.Close()
	}
	if ports := netBridgePorts(n.Bridge); len(ports) != 0 {
		t.Errorf("bridge %s still has ports %v after the failed start", n.Bridge, ports)
	}
	e.ok("rm", "nf")
	e.ok("network", "rm", "failnet")
}

// TestNetworkStopStart: a stopped container is unwired; start wires it
// again (peers reach it, its published port answers).
func TestNetworkStopStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.netCreate("ssnet", "--subnet", "10.210.1.0/24")
	p := netFreePort(t)
	e.netStartWeb([]string{"--name", "web", "--network", "ssnet", "-p", fmt.Sprintf("%d:80", p)})
	e.lcRunDetached("--name", "pinger", "--network", "ssnet", "busybox", "sleep", "100")
	url := fmt.Sprintf("http://127.0.0.1:%d/", p)
	ip := e.netIP("web")
	if !e.netPing("pinger", ip) {
		t.Fatalf("pinger cannot ping web (%s)", ip)
	}
	if body, err := netHostGet(url); err != nil || body != "port80" {
		t.Fatalf("host -> %s: %q, %v", url, body, err)
	}
	hostIf := e.netCtr("web").NetworkSettings.Networks["ssnet"].HostInterface

	e.ok("stop", "-t", "1", "web")
	if els := netNftElements(t, n.NftTable); els != "" {
		t.Errorf("table %s still publishes for the stopped web: %q", n.NftTable, els)
	}
	// An exited container's veth goes with its network namespace, which the
	// kernel destroys in the background: soon, not necessarily at once.
	if !lcWaitUntil(5*time.Second, func() bool { return !linkExists(hostIf) }) {
		t.Errorf("veth %s left 5 s after web stopped", hostIf)
	}
	if e.netPing("pinger", ip) {
		t.Errorf("web (%s) still answers pings when stopped", ip)
	}
	if body, err := netHostGet(url); err == nil {
		t.Errorf("stopped web's port %d answered %q", p, body)
	}

	e.ok("start", "web")
	ip2 := e.netIP("web")
	if ip2 != ip {
		t.Logf("web came back with %s (was %s)", ip2, ip)
	}
	netWaitBody(t, "published port after start", "port80", func() (string, error) { return netHostGet(url) })
	if !e.netPing("pinger", ip2) {
		t.Errorf("pinger cannot ping web (%s) after start", ip2)
	}
	if ports := e.ok("port", "web"); ports != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", p) {
		t.Errorf("port web after start = %q", ports)
	}
}
