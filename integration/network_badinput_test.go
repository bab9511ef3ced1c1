//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// netSnapshot describes everything of e a failed command must not change:
// its containers, its networks with their attached containers, leases and
// bridge ports, its published ports, and the host's addresses in
// 10.211.0.0/16 (the subnets TestNetworkBadInput uses, so bridges it might
// leave behind show up whatever their name).
func (e *env) netSnapshot() string {
	e.t.Helper()
	var b strings.Builder
	ids := e.ids()
	sort.Strings(ids)
	fmt.Fprintf(&b, "containers %v\n", ids)
	nets := strings.Fields(e.ok("network", "ls", "-q"))
	sort.Strings(nets)
	table := ""
	for _, ref := range nets {
		d := e.netInspect(ref)
		var ctrs []string
		for id, c := range d.Containers {
			ctrs = append(ctrs, id[:12]+"="+c.IPv4Address)
		}
		sort.Strings(ctrs)
		var leases []string
		ents, _ := os.ReadDir(filepath.Join(e.root, "networks", d.ID, "leases"))
		for _, l := range ents {
			if !strings.HasPrefix(l.Name(), ".") { // .next: where the next search starts
				leases = append(leases, l.Name())
			}
		}
		fmt.Fprintf(&b, "network %s %s: containers %v, leases %v, bridge ports %v\n", d.Name, d.Subnet, ctrs, leases, netBridgePorts(d.Bridge))
		table = d.NftTable
	}
	if table != "" {
		fmt.Fprintf(&b, "published: %s\n", netNftElements(e.t, table))
	}
	out, _ := exec.Command("ip", "-4", "-o", "addr", "show", "to", "10.211.0.0/16").Output()
	var addrs []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 4 {
			addrs = append(addrs, f[1]+" "+f[3])
		}
	}
	sort.Strings(addrs)
	fmt.Fprintf(&b, "host addresses in 10.211.0.0/16: %v\n", addrs)
	return b.String()
}

// TestNetworkBadInput: every bad network request fails with Docker's exit
// code (125 from run, 1 from network commands) and one line naming what was
// wrong, and leaves nothing behind.
func TestNetworkBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.netCreate("badnet", "--subnet", "10.211.1.0/24")
	taken := netFreePort(t)
	c1 := e.lcRunDetached("--name", "c1", "--network", "badnet", "-p", fmt.Sprintf("%d:80", taken), "busybox", "sleep", "100")
	c1IP := e.netIP(c1)
	e.ok("run", "--rm", "busybox", "true") // the default network is made on first use, not by inspect
	bridgeSubnet := netip.MustParsePrefix(e.netInspect("bridge").Subnet)
	bridgeIP := bridgeSubnet.Addr().Next().Next().Next().String() // .3: a free address there

	// A host process listening on 127.0.0.1.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bound := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)

	type tc struct {
		name string
		env  []string
		args []string
		want []string // what the error line must name
	}
	run := func(args ...string) []string {
		return append([]string{"run", "-d"}, append(args, "busybox", "sleep", "100")...)
	}
	cases := []tc{
		{"port published by a container", nil, run("--network", "badnet", "-p", fmt.Sprintf("%d:80", taken)), []string{fmt.Sprint(taken)}},
		{"port published by a container, default network", nil, run("-p", fmt.Sprintf("%d:80", taken)), []string{fmt.Sprint(taken)}},
		{"port published by a container, udp free but tcp taken", nil, run("--network", "badnet", "-p", fmt.Sprintf("%d:81", taken), "-p", fmt.Sprintf("%d:81/udp", taken)), []string{fmt.Sprint(taken)}},
		{"port bound by a host process, same address", nil, run("--network", "badnet", "-p", "127.0.0.1:"+bound+":80"), []string{bound}},
		{"port bound by a host process, all addresses", nil, run("--network", "badnet", "-p", bound+":80"), []string{bound}},
		{"overlapping subnet, inside", nil, []string{"network", "create", "--subnet", "10.211.1.128/25", "ov1"}, []string{"10.211.1.128/25"}},
		{"overlapping subnet, same", nil, []string{"network", "create", "--subnet", "10.211.1.0/24", "ov2"}, []string{"10.211.1.0/24"}},
		{"overlapping subnet, around", nil, []string{"network", "create", "--subnet", "10.211.0.0/16", "ov3"}, []string{"10.211.0.0/16"}},
		{"overlapping the default network", nil, []string{"network", "create", "--subnet", bridgeSubnet.String(), "ov4"}, []string{bridgeSubnet.String()}},
		{"malformed subnet, octet", nil, []string{"network", "create", "--subnet", "10.211.300.0/24", "m1"}, []string{"10.211.300.0/24"}},
		{"malformed subnet, no length", nil, []string{"network", "create", "--subnet", "10.211.5.0", "m2"}, []string{"10.211.5.0"}},
		{"malformed subnet, length", nil, []string{"network", "create", "--subnet", "10.211.5.0/33", "m3"}, []string{"10.211.5.0/33"}},
		{"malformed subnet, word", nil, []string{"network", "create", "--subnet", "banana", "m4"}, []string{"banana"}},
		{"malformed subnet, host bits", nil, []string{"network", "create", "--subnet", "10.211.5.1/24", "m5"}, []string{"10.211.5.1/24"}},
		{"gateway outside the subnet", nil, []string{"network", "create", "--subnet", "10.211.6.0/24", "--gateway", "10.211.7.1", "g1"}, []string{"10.211.7.1"}},
		{"gateway malformed", nil, []string{"network", "create", "--subnet", "10.211.6.0/24", "--gateway", "10.211.6.300", "g2"}, []string{"10.211.6.300"}},
		{"--ip taken", nil, run("--network", "badnet", "--ip", c1IP), []string{c1IP}},
		{"--ip the gateway", nil, run("--network", "badnet", "--ip", "10.211.1.1"), []string{"10.211.1.1"}},
		{"--ip outside the subnet", nil, run("--network", "badnet", "--ip", "10.211.9.5"), []string{"10.211.9.5"}},
		{"--ip malformed", nil, run("--network", "badnet", "--ip", "10.211.1.300"), []string{"10.211.1.300"}},
		{"--ip on the default network", nil, run("--ip", bridgeIP), []string{"--ip"}},
		{"unknown network", nil, run("--network", "nosuchnet"), []string{"nosuchnet"}},
		{"connect to an unknown network", nil, []string{"network", "connect", "nosuchnet", "c1"}, []string{"nosuchnet"}},
		{"rm of an unknown network", nil, []string{"network", "rm", "nosuchnet"}, []string{"nosuchnet"}},
		{"network rm in use", nil, []string{"network", "rm", "badnet"}, []string{"badnet", "c1"}},
		{"-p with --network none", nil, run("--network", "none", "-p", "8080:80"), []string{"none"}},
		{"-p with --network host", nil, run("--network", "host", "-p", "8080:80"), []string{"host"}},
		{"pool exhausted", []string{"HUTCH_SUBNET_POOL=10.211.200.0/24"}, []string{"network", "create", "pool2"}, []string{"pool2"}},
	}
	for _, spec := range []string{"abc", "80:", "70000:80", "8080:80/sctp", "8080:80/", "1-3:80-81", "127.0.0.1:8080:80:90", "300.1.1.1:8080:80", "a-b:80", "9-8:80"} {
		cases = append(cases, tc{"malformed -p " + spec, nil, run("--network", "badnet", "-p", spec), []string{fmt.Sprintf("%q", spec)}})
	}

	// The pool's only subnet is taken first.
	r, err := execHutch(hutchBin, e.root, "", []string{"HUTCH_SUBNET_POOL=10.211.200.0/24"}, "network", "create", "pool1")
	if err != nil || r.code != 0 {
		t.Fatalf("network create pool1 with a pool of one subnet: %v %s", err, r)
	}
	if s := e.netInspect("pool1").Subnet; s != "10.211.200.0/24" {
		t.Errorf("pool1 took %s, want the pool's 10.211.200.0/24", s)
	}

	for _, c := range cases {
		before := e.netSnapshot()
		r, err := execHutch(hutchBin, e.root, "", c.env, c.args...)
		if err != nil {
			t.Errorf("%s: hutch %v: %v", c.name, c.args, err)
			continue
		}
		code := 1
		if c.args[0] == "run" {
			code = 125
		}
		netOneLine(t, c.name, r, code, c.want...)
		if after := e.netSnapshot(); after != before {
			t.Errorf("%s: hutch %q changed state:\nbefore:\n%safter:\n%s", c.name, c.args, before, after)
		}
	}

	// What failed left everything usable: the taken address and ports are
	// still c1's, and the network goes once c1 does.
	if got := e.netIP("c1"); got != c1IP {
		t.Errorf("c1's address changed to %s", got)
	}
	e.ok("rm", "-f", "c1")
	e.ok("network", "rm", "badnet", "pool1")
}

