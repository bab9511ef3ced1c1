//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The tests of `system prune`, `system reset`, listing that makes nothing,
// and the limits of names and resources.

// sysObjects is what of a root's is on the host: the nft table, the
// bridges, the veths and cgroups of ids, mounts under the root, and
// processes naming it.
type sysObjects struct {
	table   string
	bridges []string
	ids     []string
}

func (o sysObjects) left(root string) []string {
	var out []string
	if err := exec.Command("nft", "list", "table", "ip", o.table).Run(); err == nil {
		out = append(out, "nft table "+o.table)
	}
	for _, br := range o.bridges {
		if linkExists(br) {
			out = append(out, "bridge "+br)
		}
	}
	for _, id := range o.ids {
		if v, _ := filepath.Glob("/sys/class/net/vh" + id[:12] + "*"); len(v) > 0 {
			out = append(out, "veth "+filepath.Base(v[0]))
		}
	}
	return append(out, leftovers(root, o.ids)...) // processes, mounts, cgroups
}

// sysRootEntries lists what is in the root, recursively, as paths relative to it.
func sysRootEntries(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		// A store's lock files are not state: every command, listing too,
		// takes the lock before it reads.
		if err == nil && p != root && !strings.HasSuffix(p, ".lock") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestSystemListingMakesNothing: on a fresh root, every listing command
// leaves the host as it was: no bridge, no nft table, no network record, no
// image; only the empty store directories (and their locks). The default network is listed
// all the same, with the id it gets when it is made.
func TestSystemListingMakesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{{"ps"}, {"ps", "-a"}, {"ps", "-aq"}, {"network", "ls"}, {"network", "ls", "-q"},
		{"image", "ls"}, {"network", "inspect", "bridge"}, {"volume", "ls"}, {"volume", "prune", "-f"}} {
		e.ok(args...)
	}
	e.fails(1, "nosuch", "inspect", "nosuch")
	e.fails(1, "nosuch", "network", "inspect", "nosuch")
	e.fails(1, "pre-defined", "network", "rm", "bridge")
	e.fails(1, "no such volume", "volume", "rm", "nosuch")
	e.fails(1, "no such volume", "volume", "inspect", "nosuch")
	e.ok("network", "prune", "-f")
	br := e.netInspect("bridge")
	if br.Name != "bridge" || !lcFullID.MatchString(br.ID) || br.Subnet != "" || br.Bridge == "" || br.NftTable == "" {
		t.Errorf("network inspect bridge before first use: %+v, want its id and bridge, no subnet", br)
	}
	if ls := e.ok("network", "ls"); !regexp.MustCompile(`(?m)^` + br.ID[:12] + `\s+bridge\s+bridge\s+local$`).MatchString(ls) {
		t.Errorf("network ls before first use:\n%s", ls)
	}
	objs := sysObjects{table: br.NftTable, bridges: []string{br.Bridge}}
	if left := objs.left(e.root); len(left) > 0 {
		t.Errorf("listing made: %v", left)
	}
	if got := strings.Join(sysRootEntries(t, e.root), " "); got != "containers networks" {
		t.Errorf("root holds %q after listing, want the two empty stores only", got)
	}

	// Made on first use, with the id it was listed with.
	e.ok("run", "--rm", "busybox", "true")
	made := e.netInspect("bridge")
	if made.ID != br.ID || made.Subnet == "" || !linkExists(made.Bridge) {
		t.Errorf("default network after a run: %+v, want id %s, a subnet and its bridge", made, br.ID)
	}
	e.ok("system", "reset", "-f")
}

