//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashKillLeavesNothing kills hutch commands (the CLI's pid, as a
// user's kill -9 does) at random points 0-50 ms after they start (or up to
// one and a half times what the command takes, if longer: on a loaded
// machine its last steps come later), then runs the cleanup a user would (ps -a, rm -f $(ps -aq), network prune -f) and
// counts what this root still holds: it must be nothing.
func TestCrashKillLeavesNothing(t *testing.T) {
	k := &crashKiller{ids: map[string]bool{}, bridges: map[string]bool{}, window: map[string]time.Duration{}}
	t.Cleanup(func() { // registered first, so it runs after env's cleanup: what a failing hutch left
		k.e.removeLeftBridges(k.bridges)
	})
	e := newEnv(t)
	seed := time.Now().UnixNano()
	k.e, k.rng = e, rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	e.ok("network", "create", "crashnet")
	// The default network is never pruned: with it, the table (and any
	// published port left in it) outlives the user's cleanup, as on a
	// host in use.
	e.ok("run", "--rm", "busybox", "true")
	// How long each command takes whole here: how late a kill may come.
	k.calibrate("run", "run", "--network", "crashnet", "-p", "80", "busybox", "true")
	e.ok("network", "create", "crashnet2")
	k.calibrate("run -d", "run", "-d", "--network", "crashnet", "-p", "80", "busybox", "sleep", "30")
	id0 := k.last
	k.calibrate("network connect", "network", "connect", "crashnet2", id0)
	k.calibrate("network disconnect", "network", "disconnect", "crashnet2", id0)
	k.calibrate("rm", "rm", "-f", id0)
	k.calibrate("network create", "network", "create", "crashcal")
	k.calibrate("network rm", "network", "rm", "crashcal")
	k.observe()

	const rounds = 12
	for i := range rounds {
		// Foreground and detached runs, with a lease and a published port at stake.
		k.kill("run", "run", "--network", "crashnet", "-p", "80", "busybox", "sleep", "30")
		k.kill("run -d", "run", "-d", "--network", "crashnet", "-p", "80", "-p", "127.0.0.1::81/udp", "busybox", "sleep", "30")
		// Every process of this root at once (CLI, monitor, init,
		// resolver): the monitor dies part-way through wiring.
		k.killAll("run -d", "run", "-d", "--network", "crashnet", "-p", "80", "busybox", "sleep", "30")
		// A running container, to connect, disconnect and rm -f.
		id := e.ok("run", "-d", "--network", "crashnet", "-p", "80", "busybox", "sleep", "30")
		k.ids[id] = true
		// network connect and disconnect of a running container.
		k.kill("network connect", "network", "connect", "crashnet2", id)
		k.kill("network disconnect", "network", "disconnect", "crashnet2", id)
		k.kill("rm", "rm", "-f", id)
		// network create, and network rm of a network that exists.
		k.kill("network create", "network", "create", fmt.Sprintf("crashc%d", i))
		e.ok("network", "create", fmt.Sprintf("crashr%d", i))
		k.observe()
		k.kill("network rm", "network", "rm", fmt.Sprintf("crashr%d", i))
	}

	// What a user would run to clean up.
	// A failing command is reported, and the count still runs.
	cleanup := func(args ...string) string {
		r := e.run(args...)
		if r.code != 0 {
			t.Errorf("hutch %s: %s", strings.Join(args, " "), r)
		}
		return r.stdout
	}
	cleanup("ps", "-a")
	if ids := strings.Fields(cleanup("ps", "-aq")); len(ids) > 0 {
		cleanup(append([]string{"rm", "-f"}, ids...)...)
	}
	cleanup("network", "prune", "-f")
	k.observe()

	for _, leak := range k.leftovers() {
		t.Errorf("left after the user's cleanup: %s", leak)
	}
}

// crashKiller runs commands it kills, and remembers every container and
// bridge of its root it has seen, so that it can count what is left.
type crashKiller struct {
	e       *env
	rng     *rand.Rand
	ids     map[string]bool // container ids
	bridges map[string]bool
	killed  int
	window  map[string]time.Duration // by kind of command: kills come within it
	last    string                   // calibrate's output
}

// calibrate runs hutch args whole and sets the kill window of kind: 50 ms,
// or one and a half times what it took if that is longer. Nothing asserts
// on the time.
func (k *crashKiller) calibrate(kind string, args ...string) {
	k.e.t.Helper()
	t0 := time.Now()
	k.last = k.e.ok(args...)
	k.window[kind] = max(50*time.Millisecond, time.Since(t0)*3/2)
	k.observe()
}