// TestNetworkForwardDropWarning: a table of another program whose forward
// chain drops by default is named in a warning, with what to do. All of it
// happens in private network namespaces, which take the bridge and tables
// with them.
func TestNetworkForwardDropWarning(t *testing.T) {
	t.Parallel()
	create := func(setup string) (stdout, stderr string, err error) {
		root := t.TempDir()
		script := setup + `exec "$1" --root "$2" network create --subnet 10.250.0.0/24 x`
		cmd := exec.Command("unshare", "-n", "sh", "-c", script, "sh", hutchBin, root)
		cmd.Env = append(os.Environ(), "HUTCH_ROOT=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err = cmd.Run()
		return out.String(), errb.String(), err
	}
	// No such table: no warning.
	out, errOut, err := create("")
	if err != nil || !lcFullID.MatchString(strings.TrimSpace(out)) || errOut != "" {
		t.Errorf("network create in a clean namespace: %v, stdout %q, stderr %q; want an id and no warning", err, out, errOut)
	}
	for _, fam := range []string{"ip", "inet"} {
		setup := fmt.Sprintf(`nft add table %s testfw && nft add chain %s testfw fwddrop '{ type filter hook forward priority 0; policy drop; }' && `, fam, fam)
		out, errOut, err := create(setup)
		if err != nil || !lcFullID.MatchString(strings.TrimSpace(out)) {
			t.Errorf("%s: network create beside a forward drop: %v, stdout %q, stderr %q; want exit 0 and an id", fam, err, out, errOut)
			continue
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.Contains(errOut, fam+" testfw") || !strings.Contains(errOut, "warning") ||
			!strings.Contains(errOut, "nft insert rule "+fam+" testfw fwddrop") || !strings.Contains(errOut, "accept") {
			t.Errorf("%s: stderr %q; want one warning naming %q and the nft rule that lets hutch's traffic through", fam, errOut, fam+" testfw")
		}
	}
	if out, _ := exec.Command("ip", "-4", "-o", "addr", "show", "to", "10.250.0.0/24").Output(); len(out) != 0 {
		t.Errorf("a private namespace's bridge shows on the host: %s", out)
	}
}