// TestSystemPrune: Docker's `system prune` removes the stopped container and
// the unused network, keeps the running container, the network it uses and
// the default network, and says what it removed. Without -f and with no
// answer it asks and removes nothing.
func TestSystemPrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	used := e.netCreate("sysused", "--subnet", "10.212.1.0/24")
	unused := e.netCreate("sysunused", "--subnet", "10.212.2.0/24")
	running := e.lcRunDetached("--name", "running", "--network", "sysused", "busybox", "sleep", "100")
	e.ok("run", "--name", "stopped", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /big")
	stopped := e.lcInspect("stopped").ID

	r := e.run("system", "prune") // stdin is /dev/null: no answer
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n") ||
		!strings.Contains(r.stdout, "Are you sure you want to continue? [y/N] ") || strings.Contains(r.stdout, "Deleted") {
		t.Errorf("system prune without an answer: %s, want the warning, the question, and nothing removed", r)
	}
	if _, rows := e.lcPs("-a"); len(rows) != 2 || !linkExists(unused.Bridge) {
		t.Fatalf("system prune without an answer removed something: %d containers, bridge %s there: %v", len(rows), unused.Bridge, linkExists(unused.Bridge))
	}
	r = e.runStdin("n\n", "system", "prune")
	if r.code != 0 || strings.Contains(r.stdout, "Deleted") {
		t.Errorf("system prune answered n: %s", r)
	}

	out := e.runStdin("y\n", "system", "prune")
	want := "Deleted Containers:\n" + stopped + "\n\nDeleted Networks:\nsysunused\n\nTotal reclaimed space: "
	if out.code != 0 || !strings.Contains(out.stdout, want) {
		t.Fatalf("system prune answered y: %s\nwant it to contain %q", out, want)
	}
	// The container's /big (5000 bytes) and its log are reclaimed.
	m := regexp.MustCompile(`Total reclaimed space: ([0-9.]+)kB\n$`).FindStringSubmatch(out.stdout)
	if m == nil {
		t.Errorf("system prune: reclaimed space not in kB: %q", out.stdout)
	} else if kb, _ := strconv.ParseFloat(m[1], 64); kb < 5 || kb > 100 {
		t.Errorf("system prune reclaimed %s kB, want about 5", m[1])
	}
	_, rows := e.lcPs("-a")
	if len(rows) != 1 || !strings.HasPrefix(running, rows[0][0]) {
		t.Errorf("after prune: containers %v, want only the running one %s", rows, running)
	}
	if linkExists(unused.Bridge) || !linkExists(used.Bridge) {
		t.Errorf("after prune: bridge %s (unused) there: %v, %s (used) there: %v", unused.Bridge, linkExists(unused.Bridge), used.Bridge, linkExists(used.Bridge))
	}
	ls := e.ok("network", "ls")
	if !strings.Contains(ls, "sysused") || strings.Contains(ls, "sysunused") || !strings.Contains(ls, " bridge ") {
		t.Errorf("after prune: network ls\n%s\nwant bridge and sysused only", ls)
	}
	// Nothing left to prune: only the total.
	if out := e.ok("system", "prune", "-f"); out != "Total reclaimed space: 0B" {
		t.Errorf("second prune printed %q", out)
	}
	e.ok("system", "reset", "-f")
}

// TestSystemReset: Podman's `system reset` removes everything of the root:
// containers running on the default and a user-defined network with
// published ports and the embedded DNS, an imported image, the networks
// with their bridges, the nft table, the resolver, and the root directory.
// Without -f and with no answer it asks and removes nothing; a second reset
// of the now empty root works and makes nothing.
func TestSystemReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	lcMinimalRootfs(t, rootfs)
	e.ok("image", "import", "sysimg", rootfs)
	user := e.netCreate("sysreset", "--subnet", "10.212.3.0/24")
	p1, p2 := netFreePort(t), netFreePort(t)
	onDefault := e.lcRunDetached("--name", "ondefault", "-p", fmt.Sprintf("%d:80", p1), "busybox", "sleep", "100")
	onUser := e.lcRunDetached("--name", "onuser", "--network", "sysreset", "-p", fmt.Sprintf("%d:80", p2), "busybox", "sleep", "100")
	peer := e.lcRunDetached("--name", "peer", "--network", "sysreset", "--network-alias", "friend", "busybox", "sleep", "100")
	stopped := e.lcRunDetached("--name", "stopped", "busybox", "true")
	if got := e.nslookup("onuser", "friend"); !got.only(e.netIP(peer)) {
		t.Fatalf("DNS before reset: friend = %v", got)
	}
	if len(e.dnsResolvers()) != 1 {
		t.Fatalf("resolvers before reset: %v, want 1", e.dnsResolvers())
	}
	br := e.netInspect("bridge")
	objs := sysObjects{table: br.NftTable, bridges: []string{br.Bridge, user.Bridge}, ids: []string{onDefault, onUser, peer, stopped}}

	r := e.run("system", "reset") // no answer: nothing happens
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING! This will remove:\n") || !strings.Contains(r.stdout, "- all containers\n") ||
		!strings.Contains(r.stdout, "- the root directory: \""+e.root+"\"\n") || !strings.Contains(r.stdout, "Are you sure you want to continue? [y/N] ") {
		t.Errorf("system reset without an answer: %s, want the warning and the question", r)
	}
	if _, rows := e.lcPs(); len(rows) != 3 {
		t.Fatalf("system reset without an answer: %d containers running, want 3", len(rows))
	}

	r = e.runStdin("y\n", "system", "reset")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("system reset answered y: %s", r)
	}
	if left := objs.left(e.root); len(left) > 0 {
		t.Errorf("after system reset: %v", left)
	}
	if _, err := os.Stat(e.root); !os.IsNotExist(err) {
		t.Errorf("after system reset: root %s still there (%v): %v", e.root, err, sysRootEntries(t, e.root))
	}
	// The published ports are free again: nothing holds them, nothing redirects them.
	for _, p := range []int{p1, p2} {
		l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", p))
		if err != nil {
			t.Errorf("port %d after reset: %v", p, err)
			continue
		}
		l.Close()
	}

	// A second reset, of a root that is gone: fine, and it makes nothing.
	if out := e.ok("system", "reset", "-f"); out != "" {
		t.Errorf("second reset printed %q", out)
	}
	if _, err := os.Stat(e.root); !os.IsNotExist(err) {
		t.Errorf("after a second reset: root %s is there: %v", e.root, sysRootEntries(t, e.root))
	}
	if left := objs.left(e.root); len(left) > 0 {
		t.Errorf("after a second reset: %v", left)
	}
}

