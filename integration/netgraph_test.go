//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// network graph: subnets 10.236-238.0.0/24 (nobody else's in the suite).
// HUTCH_UPDATE_GOLDEN=1 rewrites the golden drawings under testdata/.

// graphTopology makes the topology of the golden drawings: networks gfront
// and gback (internal); gweb on gfront with the alias www and a port
// published on 127.0.0.1; gdb on gback, then connected to gfront; gside in
// gweb's namespace; gonhost on the host's.
func (e *env) graphTopology() {
	e.t.Helper()
	e.netCreate("gfront", "--subnet", "10.236.0.0/24")
	e.netCreate("gback", "--subnet", "10.237.0.0/24", "--internal")
	gweb := e.lcRunDetached("--pull", "never", "--name", "gweb", "--network", "gfront", "--network-alias", "www",
		"-p", "127.0.0.1::80", "busybox", "sleep", "600")
	gdb := e.lcRunDetached("--pull", "never", "--name", "gdb", "--network", "gback", "busybox", "sleep", "600")
	e.t.Logf("gweb %s, gdb %s", gweb, gdb)
	e.ok("network", "connect", "gfront", "gdb")
	// Two without a namespace of their own.
	e.lcRunDetached("--pull", "never", "--name", "gside", "--network", "container:gweb", "busybox", "sleep", "600")
	e.lcRunDetached("--pull", "never", "--name", "gonhost", "--network", "host", "busybox", "sleep", "600")
}

// graphNormal replaces what changes from run to run (ids, generated device
// and table names, namespace inodes, ports the kernel picked, rule handles)
// by placeholders of the same length, numbered by first appearance, so the
// boxes keep their widths.
func graphNormal(s string) string {
	for _, n := range []struct {
		re     *regexp.Regexp
		prefix string
	}{
		{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "ID"},
		{regexp.MustCompile(`\bvh[0-9a-f]{13}\b`), "vh"},
		{regexp.MustCompile(`\bhutch-[0-9a-f]{9}\b`), "hutch-br"},
		{regexp.MustCompile(`\bhutch-[0-9a-f]{8}\b`), "hutch-tbl"},
		{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "ctr"},
		{regexp.MustCompile(`net:\[\d+`), "net:["},
		{regexp.MustCompile(`(udp|tcp) :\d+`), "$1 :"},
		{regexp.MustCompile(`# handle \d+`), "# handle "},
		{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:"},
	} {
		seen := map[string]string{}
		s = n.re.ReplaceAllStringFunc(s, func(m string) string {
			if r, ok := seen[m]; ok {
				return r
			}
			p := n.re.ReplaceAllString(m, n.prefix) // expands $1
			r := p + strings.Repeat("_", max(0, len(m)-len(p)-len(fmt.Sprint(len(seen)+1)))) + fmt.Sprint(len(seen)+1)
			seen[m] = r
			return r
		})
	}
	return s
}

// graphGolden compares got with integration/testdata/name.
func graphGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if os.Getenv("HUTCH_UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (HUTCH_UPDATE_GOLDEN=1 makes it)", err)
	}
	if got != string(want) {
		t.Errorf("the drawing differs from %s (HUTCH_UPDATE_GOLDEN=1 rewrites it):\n%s", p, got)
	}
}

// graphOnTerminal runs network graph with its stdout on a pseudo-terminal
// and returns what the terminal got.
func (e *env) graphOnTerminal(extraEnv ...string) string {
	e.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		e.t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := e.command("network", "graph")
	cmd.Env = append(cmd.Env, extraEnv...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = tty, &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	tty.Close()
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the last writer is gone
		out <- string(b)
	}()
	if err := cmd.Wait(); err != nil {
		e.t.Fatalf("network graph on a terminal: %v: %s", err, stderr.String())
	}
	return strings.ReplaceAll(<-out, "\r\n", "\n")
}

