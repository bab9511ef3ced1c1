//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNetworkTrace: `network trace` on a topology made here (two networks,
// a web server published on 127.0.0.1 and on every address, a client on
// each network, an outside host), each verdict checked against real
// traffic along the same path: what the trace delivers connects, what it
// drops does not. The rule handles it names are those nft(8) lists.
func TestNetworkTrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := netNewOutside(t, "trc", "198.51.100.13", "198.51.100.14")
	na := e.netCreate("trca", "--subnet", "10.247.1.0/24")
	nb := e.netCreate("trcb", "--subnet", "10.247.2.0/24")
	pLocal, pAny := netFreePort(t), netFreePort(t)
	// Names resolve only by the embedded resolver: a stray upstream query
	// would go to 127.0.0.1:53, where nothing listens.
	common := []string{"--pull", "never", "--dns", "127.0.0.1"}
	e.netStartWeb(append([]string{"--name", "web", "--network", "trca",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", pLocal), "-p", fmt.Sprintf("%d:80", pAny)}, common...))
	e.lcRunDetached(append(append([]string{"--name", "a", "--network", "trca"}, common...), "busybox", "sleep", "300")...)
	e.netStartWeb(append([]string{"--name", "b", "--network", "trcb"}, common...))
	webIP, bIP := e.netIP("web"), e.netIP("b")
	table := na.NftTable
	norm := trcNormaliser(map[string]string{
		webIP: "WEB_IP", bIP: "B_IP", e.netIP("a"): "A_IP", na.Bridge: "BRIDGE_A", nb.Bridge: "BRIDGE_B",
		table: "TABLE", fmt.Sprint(pLocal): "PORT_LOCAL", fmt.Sprint(pAny): "PORT_ANY",
	})

	t.Run("host to 127.0.0.1 published", func(t *testing.T) {
		tr := trcRun(t, e, fmt.Sprintf("127.0.0.1:%d", pLocal))
		trcVerdict(t, tr, "delivered", "DELIVERED to web at "+webIP+":80/tcp")
		trcHas(t, tr, fmt.Sprintf("@publish_addr element 127.0.0.1 . tcp . %d : %s . 80", pLocal, webIP),
			"ct status dnat ip saddr 127.0.0.0/8 masquerade", "bridge "+na.Bridge+" (network trca): ")
		trcHandle(t, tr, table, "publish", "dnat ip to ip daddr . meta l4proto . th dport map @publish_addr")
		if body, err := netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", pLocal)); err != nil || body != "port80" {
			t.Errorf("the trace delivers, but host -> 127.0.0.1:%d: %q, %v", pLocal, body, err)
		}
		trcGolden(t, "trace_host_published.txt", norm(trcText(t, e, fmt.Sprintf("127.0.0.1:%d", pLocal))))
	})

	t.Run("container to web by name", func(t *testing.T) {
		tr := trcRun(t, e, "web:80", "--from", "a")
		trcVerdict(t, tr, "delivered", "DELIVERED to web at "+webIP+":80/tcp")
		if h := tr.Hops[0]; h.Kind != "dns" || !strings.Contains(h.Text, "web A "+webIP) || !strings.Contains(h.Text, "hutch-dns output rule handle") {
			t.Errorf("first hop %q, want the embedded resolver's answer web A %s, by the hutch-dns rule", h.Text, webIP)
		}
		trcHas(t, tr, "route (a's netns): "+webIP+" dev eth0 src "+e.netIP("a"))
		if body, err := e.netCtrGet("a", "http://web:80/"); err != nil || body != "port80" {
			t.Errorf("the trace delivers, but a -> web:80: %q, %v", body, err)
		}
		trcGolden(t, "trace_by_name.txt", norm(trcText(t, e, "web:80", "--from", "a")))
	})

	t.Run("container to a published port of its own network", func(t *testing.T) {
		gw := strings.TrimSuffix(na.Gateway, "/24")
		tr := trcRun(t, e, fmt.Sprintf("%s:%d", gw, pAny), "--from", "a")
		trcVerdict(t, tr, "delivered", "DELIVERED to web at "+webIP+":80/tcp")
		trcHas(t, tr, fmt.Sprintf("@publish_any element tcp . %d : %s . 80", pAny, webIP), "ct status dnat accept  → ACCEPTED",
			fmt.Sprintf(`ip saddr 10.247.1.0/24 oifname "%s" ct status dnat masquerade comment "%s"  → masquerade: source becomes %s`, na.Bridge, na.Bridge, gw))
		if body, err := e.netCtrGet("a", fmt.Sprintf("http://%s:%d/", gw, pAny)); err != nil || body != "port80" {
			t.Errorf("the trace delivers, but a -> %s:%d: %q, %v", gw, pAny, body, err)
		}
	})

	t.Run("container to another network dropped", func(t *testing.T) {
		tr := trcRun(t, e, bIP+":80", "--from", "a")
		trcVerdict(t, tr, "dropped", "DROPPED by table ip "+table+" chain isolate rule handle")
		last := tr.Hops[len(tr.Hops)-1]
		want := trcHandle(t, tr, table, "isolate", fmt.Sprintf(`oifname "%s" drop`, nb.Bridge))
		if last.Chain != "isolate" || last.Handle != want || last.Action != "drop" {
			t.Errorf("last hop %+v, want the drop of chain isolate with handle %d", last, want)
		}
		if r := e.run("exec", "a", "timeout", "3", "wget", "-qO-", "http://"+bIP+":80/"); r.code == 0 {
			t.Errorf("the trace drops, but a -> %s:80 answered: %s", bIP, r)
		}
		// The other way too.
		tr = trcRun(t, e, webIP+":80", "--from", "b")
		trcVerdict(t, tr, "dropped", "chain isolate rule handle")
		if r := e.run("exec", "b", "timeout", "3", "wget", "-qO-", "http://"+webIP+":80/"); r.code == 0 {
			t.Errorf("the trace drops, but b -> %s:80 answered: %s", webIP, r)
		}
		trcGolden(t, "trace_dropped.txt", norm(trcText(t, e, bIP+":80", "--from", "a")))
	})

	t.Run("outside to published port", func(t *testing.T) {
		tr := trcRun(t, e, fmt.Sprintf("%s:%d", o.hostIP, pAny), "--from", "outside")
		trcVerdict(t, tr, "delivered", "DELIVERED to web at "+webIP+":80/tcp")
		trcHas(t, tr, "arrives on "+o.hostIf+" (the interface that has "+o.hostIP+") from "+o.nsIP,
			fmt.Sprintf("@publish_any element tcp . %d : %s . 80", pAny, webIP), "ct status dnat accept")
		trcHandle(t, tr, table, "forward", "ct status dnat accept")
		if body, err := o.get(fmt.Sprintf("http://%s:%d/", o.hostIP, pAny)); err != nil || body != "port80" {
			t.Errorf("the trace delivers, but outside -> %s:%d: %q, %v", o.hostIP, pAny, body, err)
		}
		// Published on 127.0.0.1 only: not to the container from outside.
		tr = trcRun(t, e, fmt.Sprintf("%s:%d", o.hostIP, pLocal), "--from", "outside")
		trcVerdict(t, tr, "host", "DELIVERED to the host itself")
		trcHas(t, tr, fmt.Sprintf("@publish_addr has no element %s . tcp . %d", o.hostIP, pLocal))
		if body, err := o.get(fmt.Sprintf("http://%s:%d/", o.hostIP, pLocal)); err == nil {
			t.Errorf("the trace does not reach the container, but outside -> %s:%d answered %q", o.hostIP, pLocal, body)
		}
		// A container's address, directly: isolation drops it.
		o.route("10.247.0.0/16")
		tr = trcRun(t, e, webIP+":80", "--from", "outside", "--source", o.nsIP)
		trcVerdict(t, tr, "dropped", "chain isolate rule handle")
		if body, err := o.get("http://" + webIP + ":80/"); err == nil {
			t.Errorf("the trace drops, but outside -> %s:80 answered %q", webIP, body)
		}
	})

	t.Run("json", func(t *testing.T) {
		out := e.ok("network", "trace", "--format", "json", "--from", "a", bIP+":80")
		var tr trcResult
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatalf("--format json: %v: %s", err, out)
		}
		if tr.From != "a" || tr.Target != bIP+":80/tcp" || tr.Verdict.Kind != "dropped" || tr.Hops[len(tr.Hops)-1].Chain != "isolate" {
			t.Errorf("--format json: %s", out)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--from", "nosuch", "web:80"}, "nosuch"},
			{[]string{"web:99999"}, `port "99999"`},
			{[]string{"web:80/icmp"}, `protocol "icmp"`},
			{[]string{"nosuch:80"}, "name nosuch"},
			{[]string{"--from", "a", "nosuch:80"}, "name nosuch"},
			{[]string{"--format", "dot", "web:80"}, "--format"},
			{[]string{"--source", "198.51.100.14", "web:80"}, "--from outside"},
			{[]string{}, "needs a target"},
		} {
			r := e.run(append([]string{"network", "trace"}, c.args...)...)
			netOneLine(t, strings.Join(c.args, " "), r, 1, c.want)
		}
	})

	// Last, as it breaks the topology: the kernel changed behind hutch's
	// back. The trace follows the kernel, and the traffic agrees.
	t.Run("broken behind hutch's back", func(t *testing.T) {
		// A stray map element: DNAT to an address no container has.
		pStray := netFreePort(t)
		el := fmt.Sprintf("{ tcp . %d : 10.247.1.99 . 80 }", pStray)
		if out, err := exec.Command("nft", "add", "element", "ip", table, "publish_any", el).CombinedOutput(); err != nil {
			t.Fatalf("nft add element: %v: %s", err, out)
		}
		tr := trcRunAny(t, e, fmt.Sprintf("127.0.0.1:%d", pStray))
		trcVerdict(t, tr, "unreachable", "no running container has 10.247.1.99")
		if last := tr.Hops[len(tr.Hops)-1]; !strings.Contains(last.Problem, "map element") {
			t.Errorf("last hop %+v, want the stray element reported", last)
		}
		if body, err := netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", pStray)); err == nil {
			t.Errorf("the trace finds no one, but host -> 127.0.0.1:%d answered %q", pStray, body)
		}
		exec.Command("nft", "delete", "element", "ip", table, "publish_any", fmt.Sprintf("{ tcp . %d }", pStray)).Run()

		// a's veth deleted: its eth0 goes with it, and so does its route.
		veth := e.netCtr("a").NetworkSettings.Networks["trca"].HostInterface
		if out, err := exec.Command("ip", "link", "del", veth).CombinedOutput(); err != nil {
			t.Fatalf("ip link del %s: %v: %s", veth, err, out)
		}
		tr = trcRunAny(t, e, webIP+":80", "--from", "a")
		trcVerdict(t, tr, "no-route", "NO ROUTE to "+webIP)
		if r := e.run("exec", "a", "timeout", "3", "wget", "-qO-", "http://"+webIP+":80/"); r.code == 0 {
			t.Errorf("the trace finds no route, but a -> %s:80 answered: %s", webIP, r)
		}
	})
}