// TestSystemNameLengths: names longer than the limit (128, as image names;
// Docker sets none) and an overlong --hostname (64, the kernel's) fail with
// one short line, and leave nothing; references that long are simply not
// found, also in one short line.
func TestSystemNameLengths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("a", 10000)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"at most 128", []string{"run", "--name", long[:129], "busybox", "true"}},
		{"at most 128", []string{"run", "--name", long, "busybox", "true"}},
		{"at most 64", []string{"run", "--hostname", long[:65], "busybox", "true"}},
		{"at most 128", []string{"run", long, "true"}},
		{"not found", []string{"run", "--network", long, "busybox", "true"}},
		{"want NAME:IP", []string{"run", "--add-host", long + ":10.0.0.1", "busybox", "true"}},
		{"at most 128", []string{"network", "create", long[:129]}},
		{"no such container", []string{"rm", long}},
		{"no such object", []string{"inspect", long}},
		{"not found", []string{"network", "rm", long}},
		{"at most 128", []string{"image", "import", long, t.TempDir()}},
	} {
		code := 1 // Docker's for every command but run
		if tc.args[0] == "run" {
			code = 125
		}
		r := e.fails(code, tc.want, tc.args...)
		if len(r.stderr) > 250 {
			t.Errorf("hutch %s...: stderr is %d bytes long: %q", strings.Join(tc.args, " ")[:30], len(r.stderr), r.stderr)
		}
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("failed runs left containers %v", ids)
	}
	// The longest allowed name works, for a container and a network.
	e.ok("run", "--rm", "--name", long[:128], "busybox", "true")
	e.netCreate(strings.Repeat("n", 128), "--subnet", "10.212.4.0/24")
	e.ok("system", "reset", "-f")
}

// TestRunZeroMeansNoLimit: --cpus 0, --memory 0 and --pids-limit 0 set no
// limit, as in Docker.
func TestRunZeroMeansNoLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.ok("run", "-d", "--cpus", "0", "--memory", "0", "--pids-limit", "0", "busybox", "sleep", "30")
	if got := runReadCgroup(t, "cpu", "hutch", id, "cpu.cfs_quota_us"); got != "-1" {
		t.Errorf("--cpus 0: cpu.cfs_quota_us = %q, want -1", got)
	}
	if got := runReadCgroup(t, "pids", "hutch", id, "pids.max"); got != "max" {
		t.Errorf("--pids-limit 0: pids.max = %q, want max", got)
	}
	if got, _ := strconv.ParseInt(runReadCgroup(t, "memory", "hutch", id, "memory.limit_in_bytes"), 10, 64); got < 1<<62 {
		t.Errorf("--memory 0: memory.limit_in_bytes = %d, want no limit", got)
	}
	e.fails(125, "range of CPUs", "run", "--rm", "--cpus", "-1", "busybox", "true")
	e.ok("rm", "-f", id)
	e.ok("system", "reset", "-f")
}

// TestSystemResetLostRecords: containers whose records a crash lost (the
// record alone, or the whole directory) still go: reset finds their
// monitors by what they were started with, and removes their cgroups.
func TestSystemResetLostRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noRecord := e.lcRunDetached("busybox", "sleep", "100")
	noDir := e.lcRunDetached("busybox", "sleep", "100")
	if err := os.Remove(filepath.Join(e.root, "containers", noRecord, "state.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(e.root, "containers", noDir)); err != nil {
		t.Fatal(err)
	}
	if mons := lcSettledMonitorPids(noDir); len(mons) != 1 {
		t.Fatalf("monitor of %s: %v, want it running", noDir, mons)
	}
	e.ok("system", "reset", "-f")
	objs := sysObjects{ids: []string{noRecord, noDir}}
	if left := objs.left(e.root); len(left) > 0 {
		t.Errorf("after system reset: %v", left)
	}
}
