//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the network_* tests.
//
// Traffic only ever goes to loopback, to containers, and to "outside" network
// namespaces made here (netOutside), joined to the host by a veth with
// TEST-NET addresses. Nothing resolves names.

// netDetails is `hutch network inspect`'s view of one network.
type netDetails struct {
	Name       string `json:"Name"`
	ID         string `json:"Id"`
	Driver     string `json:"Driver"`
	Subnet     string `json:"Subnet"`
	Gateway    string `json:"Gateway"`
	Internal   bool   `json:"Internal"`
	Bridge     string `json:"Bridge"`
	NftTable   string `json:"NftTable"`
	Containers map[string]struct {
		Name        string   `json:"Name"`
		IPv4Address string   `json:"IPv4Address"`
		MacAddress  string   `json:"MacAddress"`
		Aliases     []string `json:"Aliases"`
	} `json:"Containers"`
}

// netInspect returns `network inspect ref`'s single element.
func (e *env) netInspect(ref string) netDetails {
	e.t.Helper()
	out := e.ok("network", "inspect", ref)
	var ds []netDetails
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
		e.t.Fatalf("network inspect %s: %v: %q", ref, err, out)
	}
	return ds[0]
}

// netCreate makes a user-defined network and returns its details.
func (e *env) netCreate(name string, flags ...string) netDetails {
	e.t.Helper()
	id := e.ok(append(append([]string{"network", "create"}, flags...), name)...)
	if !lcFullID.MatchString(id) {
		e.t.Fatalf("network create %s printed %q, want a 64-hex id", name, id)
	}
	d := e.netInspect(name)
	if d.ID != id {
		e.t.Fatalf("network create printed %s, inspect says %s", id, d.ID)
	}
	return d
}

// netEndpoint is one network of a container, as `inspect` shows it.
type netEndpoint struct {
	NetworkID     string   `json:"NetworkID"`
	IPAddress     string   `json:"IPAddress"`
	IPPrefixLen   int      `json:"IPPrefixLen"`
	Gateway       string   `json:"Gateway"`
	MacAddress    string   `json:"MacAddress"`
	Aliases       []string `json:"Aliases"`
	Interface     string   `json:"Interface"`
	HostInterface string   `json:"HostInterface"`
}

// netSettings is the part of a container's inspect the network tests read.
type netSettings struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Status  string `json:"Status"`
		Running bool   `json:"Running"`
		Pid     int    `json:"Pid"`
	} `json:"State"`
	NetworkSettings struct {
		Ports map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string `json:"HostPort"`
		} `json:"Ports"`
		IPAddress   string                 `json:"IPAddress"`
		IPPrefixLen int                    `json:"IPPrefixLen"`
		Gateway     string                 `json:"Gateway"`
		MacAddress  string                 `json:"MacAddress"`
		Networks    map[string]netEndpoint `json:"Networks"`
	} `json:"NetworkSettings"`
}

// netCtr returns the container's inspect view.
func (e *env) netCtr(ref string) netSettings {
	e.t.Helper()
	out := e.ok("inspect", ref)
	var ds []netSettings
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
		e.t.Fatalf("inspect %s: %v: %q", ref, err, out)
	}
	return ds[0]
}

// netIP is the container's address on its first network (fails if none).
func (e *env) netIP(ref string) string {
	e.t.Helper()
	ip := e.netCtr(ref).NetworkSettings.IPAddress
	if _, err := netip.ParseAddr(ip); err != nil {
		e.t.Fatalf("inspect %s: IPAddress %q", ref, ip)
	}
	return ip
}

// netHostPort returns the only host port bound for ctrKey ("80/tcp").
func (e *env) netHostPort(ref, ctrKey string) int {
	e.t.Helper()
	bs := e.netCtr(ref).NetworkSettings.Ports[ctrKey]
	if len(bs) != 1 {
		e.t.Fatalf("inspect %s: Ports[%s] = %+v, want one binding", ref, ctrKey, bs)
	}
	p, err := strconv.Atoi(bs[0].HostPort)
	if err != nil || p <= 0 || p > 65535 {
		e.t.Fatalf("inspect %s: Ports[%s] host port %q", ref, ctrKey, bs[0].HostPort)
	}
	return p
}