func TestNetworkGraphGolden(t *testing.T) {
	e := newEnv(t)
	e.graphTopology()

	piped := e.run("network", "graph")
	if piped.code != 0 || piped.stderr != "" {
		t.Fatalf("network graph: %s", piped)
	}
	if ascii := e.ok("network", "graph", "--ascii"); ascii != strings.TrimSpace(piped.stdout) {
		t.Errorf("piped output is not --ascii's:\n%s\n---\n%s", piped.stdout, ascii)
	}
	for _, r := range piped.stdout {
		if r > 127 {
			t.Fatalf("piped output is not ASCII (%q):\n%s", r, piped.stdout)
		}
	}
	graphGolden(t, "netgraph.ascii", graphNormal(piped.stdout))

	// On a terminal: box-drawing characters, no colour under NO_COLOR.
	plain := e.graphOnTerminal("NO_COLOR=1")
	if strings.Contains(plain, "\x1b[") {
		t.Errorf("colour under NO_COLOR:\n%q", plain)
	}
	graphGolden(t, "netgraph.txt", graphNormal(plain))
	coloured := e.graphOnTerminal()
	if !strings.Contains(coloured, "\x1b[1mnetwork gfront\x1b[0m") {
		t.Errorf("no colour on a terminal:\n%q", coloured)
	}

	// Limited to one network: only it, and only the ports that lead into it.
	back := e.ok("network", "graph", "gback")
	if !strings.Contains(back, "network gback") || strings.Contains(back, "network gfront") || strings.Contains(back, "gweb") {
		t.Errorf("network graph gback:\n%s", back)
	}
	e.fails(1, "network nosuchnet not found", "network", "graph", "gback", "nosuchnet")
	e.fails(1, "--format", "network", "graph", "--format", "xml")
}

// The json and dot forms describe the same topology, for tools.
func TestNetworkGraphFormats(t *testing.T) {
	e := newEnv(t)
	e.graphTopology()

	var top struct {
		Table    string
		Networks []struct {
			Name, Bridge, Gateway string
			Internal              bool
			BridgePorts           []string
			Containers            []struct {
				Name, Netns string
				Interface   struct {
					Name, Peer string
					Addrs      []string
				}
			}
			Names []struct {
				IP    string
				Names []string
			}
		}
		Ports []struct {
			HostIP, Map, Container, Network string
			ContainerPort                   int
		}
		Problems []struct{ Mark, What string }
	}
	out := e.ok("network", "graph", "--format", "json")
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(top.Networks) != 2 || top.Networks[0].Name != "gback" || !top.Networks[0].Internal || top.Networks[1].Name != "gfront" {
		t.Fatalf("networks: %+v", top.Networks)
	}
	front := top.Networks[1]
	if front.Gateway != "10.236.0.1/24" || len(front.Containers) != 2 || len(front.BridgePorts) != 2 {
		t.Errorf("gfront: %+v", front)
	}
	// The kernel's names agree with inspect's.
	for _, c := range front.Containers {
		ep := e.netCtr(c.Name).NetworkSettings.Networks["gfront"]
		if c.Interface.Peer != ep.HostInterface || c.Interface.Name != ep.Interface ||
			len(c.Interface.Addrs) != 1 || c.Interface.Addrs[0] != fmt.Sprintf("%s/%d", ep.IPAddress, ep.IPPrefixLen) {
			t.Errorf("%s on gfront: graph %+v, inspect %+v", c.Name, c.Interface, ep)
		}
	}
	if len(top.Ports) != 1 || top.Ports[0].HostIP != "127.0.0.1" || top.Ports[0].Map != "publish_addr" ||
		top.Ports[0].Container != "gweb" || top.Ports[0].ContainerPort != 80 {
		t.Errorf("ports: %+v", top.Ports)
	}
	var webNames []string
	for _, n := range front.Names {
		if n.Names[0] == "gweb" {
			webNames = n.Names
		}
	}
	if len(webNames) < 2 || webNames[1] != "www" {
		t.Errorf("the resolver's names on gfront: %+v", front.Names)
	}
	if len(top.Problems) != 0 {
		t.Errorf("problems: %+v", top.Problems)
	}

	dot := e.ok("network", "graph", "--format", "dot")
	for _, want := range []string{"digraph hutch {", "subgraph cluster_", `"br:` + front.Bridge + `" -> "ctr:` + front.Bridge + `:gweb"`, `-> "ctr:` + front.Bridge + `:gweb" [label="@publish_addr`} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot lacks %q:\n%s", want, dot)
		}
	}
	if path, err := exec.LookPath("dot"); err == nil {
		cmd := exec.Command(path, "-Tplain")
		cmd.Stdin = strings.NewReader(dot)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("dot does not take it: %v: %s", err, b)
		}
		// With Graphviz, svg is dot's.
		if svg := e.ok("network", "graph", "--format", "svg"); !strings.Contains(svg, "Generated by graphviz") {
			t.Errorf("svg is not Graphviz's with dot on PATH:\n%.300s", svg)
		}
	}
	// Without it, hutch's own.
	r, err := execHutch(hutchBin, e.root, "", []string{"PATH=/nonexistent"}, "network", "graph", "--format", "svg")
	if err != nil || r.code != 0 || !strings.HasPrefix(r.stdout, "<?xml") || !strings.Contains(r.stdout, "<svg") ||
		strings.Contains(r.stdout, "graphviz") || !strings.Contains(r.stdout, "bridge "+front.Bridge) {
		t.Errorf("svg without Graphviz: %v %s", err, r)
	}
}