// delay is a random point of kind's window.
func (k *crashKiller) delay(kind string) time.Duration {
	w, ok := k.window[kind]
	if !ok {
		k.e.t.Fatalf("no kill window for %s", kind)
	}
	return time.Duration(k.rng.Int63n(int64(w) + 1))
}

// kill starts hutch args and SIGKILLs it at a random point of kind's window
// (unless it is done).
func (k *crashKiller) kill(kind string, args ...string) {
	k.e.t.Helper()
	cmd := k.e.command(args...)
	if err := cmd.Start(); err != nil {
		k.e.t.Fatal(err)
	}
	time.Sleep(k.delay(kind))
	if cmd.Process.Signal(syscall.SIGKILL) == nil {
		k.killed++
	}
	cmd.Wait()
	k.observe()
}

// killAll starts hutch args and, at a random point of kind's window,
// SIGKILLs every process whose command line names this root (all of them
// hutch's, started here).
func (k *crashKiller) killAll(kind string, args ...string) {
	k.e.t.Helper()
	cmd := k.e.command(args...)
	if err := cmd.Start(); err != nil {
		k.e.t.Fatal(err)
	}
	time.Sleep(k.delay(kind))
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), k.e.root) {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				k.killed++
			}
		}
	}
	cmd.Wait()
	k.observe()
}

// observe notes the ids and bridges the root's records and leases name now.
func (k *crashKiller) observe() {
	root := k.e.root
	dirs, _ := filepath.Glob(filepath.Join(root, "containers", "*"))
	intents, _ := filepath.Glob(filepath.Join(root, "containers", ".*", "*"))
	for _, d := range append(dirs, intents...) {
		if name := filepath.Base(d); lcFullID.MatchString(name) {
			k.ids[name] = true
		}
	}
	leases, _ := filepath.Glob(filepath.Join(root, "networks", "*", "leases", "*"))
	for _, l := range leases {
		if b, _ := os.ReadFile(l); lcFullID.Match(b) {
			k.ids[string(b)] = true
		}
	}
	nets, _ := filepath.Glob(filepath.Join(root, "networks", "*"))
	for _, n := range nets {
		if id := strings.TrimPrefix(filepath.Base(n), ".rm-"); lcFullID.MatchString(id) {
			k.bridges["hutch-"+id[:9]] = true
		}
	}
}

// leftovers counts what the root holds: records, the OCI core's state of
// runs, leases, map elements and network rules in its table, bridges,
// veths, cgroups, mounts, processes.
func (k *crashKiller) leftovers() []string {
	root := k.e.root
	var out []string
	ctrs, _ := filepath.Glob(filepath.Join(root, "containers", "[0-9a-f]*"))
	for _, c := range ctrs {
		out = append(out, "container record "+filepath.Base(c))
	}
	runs, _ := filepath.Glob(filepath.Join(root, "oci", "*"))
	for _, r := range runs {
		out = append(out, "OCI state of a run "+filepath.Base(r))
	}
	nets, _ := filepath.Glob(filepath.Join(root, "networks", "[0-9a-f]*", "network.json"))
	for _, n := range nets {
		b, _ := os.ReadFile(n)
		if strings.Contains(string(b), `"name": "bridge"`) {
			continue // the default network stays, by design
		}
		out = append(out, "network record "+strings.Join(strings.Fields(string(b)), " "))
	}
	half, _ := filepath.Glob(filepath.Join(root, "networks", ".rm-*"))
	for _, n := range half {
		out = append(out, "half-removed network "+filepath.Base(n))
	}
	leases, _ := filepath.Glob(filepath.Join(root, "networks", "*", "leases", "[0-9]*"))
	for _, l := range leases {
		b, _ := os.ReadFile(l)
		out = append(out, fmt.Sprintf("lease %s held by %.12s", filepath.Base(l), b))
	}
	if b, err := exec.Command("nft", "list", "table", "ip", k.e.crashTable()).Output(); err == nil {
		text := string(b)
		for _, m := range []string{"publish_addr", "publish_any"} {
			if i := strings.Index(text, "map "+m); i >= 0 {
				body := text[i:]
				body = body[:strings.Index(body, "}")]
				if j := strings.Index(body, "elements = {"); j >= 0 {
					out = append(out, "map elements of "+m+": "+strings.Join(strings.Fields(body[j+len("elements = {"):]), " "))
				}
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, `comment "hutch-`) {
				out = append(out, "network rule: "+strings.TrimSpace(line))
			}
		}
	}
	for br := range k.bridges {
		if linkExists(br) {
			out = append(out, "bridge "+br)
		}
	}
	var ids []string
	for id := range k.ids {
		ids = append(ids, id)
	}
	// A dead container's veth goes with its network namespace, which the
	// kernel destroys in the background.
	veths := func() (vs []string) {
		for _, id := range ids {
			m, _ := filepath.Glob("/sys/class/net/vh" + id[:12] + "*")
			for _, v := range m {
				vs = append(vs, "veth "+filepath.Base(v))
			}
		}
		return vs
	}
	lcWaitUntil(5*time.Second, func() bool { return len(veths()) == 0 })
	out = append(out, veths()...)
	out = append(out, leftovers(root, ids)...)
	k.e.t.Logf("%d processes killed, %d containers and %d bridges seen, kill windows %v", k.killed, len(k.ids), len(k.bridges), k.window)
	return out
}