// trcResult is `network trace --format json`.
type trcResult struct {
	From, Target string
	Hops         []struct {
		Kind, Text, Chain, Rule, Action, Problem string
		Handle                                   uint64
	}
	Verdict struct{ Kind, Text string }
}

// trcRun runs `network trace --format json` with args (the target first)
// and fails the test on any problem the trace reports.
func trcRun(t *testing.T, e *env, args ...string) trcResult {
	t.Helper()
	tr := trcRunAny(t, e, args...)
	for _, h := range tr.Hops {
		if h.Problem != "" {
			t.Errorf("network trace %s reports a problem at %q: %s", strings.Join(args, " "), h.Text, h.Problem)
		}
	}
	return tr
}

// trcRunAny is trcRun that lets problems be.
func trcRunAny(t *testing.T, e *env, args ...string) trcResult {
	t.Helper()
	target := args[0]
	out := e.ok(append(append([]string{"network", "trace", "--format", "json"}, args[1:]...), target)...)
	var tr trcResult
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatalf("network trace %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return tr
}

func trcText(t *testing.T, e *env, args ...string) string {
	t.Helper()
	return e.ok(append(append([]string{"network", "trace"}, args[1:]...), args[0])...)
}

func trcVerdict(t *testing.T, tr trcResult, kind, text string) {
	t.Helper()
	if tr.Verdict.Kind != kind || !strings.Contains(tr.Verdict.Text, text) {
		t.Errorf("trace from %s to %s: verdict %s %q, want %s %q", tr.From, tr.Target, tr.Verdict.Kind, tr.Verdict.Text, kind, text)
	}
}

func trcHas(t *testing.T, tr trcResult, wants ...string) {
	t.Helper()
	var all []string
	for _, h := range tr.Hops {
		all = append(all, h.Text)
	}
	text := strings.Join(all, "\n")
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("trace from %s to %s lacks %q:\n%s", tr.From, tr.Target, w, text)
		}
	}
}