// netWebScript is a shell script that serves, with busybox httpd on each
// port, /index.html saying "portN" and /cgi-bin/ip printing the client's
// address (REMOTE_ADDR). The last server runs in the foreground.
func netWebScript(ports ...int) string {
	var b strings.Builder
	for i, p := range ports {
		dir := fmt.Sprintf("/www%d", p)
		fmt.Fprintf(&b, "mkdir -p %s/cgi-bin && echo port%d > %s/index.html && ", dir, p, dir)
		fmt.Fprintf(&b, "printf '%%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' 'echo' 'echo \"$REMOTE_ADDR\"' > %s/cgi-bin/ip && chmod +x %s/cgi-bin/ip && ", dir, dir)
		if i < len(ports)-1 {
			fmt.Fprintf(&b, "{ httpd -f -p %d -h %s & } && ", p, dir)
		} else {
			fmt.Fprintf(&b, "exec httpd -f -p %d -h %s", p, dir)
		}
	}
	return b.String()
}

// netStartWeb runs a detached container (flags before the image) serving
// netWebScript on ports (80 if none), waits until every port answers on the
// container's address, and returns its id.
func (e *env) netStartWeb(flags []string, ports ...int) string {
	e.t.Helper()
	if len(ports) == 0 {
		ports = []int{80}
	}
	args := append(append([]string{}, flags...), "busybox", "sh", "-c", netWebScript(ports...))
	id := e.lcRunDetached(args...)
	ip := e.netIP(id)
	for _, p := range ports {
		netWaitBody(e.t, fmt.Sprintf("httpd of %s on port %d", id[:12], p), fmt.Sprintf("port%d", p),
			func() (string, error) { return netHostGet(fmt.Sprintf("http://%s:%d/", ip, p)) })
	}
	return id
}

// netHostGet fetches url from the test process (the host), never through a
// proxy, within 5 s, and returns the trimmed body of a 200 answer.
func netHostGet(url string) (string, error) {
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// netRemoteAddr turns a REMOTE_ADDR as busybox httpd prints it on a
// dual-stack socket ("[::ffff:10.1.2.3]") into the IPv4 address; "" if the
// body is not an address.
func netRemoteAddr(body string) string {
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(body, "["), "]"))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// netCtrGet fetches url from inside container ctr with busybox wget.
func (e *env) netCtrGet(ctr, url string) (string, error) {
	r, err := execHutch(hutchBin, e.root, "", nil, "exec", ctr, "timeout", "5", "wget", "-qO-", url)
	if err != nil {
		return "", err
	}
	if r.code != 0 {
		return r.stdout, fmt.Errorf("wget %s in %s: %s", url, ctr, r)
	}
	return strings.TrimSpace(r.stdout), nil
}

// netWaitBody polls get until it answers want (the whole trimmed body),
// for at most 10 s, and fails the test otherwise.
func netWaitBody(t *testing.T, what, want string, get func() (string, error)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := get()
		if err == nil && body == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, %v; want %q within 10 s", what, body, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// netPing reports whether ctr gets an answer to one ping to ip within 1 s.
func (e *env) netPing(ctr, ip string) bool {
	e.t.Helper()
	r := e.run("exec", ctr, "ping", "-c1", "-W1", ip)
	return r.code == 0
}

// netFreePort returns a port that is free on every address for both TCP
// and UDP right now (the kernel's choice, so parallel tests do not clash).
func netFreePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port found")
	return 0
}