// TestCrashReconcileSparesLiveCommands reconciles over and over (a dead
// intent, what a killed create leaves, planted before each listing) while
// containers are created, wired and connected in parallel: nothing a live
// command is making may go.
func TestCrashReconcileSparesLiveCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("network", "create", "sparenet")
	e.ok("network", "create", "sparenet2")
	e.ok("run", "--rm", "busybox", "true") // the default network: the table stays whatever happens
	stop := make(chan struct{})
	reconciled := make(chan int)
	go func() {
		n := 0
		defer func() { reconciled <- n }()
		intents := filepath.Join(e.root, "containers", ".intents")
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.MkdirAll(intents, 0o700)
			dead := fmt.Sprintf("%064x", n+1)
			os.WriteFile(filepath.Join(intents, dead), []byte("0 1"), 0o600) // no such process
			execHutch(hutchBin, e.root, "", nil, "ps", "-a")
			if _, err := os.Stat(filepath.Join(intents, dead)); err == nil {
				t.Errorf("ps -a left the dead intent %s: it did not reconcile", dead[:12])
			}
			n++
		}
	}()
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				r, err := execHutch(hutchBin, e.root, "", nil, "run", "-d", "--network", "sparenet", "-p", "80", "busybox", "sleep", "60")
				id := strings.TrimSpace(r.stdout)
				if err != nil || r.code != 0 || !lcFullID.MatchString(id) {
					t.Errorf("run -d: %v %s", err, r)
					continue
				}
				if r, err := execHutch(hutchBin, e.root, "", nil, "network", "connect", "sparenet2", id); err != nil || r.code != 0 {
					t.Errorf("network connect: %v %s", err, r)
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	t.Logf("%d listings reconciled while %d containers started", <-reconciled, len(ids))

	table, _ := exec.Command("nft", "list", "table", "ip", e.crashTable()).Output()
	for _, id := range ids {
		c := e.netCtr(id)
		if !c.State.Running {
			t.Errorf("%.12s: not running", id)
			continue
		}
		ip := c.NetworkSettings.Networks["sparenet"].IPAddress
		port := e.netHostPort(id, "80/tcp")
		if elem := fmt.Sprintf("tcp . %d : %s . 80", port, ip); !strings.Contains(string(table), elem) {
			t.Errorf("%.12s: its published port (%s) is gone", id, elem)
		}
		for _, n := range []string{"sparenet", "sparenet2"} {
			ep := c.NetworkSettings.Networks[n]
			if !linkExists(ep.HostInterface) {
				t.Errorf("%.12s: its veth %s on %s is gone", id, ep.HostInterface, n)
			}
			lease := filepath.Join(e.root, "networks", ep.NetworkID, "leases", ep.IPAddress)
			if b, err := os.ReadFile(lease); err != nil || string(b) != id {
				t.Errorf("%.12s: its lease of %s on %s: %q, %v", id, ep.IPAddress, n, b, err)
			}
		}
	}
}

// removeLeftBridges deletes those of bridges a failing hutch left, with
// the root's table and default bridge, which env's cleanup cannot find
// when the network records are gone.
func (e *env) removeLeftBridges(bridges map[string]bool) {
	if e == nil {
		return
	}
	for br := range bridges {
		if linkExists(br) {
			exec.Command("ip", "link", "del", br).Run()
		}
	}
	table := e.crashTable()
	exec.Command("nft", "delete", "table", "ip", table).Run()
	exec.Command("ip", "link", "del", "hutch0-"+strings.TrimPrefix(table, "hutch-")).Run()
}