// trcHandle checks that the trace names the rule of chain that nft(8)
// lists with text, by the handle nft shows, and returns that handle.
func trcHandle(t *testing.T, tr trcResult, table, chain, text string) uint64 {
	t.Helper()
	out, err := exec.Command("nft", "-a", "list", "chain", "ip", table, chain).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list chain %s: %v: %s", chain, err, out)
	}
	re := regexp.MustCompile(`^\s*(.*?) # handle (\d+)$`)
	var handle uint64
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil && strings.HasPrefix(m[1], text) {
			fmt.Sscan(m[2], &handle)
		}
	}
	if handle == 0 {
		t.Fatalf("nft lists no rule %q in chain %s:\n%s", text, chain, out)
	}
	for _, h := range tr.Hops {
		if h.Chain == chain && h.Handle == handle && strings.HasPrefix(h.Rule, text) {
			return handle
		}
	}
	t.Errorf("trace from %s to %s does not name chain %s rule handle %d (%s)", tr.From, tr.Target, chain, handle, text)
	return handle
}

// trcNormaliser replaces what changes from run to run (addresses, names,
// ports, handles, the resolver's port) with fixed words.
func trcNormaliser(words map[string]string) func(string) string {
	var pairs []string
	for from, to := range words {
		pairs = append(pairs, from, to)
	}
	r := strings.NewReplacer(pairs...)
	vh := regexp.MustCompile(`vh[0-9a-f]{13}`)
	handle := regexp.MustCompile(`handle \d+`)
	mac := regexp.MustCompile(`02:42(:[0-9a-f]{2}){4}`)
	dnsPort := regexp.MustCompile(`127\.0\.0\.11:\d{3,5}\)`)
	return func(s string) string {
		s = r.Replace(s)
		s = vh.ReplaceAllString(s, "VETH")
		s = handle.ReplaceAllString(s, "handle N")
		s = mac.ReplaceAllString(s, "MAC")
		return dnsPort.ReplaceAllString(s, "127.0.0.11:PORT)")
	}
}

// trcGolden compares got with integration/testdata/name; with
// HUTCH_UPDATE_GOLDEN=1 it writes it instead.
func trcGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("HUTCH_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (HUTCH_UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