// Broken behind hutch's back, the kernel state no longer matches the
// records: the drawing says where.
func TestNetworkGraphDrift(t *testing.T) {
	e := newEnv(t)
	e.netCreate("gdrift", "--subnet", "10.238.0.0/24")
	gd1 := e.lcRunDetached("--pull", "never", "--name", "gd1", "--network", "gdrift", "busybox", "sleep", "600")
	gd2 := e.lcRunDetached("--pull", "never", "--name", "gd2", "--network", "gdrift", "busybox", "sleep", "600")
	t.Logf("gd1 %s, gd2 %s", gd1, gd2)
	if out := e.ok("network", "graph"); !strings.Contains(out, "The kernel and hutch's records agree.") {
		t.Fatalf("before: %s", out)
	}
	ep := e.netCtr("gd1").NetworkSettings.Networks["gdrift"]
	veth := ep.HostInterface
	var top struct{ Table string }
	json.Unmarshal([]byte(e.ok("network", "graph", "--format", "json")), &top)

	if b, err := exec.Command("ip", "link", "del", veth).CombinedOutput(); err != nil {
		t.Fatalf("ip link del %s: %v: %s", veth, err, b)
	}
	if b, err := exec.Command("nft", "add", "element", "ip", top.Table, "publish_any",
		"{ tcp . 23999 : 10.238.0.99 . 80 }").CombinedOutput(); err != nil {
		t.Fatalf("nft add element: %v: %s", err, b)
	}

	// Rules for a bridge no network record has (one made by hand here).
	if b, err := exec.Command("nft", "add", "rule", "ip", top.Table, "isolate", "oifname", "hutch-gdr1ft", "drop",
		"comment", "hutch-gdr1ft").CombinedOutput(); err != nil {
		t.Fatalf("nft add rule: %v: %s", err, b)
	}

	out := e.ok("network", "graph")
	for _, want := range []string{
		"UNRECORDED: table " + top.Table + " has rules for bridge hutch-gdr1ft, which no network record has",
		"bridge hutch-gdr1ft (no network record) UNRECORDED",
		"MISSING: veth " + veth + " (gd1's eth0 on ",
		"STALE: map publish_any sends 0.0.0.0:23999/tcp to 10.238.0.99:80, which no running container has",
		"0.0.0.0:23999/tcp -> @publish_any -> 10.238.0.99:80  (no container) STALE",
		fmt.Sprintf("eth0 %s/%d MISSING", ep.IPAddress, ep.IPPrefixLen),
		"3 disagreement(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the drawing lacks %q:\n%s", want, out)
		}
	}
	// Limited to the network, it still shows both: the stray element's
	// address is in its subnet.
	if only := e.ok("network", "graph", "gdrift"); !strings.Contains(only, "MISSING: veth") || !strings.Contains(only, "STALE: map publish_any") {
		t.Errorf("network graph gdrift:\n%s", only)
	}
	// In red on a terminal.
	if col := e.graphOnTerminal(); !strings.Contains(col, "\x1b[31mMISSING\x1b[0m") || !strings.Contains(col, "\x1b[31mSTALE\x1b[0m") {
		t.Errorf("the marks are not red on a terminal:\n%q", col)
	}
	var js struct{ Problems []struct{ Mark string } }
	json.Unmarshal([]byte(e.ok("network", "graph", "--format", "json")), &js)
	if len(js.Problems) != 3 || js.Problems[0].Mark != "UNRECORDED" || js.Problems[1].Mark != "MISSING" || js.Problems[2].Mark != "STALE" {
		t.Errorf("json problems: %+v", js.Problems)
	}
}