// crashTable is the nftables table of e's root.
func (e *env) crashTable() string {
	abs, _ := filepath.Abs(e.root)
	sum := sha256.Sum256([]byte(abs))
	return "hutch-" + hex.EncodeToString(sum[:4])
}

// TestCrashHalfDoneNetworks leaves networks as a killed create or rm does
// (the record still an intent; the record renamed away), and checks that
// the next command finishes them: bridge, rules, directory and all.
func TestCrashHalfDoneNetworks(t *testing.T) {
	var e *env
	bridges := map[string]bool{}
	t.Cleanup(func() { e.removeLeftBridges(bridges) }) // after env's cleanup
	e = newEnv(t)
	made := e.netCreate("halfmade")
	gone := e.netCreate("halfgone")
	bridges[made.Bridge], bridges[gone.Bridge] = true, true
	netDir := func(id string) string { return filepath.Join(e.root, "networks", id) }
	// Killed after the kernel objects, before the record: only the intent.
	if err := os.Rename(filepath.Join(netDir(made.ID), "network.json"), filepath.Join(netDir(made.ID), "intent.json")); err != nil {
		t.Fatal(err)
	}
	// Killed after the record went, before the teardown.
	if err := os.Rename(netDir(gone.ID), filepath.Join(e.root, "networks", ".rm-"+gone.ID)); err != nil {
		t.Fatal(err)
	}
	// Any command that reads the networks finishes what it finds half done.
	if r := e.run("network", "inspect", "halfgone"); !strings.Contains(r.stderr, "network halfgone not found") {
		t.Errorf("network inspect halfgone: %s", r)
	}
	for _, d := range []netDetails{made, gone} {
		if linkExists(d.Bridge) {
			t.Errorf("bridge %s of %s is left", d.Bridge, d.Name)
		}
		if b, _ := exec.Command("nft", "list", "table", "ip", e.crashTable()).Output(); strings.Contains(string(b), d.Bridge) {
			t.Errorf("rules of %s are left:\n%s", d.Name, b)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(e.root, "networks", "*"+made.ID[:12]+"*")); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(e.root, "networks", "*"+gone.ID[:12]+"*")); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	// Their subnets are free again.
	e.ok("network", "create", "--subnet", made.Subnet, "again")
	e.ok("network", "rm", "again")
}

// TestCrashStalePortsAndLeases plants what a killed hutch leaves: a port
// published to an address nobody holds, and the lease of a create that died
// (its intent names no live process). The next run takes the port, and the
// lease goes.
func TestCrashStalePortsAndLeases(t *testing.T) {
	e := newEnv(t)
	d := e.netCreate("stalenet")
	prefix := netip.MustParsePrefix(d.Subnet)
	ghost := prefix.Addr().Next().Next().Next() // a third address, never leased here
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	elem := fmt.Sprintf("{ tcp . %d : %s . 80 }", port, ghost)
	if out, err := exec.Command("nft", "add", "element", "ip", e.crashTable(), "publish_any", elem).CombinedOutput(); err != nil {
		t.Fatalf("plant %s: %v: %s", elem, err, out)
	}
	deadID := fmt.Sprintf("%064x", 0xdead)
	lease := filepath.Join(e.root, "networks", d.ID, "leases", prefix.Addr().Next().Next().Next().Next().String())
	intent := filepath.Join(e.root, "containers", ".intents", deadID)
	os.MkdirAll(filepath.Dir(intent), 0o700)
	if os.WriteFile(lease, []byte(deadID), 0o644) != nil || os.WriteFile(intent, []byte("0 1"), 0o600) != nil {
		t.Fatal("plant the lease and intent")
	}

	id := e.ok("run", "-d", "--network", "stalenet", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "60")
	if p := e.netHostPort(id, "80/tcp"); p != port {
		t.Errorf("published on %d, want %d", p, port)
	}
	table, _ := exec.Command("nft", "list", "table", "ip", e.crashTable()).Output()
	if strings.Contains(string(table), ghost.String()) {
		t.Errorf("the stale port to %s is left:\n%s", ghost, table)
	}
	if _, err := os.Stat(lease); err == nil {
		t.Errorf("the dead create's lease %s is left", filepath.Base(lease))
	}
	if _, err := os.Stat(intent); err == nil {
		t.Error("the dead intent is left")
	}
}