// netFreeRange returns the first of n consecutive free ports.
func netFreeRange(t *testing.T, n int) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		first := netFreePort(t)
		if first+n-1 > 65535 {
			continue
		}
		ok := true
		for p := first; p < first+n && ok; p++ {
			l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return first
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

// netBridgePorts lists the interfaces enslaved to bridge, sorted.
func netBridgePorts(bridge string) []string {
	ents, _ := os.ReadDir(filepath.Join("/sys/class/net", bridge, "brif"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// netVeths lists the host-side veths of the container with full id id.
func netVeths(id string) []string {
	m, _ := filepath.Glob("/sys/class/net/vh" + id[:12] + "*")
	return m
}

// netNftElements returns `nft list map ip TABLE MAP`'s elements line
// (empty when the map has none).
func netNftElements(t *testing.T, table string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table ip %s: %v: %s", table, err, out)
	}
	var els []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "elements") {
			els = append(els, strings.TrimSpace(l))
		}
	}
	return strings.Join(els, "\n")
}

// netOutside is an "outside host": a network namespace of the test's own,
// joined to the host by a veth pair. The host end (hito<tag>) has hostIP,
// the namespace end has nsIP, both in one /30 of a TEST-NET.
type netOutside struct {
	t              *testing.T
	ns             string // hutch-it-<tag>
	hostIf         string // hito<tag>
	hostIP, nsIP   string
	prefix         string // the /30
	httpdProcesses []*exec.Cmd
}

// netNewOutside makes the namespace hutch-it-<tag> and the veth hito<tag>
// with hostIP/30 on the host and nsIP/30 inside; t.Cleanup deletes both.
func netNewOutside(t *testing.T, tag, hostIP, nsIP string) *netOutside {
	t.Helper()
	o := &netOutside{t: t, ns: "hutch-it-" + tag, hostIf: "hito" + tag, hostIP: hostIP, nsIP: nsIP}
	if len(o.hostIf) > 15 {
		t.Fatalf("interface name %s is too long", o.hostIf)
	}
	p, err := netip.ParsePrefix(hostIP + "/30")
	if err != nil {
		t.Fatal(err)
	}
	o.prefix = p.Masked().String()
	t.Cleanup(o.close)
	peer := "hitp" + tag
	steps := [][]string{
		{"ip", "netns", "add", o.ns},
		{"ip", "link", "add", o.hostIf, "type", "veth", "peer", "name", peer, "netns", o.ns},
		{"ip", "addr", "add", hostIP + "/30", "dev", o.hostIf},
		{"ip", "link", "set", o.hostIf, "up"},
		{"ip", "-n", o.ns, "addr", "add", nsIP + "/30", "dev", peer},
		{"ip", "-n", o.ns, "link", "set", peer, "up"},
		{"ip", "-n", o.ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return o
}

// close stops the namespace's servers, then deletes the veth and the namespace.
func (o *netOutside) close() {
	for _, c := range o.httpdProcesses {
		c.Process.Kill()
		c.Wait()
	}
	exec.Command("ip", "link", "del", o.hostIf).Run()
	if out, err := exec.Command("ip", "netns", "del", o.ns).CombinedOutput(); err != nil {
		o.t.Errorf("ip netns del %s: %v: %s", o.ns, err, out)
	}
	if linkExists(o.hostIf) {
		o.t.Errorf("leak: test veth %s", o.hostIf)
	}
}

// route adds a route to dst through the host inside the namespace.
func (o *netOutside) route(dst string) {
	o.t.Helper()
	if out, err := exec.Command("ip", "-n", o.ns, "route", "add", dst, "via", o.hostIP).CombinedOutput(); err != nil {
		o.t.Fatalf("route %s in %s: %v: %s", dst, o.ns, err, out)
	}
}

// get fetches url from inside the namespace with curl (no proxy, 5 s).
func (o *netOutside) get(url string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", o.ns, "curl", "-sfS", "--noproxy", "*", "--max-time", "5", url).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("curl %s in %s: %v: %s", url, o.ns, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// ping reports whether the namespace gets an answer to one ping to ip in 1 s.
func (o *netOutside) ping(ip string) bool {
	return exec.Command("ip", "netns", "exec", o.ns, lcBusybox(o.t), "ping", "-c1", "-W1", ip).Run() == nil
}

// startHTTPD serves, from the namespace on nsIP:port, /cgi-bin/ip printing
// the client's address; it waits until it answers the host.
func (o *netOutside) startHTTPD(port int) {
	o.t.Helper()
	dir := o.t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755); err != nil {
		o.t.Fatal(err)
	}
	script := "#!/bin/sh\necho Content-Type: text/plain\necho\necho \"$REMOTE_ADDR\"\n"
	if err := os.WriteFile(filepath.Join(dir, "cgi-bin", "ip"), []byte(script), 0o755); err != nil {
		o.t.Fatal(err)
	}
	addr := fmt.Sprintf("%s:%d", o.nsIP, port)
	cmd := exec.Command("ip", "netns", "exec", o.ns, lcBusybox(o.t), "httpd", "-f", "-p", addr, "-h", dir)
	if err := cmd.Start(); err != nil {
		o.t.Fatalf("start httpd in %s: %v", o.ns, err)
	}
	o.httpdProcesses = append(o.httpdProcesses, cmd)
	// The host reaches the namespace directly over the link.
	netWaitBody(o.t, "httpd in "+o.ns, o.hostIP, func() (string, error) {
		return netHostGet("http://" + addr + "/cgi-bin/ip")
	})
}

// netOneLine checks r is a hutch failure: exit code (125 from run, 1 from
// the others), nothing on stdout, one stderr line starting "hutch: " that
// holds every want.
func netOneLine(t *testing.T, what string, r result, code int, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != code || strings.TrimSpace(r.stdout) != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], "hutch: ") {
		t.Errorf("%s: %s; want exit %d, no stdout, one stderr line starting \"hutch: \"", what, r, code)
		return
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Errorf("%s: stderr %q does not name %q", what, lines[0], w)
		}
	}
}
