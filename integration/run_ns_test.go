//go:build integration

package integration

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The container command is pid 1 in new pid, mount, uts, ipc, net and
// cgroup namespaces: none of them is the host's (this test process's).
func TestRunNamespaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kinds := []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"}
	out := e.runSh("echo $$; for n in " + strings.Join(kinds, " ") + "; do readlink /proc/self/ns/$n; done")
	got := runLines(out)
	if len(got) != 1+len(kinds) {
		t.Fatalf("output %q: want the pid and %d namespace links", out, len(kinds))
	}
	if got[0] != "1" {
		t.Errorf("container command pid = %q, want 1", got[0])
	}
	for i, kind := range kinds {
		host, err := os.Readlink("/proc/self/ns/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		ctr := got[1+i]
		if !strings.HasPrefix(ctr, kind+":[") {
			t.Errorf("%s namespace inside = %q, want a namespace link", kind, ctr)
		}
		if ctr == host {
			t.Errorf("%s namespace inside = %s, the host's: want a new one", kind, ctr)
		}
	}
}

// The host name defaults to the short id (the first 12 hex digits of the
// id) and --hostname sets it; /etc/hostname and $HOSTNAME agree.
func TestRunHostname(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--name", "hn", "busybox", "sh", "-c", `hostname; cat /etc/hostname; echo "$HOSTNAME"`)
	ids := e.ids()
	if len(ids) != 1 || len(ids[0]) != 64 {
		t.Fatalf("containers after one run: %v, want one 64-digit id", ids)
	}
	short := ids[0][:12]
	if want := []string{short, short, short}; !slices.Equal(runLines(out), want) {
		t.Errorf("hostname, /etc/hostname, $HOSTNAME = %q, want %q", runLines(out), want)
	}
	e.ok("rm", "hn")

	out = e.runSh(`hostname; cat /etc/hostname; echo "$HOSTNAME"`, "--hostname", "box.example.org")
	if want := []string{"box.example.org", "box.example.org", "box.example.org"}; !slices.Equal(runLines(out), want) {
		t.Errorf("with --hostname: hostname, /etc/hostname, $HOSTNAME = %q, want %q", runLines(out), want)
	}
	if h, _ := os.Hostname(); h == "box.example.org" {
		t.Errorf("--hostname changed the host's name")
	}
}

// --network none gives a loopback only, up; --network host shares the
// host's network namespace and sees its interfaces.
func TestRunNetworkModes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostNet := hostNetNS
	for _, flags := range [][]string{{"--network", "none"}, {"--net", "none"}} {
		out := e.runSh("ls /sys/class/net; readlink /proc/self/ns/net; ip -o link | wc -l; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-up", flags...)
		got := runLines(out)
		if len(got) != 4 || got[0] != "lo" || got[2] != "1" || got[3] != "lo-up" {
			t.Errorf("run %v: interfaces, netns, link count = %q, want lo only", flags, got)
			continue
		}
		if got[1] == hostNet {
			t.Errorf("run %v: net namespace %s is the host's", flags, got[1])
		}
	}

	// Other tests may add or remove host interfaces meanwhile: every one
	// present before and after must be seen, and nothing the host lacked.
	before := runHostIfaces(t)
	out := e.runSh("readlink /proc/self/ns/net; ls /sys/class/net; ip -o link | wc -l", "--network", "host")
	after := runHostIfaces(t)
	got := runLines(out)
	if len(got) < 3 || got[0] != hostNet {
		t.Fatalf("--network host: output %q, want the host's net namespace %s first", out, hostNet)
	}
	inside := map[string]bool{}
	transient := false // other tests' containers and networks come and go meanwhile
	for _, name := range got[1 : len(got)-1] {
		inside[name] = true
		if transientIface(name) {
			transient = true
			continue
		}
		if !before[name] && !after[name] {
			t.Errorf("--network host: interface %s is not the host's", name)
		}
	}
	for name := range before {
		if after[name] && !inside[name] && !transientIface(name) {
			t.Errorf("--network host: host interface %s missing inside (saw %q)", name, got[1:len(got)-1])
		}
	}
	if n, _ := strconv.Atoi(got[len(got)-1]); n != len(inside) && !transient {
		t.Errorf("--network host: ip -o link lists %s links, /sys/class/net %d", got[len(got)-1], len(inside))
	}
}

// transientIface is a device made by a running test: a container's veth,
// a network's bridge, a test's own veth.
func transientIface(name string) bool {
	for _, p := range []string{"vh", "hutch", "hito", "hb"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// runHostIfaces is the set of the host's interface names.
func runHostIfaces(t *testing.T) map[string]bool {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, i := range ifs {
		out[i.Name] = true
	}
	return out
}
