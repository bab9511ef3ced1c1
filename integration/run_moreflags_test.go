//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rejects runs a run that must fail with 125 and one line naming want, and
// make no container.
func (e *env) rejects(want string, args ...string) {
	e.t.Helper()
	before := len(e.ids())
	e.fails(125, want, append([]string{"run", "--rm"}, args...)...)
	if ids := e.ids(); len(ids) != before {
		e.t.Errorf("run %s: left a container: %v", strings.Join(args, " "), ids)
	}
}

// --ulimit: the limits inside, never above the host's hard limit.
func TestRunUlimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	got := e.ok("run", "--rm", "--ulimit", "nofile=1024:2048", "--ulimit", "core=0", "busybox",
		"sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c")
	if got != "1024\n2048\n0" {
		t.Errorf("ulimit -n, -Hn, -c inside: %q, want 1024, 2048, 0", got)
	}
	var host unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &host); err != nil {
		t.Fatal(err)
	}
	e.rejects("above the host's", "--ulimit", "nofile="+strconv.FormatUint(host.Max+1, 10), "busybox", "true")
	e.rejects("soft limit", "--ulimit", "nofile=2048:1024", "busybox", "true")
	e.rejects("--ulimit", "--ulimit", "nosuch=1", "busybox", "true")
	e.rejects("--ulimit", "--ulimit", "nofile=many", "busybox", "true")
}

// --sysctl: a namespaced sysctl takes its value inside and the host's stays.
func TestRunSysctl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	hostShm, hostPing := read("/proc/sys/kernel/shmmni"), read("/proc/sys/net/ipv4/ping_group_range")
	got := e.ok("run", "--rm", "--sysctl", "kernel.shmmni=1234", "--sysctl", "net.ipv4.ping_group_range=1 0",
		"busybox", "cat", "/proc/sys/kernel/shmmni", "/proc/sys/net/ipv4/ping_group_range")
	if f := strings.Fields(got); len(f) != 3 || f[0] != "1234" || f[1] != "1" || f[2] != "0" {
		t.Errorf("sysctls inside: %q, want 1234 and \"1 0\"", got)
	}
	if s, p := read("/proc/sys/kernel/shmmni"), read("/proc/sys/net/ipv4/ping_group_range"); s != hostShm || p != hostPing {
		t.Errorf("host sysctls changed: kernel.shmmni %s (was %s), ping_group_range %q (was %q)", s, hostShm, p, hostPing)
	}
	e.rejects("vm.swappiness", "--sysctl", "vm.swappiness=10", "busybox", "true")
	e.rejects("kernel.hostname", "--sysctl", "kernel.hostname=x", "busybox", "true")
	e.rejects("--network host", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true")
	e.rejects("KEY=VALUE", "--sysctl", "net.ipv4.ip_forward", "busybox", "true")
}

// --device: the node is made inside, and the cgroup lets the container open
// it. 1:12 is a minor the mem driver does not have: opening it fails with
// EPERM where the cgroup refuses, ENXIO where the driver does.
func TestRunDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	got := e.ok("run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "busybox", "sh", "-c",
		"stat -c '%F %t:%T' /dev/mynull; echo x > /dev/mynull && echo written")
	if got != "character special file 1:3\nwritten" {
		t.Errorf("--device /dev/null:/dev/mynull:rw: %q", got)
	}
	node := filepath.Join(t.TempDir(), "old")
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 12))); err != nil {
		t.Fatal(err)
	}
	r := e.run("run", "--rm", "busybox", "sh", "-c", "mknod /tmp/old c 1 12 && cat /tmp/old")
	if !strings.Contains(r.stderr, "not permitted") {
		t.Errorf("1:12 without --device: %s, want the cgroup's EPERM", r)
	}
	r = e.run("run", "--rm", "--device", node+":/dev/old", "busybox", "cat", "/dev/old")
	if !strings.Contains(r.stderr, "No such device or address") {
		t.Errorf("1:12 with --device: %s, want the driver's ENXIO (the cgroup allowed it)", r)
	}
	e.rejects("/dev/no-such-device", "--device", "/dev/no-such-device", "busybox", "true")
	e.rejects("not a device", "--device", "/etc/hostname", "busybox", "true")
	e.rejects("permissions", "--device", "/dev/null:/dev/x:rwx", "busybox", "true")
	e.rejects("absolute", "--device", "null", "busybox", "true")
}

// --shm-size: df's size of /dev/shm.
func TestRunShmSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	size := func(args ...string) string {
		out := e.ok(append(append([]string{"run", "--rm"}, args...), "busybox", "sh", "-c", "df -k /dev/shm | tail -1")...)
		f := strings.Fields(out)
		if len(f) < 2 {
			t.Fatalf("df: %q", out)
		}
		return f[1]
	}
	if got := size(); got != "65536" {
		t.Errorf("/dev/shm by default: %s KiB, want 65536", got)
	}
	if got := size("--shm-size", "32m"); got != "32768" {
		t.Errorf("/dev/shm with --shm-size 32m: %s KiB, want 32768", got)
	}
	e.rejects("--shm-size", "--shm-size", "lots", "busybox", "true")
	e.rejects("--shm-size", "--shm-size", "0", "busybox", "true")
}

// --dns-search and --dns-option in the container's resolv.conf.
func TestRunDNSSearchOption(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	conf := e.ok("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "a.test", "--dns-search", "b.test",
		"--dns-option", "ndots:3", "--dns-option", "rotate", "busybox", "cat", "/etc/resolv.conf")
	lines := map[string]bool{}
	for _, l := range strings.Split(conf, "\n") {
		lines[l] = true
	}
	for _, want := range []string{"nameserver 192.0.2.53", "search a.test b.test", "options ndots:3 rotate"} {
		if !lines[want] {
			t.Errorf("resolv.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, "search ") != 1 || strings.Count(conf, "options ") != 1 {
		t.Errorf("resolv.conf: one search and one options line expected:\n%s", conf)
	}
	e.rejects("--dns-search", "--dns-search", "a b", "busybox", "true")
	e.rejects("--dns-option", "--dns-option", "", "busybox", "true")
}

// --mac-address: eth0's address, and inspect's.
func TestRunMacAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const mac = "92:d0:c6:0a:29:33"
	e.ok("run", "-d", "--name", "m", "--mac-address", "92:D0:C6:0A:29:33", "busybox", "sleep", "60")
	if got := e.ok("exec", "m", "cat", "/sys/class/net/eth0/address"); got != mac {
		t.Errorf("eth0's address: %q, want %s", got, mac)
	}
	var ds []struct {
		NetworkSettings struct {
			Networks map[string]struct{ MacAddress string }
		}
	}
	if err := json.Unmarshal([]byte(e.ok("inspect", "m")), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if got := ds[0].NetworkSettings.Networks["bridge"].MacAddress; got != mac {
		t.Errorf("inspect's MacAddress: %q, want %s", got, mac)
	}
	e.ok("rm", "-f", "m")
	e.rejects("--mac-address", "--mac-address", "92:d0:c6", "busybox", "true")
	e.rejects("multicast", "--mac-address", "01:00:5e:00:00:01", "busybox", "true")
	e.rejects("bridge network", "--network", "none", "--mac-address", mac, "busybox", "true")
}

// --add-host NAME:host-gateway: the name is the network's gateway; off a
// bridge network, the default bridge's (Docker's host-gateway-ip), once it
// has one.
func TestRunAddHostGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.rejects("no gateway yet", "--network", "none", "--add-host", "gw:host-gateway", "busybox", "true")
	out := e.ok("run", "--rm", "--add-host", "hostgw:host-gateway", "busybox", "sh", "-c",
		"grep -w hostgw /etc/hosts; ip route | grep ^default")
	lines := strings.Split(out, "\n")
	if len(lines) != 2 {
		t.Fatalf("hosts and route: %q", out)
	}
	hosts, route := strings.Fields(lines[0]), strings.Fields(lines[1])
	if len(hosts) != 2 || hosts[1] != "hostgw" || len(route) < 3 || route[2] != hosts[0] {
		t.Errorf("hostgw in /etc/hosts %q, default route %q: want the gateway's address", lines[0], lines[1])
	}
	for _, mode := range []string{"none", "host"} {
		got := e.ok("run", "--rm", "--network", mode, "--add-host", "hostgw:host-gateway", "busybox", "grep", "-w", "hostgw", "/etc/hosts")
		if got != lines[0] {
			t.Errorf("--network %s: %q, want the default bridge's gateway %q", mode, got, lines[0])
		}
	}
	e.rejects("--add-host", "--add-host", "gw:host-gatewayz", "busybox", "true")
}

// --cgroupns: private shows the container's group as /, host the host's path.
func TestRunCgroupns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, mode := range []string{"", "private", "host"} {
		args := []string{"run", "--rm"}
		if mode != "" {
			args = append(args, "--cgroupns", mode)
		}
		out := e.ok(append(args, "busybox", "cat", "/proc/self/cgroup")...)
		for _, l := range strings.Split(out, "\n") {
			p := l[strings.LastIndex(l, ":")+1:]
			if mode == "host" && !strings.HasPrefix(p, "/hutch/") {
				t.Errorf("--cgroupns host: %q, want the host's path /hutch/ID", l)
			}
			if mode != "host" && p != "/" {
				t.Errorf("--cgroupns %q: %q, want /", mode, l)
			}
		}
	}
	e.rejects("--cgroupns", "--cgroupns", "shared", "busybox", "true")
}

// /sys/fs/cgroup inside shows the container's own limits, read-only, as
// JVMs and Go runtimes read them.
func TestRunSysFsCgroupLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"run", "--rm", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "busybox", "sh", "-c"}
	var script, want string
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil { // v1 controllers
		script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max"
		want = "67108864\n50000\n50"
	} else {
		script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max"
		want = "67108864\n50000 100000\n50"
	}
	if got := e.ok(append(args, script)...); got != want {
		t.Errorf("limits under /sys/fs/cgroup: %q, want %q", got, want)
	}
	r := e.run("run", "--rm", "busybox", "mkdir", "/sys/fs/cgroup/x")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only") {
		t.Errorf("mkdir under /sys/fs/cgroup: %s, want a read-only file system", r)
	}
}

// --platform: this host's is accepted, others refused in one line.
func TestRunPlatform(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "--platform", "linux/amd64", "busybox", "true")
	e.rejects("linux/amd64", "--platform", "linux/arm64", "busybox", "true")
	e.rejects("linux/amd64", "--platform", "windows/amd64", "busybox", "true")
}

// --log-opt max-size/max-file: rotation in the foreground (Go writer) and
// detached (C shim) runs keeps max-file files, and logs reads them all, in
// order, ending with the last line; logs -f follows across rotations.
func TestRunLogRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const script = "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line-$i; done"
	check := func(name string, lines []string, wantAll bool) {
		t.Helper()
		if len(lines) == 0 || lines[len(lines)-1] != "line-200" {
			t.Fatalf("%s: logs ends %q, want line-200", name, lines)
		}
		first, err := strconv.Atoi(strings.TrimPrefix(lines[0], "line-"))
		if err != nil || wantAll && first != 1 {
			t.Fatalf("%s: logs starts %q", name, lines[0])
		}
		for i, l := range lines {
			if l != "line-"+strconv.Itoa(first+i) {
				t.Fatalf("%s: line %d is %q, want line-%d (in order, none missing)", name, i, l, first+i)
			}
		}
	}
	files := func(name string) []string {
		id := e.lcInspect(name).ID
		m, _ := filepath.Glob(filepath.Join(e.root, "containers", id, "ctr.log*"))
		return m
	}
	e.ok("run", "--name", "fg", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c", script)
	e.ok("run", "-d", "--name", "bg", "--log-opt", "max-size=1k,max-file=3", "busybox", "sh", "-c", script)
	e.lcWaitExited("bg", 20*time.Second)
	for _, name := range []string{"fg", "bg"} {
		if f := files(name); len(f) != 3 {
			t.Errorf("%s: log files %q, want ctr.log, ctr.log.1, ctr.log.2", name, f)
		}
		for _, f := range files(name) {
			if st, err := os.Stat(f); err != nil || st.Size() > 1024 {
				t.Errorf("%s: %s is larger than max-size 1k", name, f)
			}
		}
		lines := runLines(e.ok("logs", name))
		if len(lines) < 20 || len(lines) > 60 {
			t.Errorf("%s: logs gave %d lines, want the ~40 that 3 files of 1k hold", name, len(lines))
		}
		check(name, lines, false)
		if got := runLines(e.ok("logs", "--tail", "5", name)); strings.Join(got, ",") != "line-196,line-197,line-198,line-199,line-200" {
			t.Errorf("%s: logs --tail 5: %q", name, got)
		}
	}
	// Enough files kept for every line: a follower sees them all.
	e.ok("run", "-d", "--name", "fol", "--log-opt", "max-size=1k", "--log-opt", "max-file=40", "busybox", "sh", "-c", "sleep 0.3; "+script)
	check("logs -f", runLines(e.ok("logs", "-f", "fol")), true)
	if f := files("fol"); len(f) < 10 {
		t.Errorf("fol: %d log files, want one per 1k", len(f))
	}
	// The none driver: no log, and logs says so (Docker's message, exit 1).
	e.ok("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
	e.fails(1, "configured logging driver does not support reading", "logs", "quiet")
	e.rejects("--log-driver", "--log-driver", "syslog", "busybox", "true")
	e.rejects("max-size", "--log-opt", "max-size=big", "busybox", "true")
	e.rejects("max-file", "--log-opt", "max-file=0", "busybox", "true")
	e.rejects("max-size", "--log-opt", "max-file=3", "busybox", "true")
	e.rejects("compress", "--log-opt", "compress=true", "busybox", "true")
	e.rejects("none", "--log-driver", "none", "--log-opt", "max-size=1m", "busybox", "true")
}

// inspect's HostConfig shows the flags with Docker's keys and shapes.
func TestRunFlagsInspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "-d", "--name", "i", "--ulimit", "nofile=1024:2048", "--sysctl", "net.ipv4.ip_forward=1",
		"--device", "/dev/null:/dev/n:rw", "--shm-size", "32m", "--dns-search", "a.test", "--dns-option", "ndots:2",
		"--log-opt", "max-size=10m", "--log-opt", "max-file=3", "--cgroupns", "host", "busybox", "sleep", "60")
	var ds []struct {
		HostConfig struct {
			Ulimits []struct {
				Name       string
				Hard, Soft int64
			}
			Sysctls               map[string]string
			Devices               []struct{ PathOnHost, PathInContainer, CgroupPermissions string }
			ShmSize               int64
			CgroupnsMode          string
			DnsSearch, DnsOptions []string
			LogConfig             struct {
				Type   string
				Config map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(e.ok("inspect", "i")), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	h := ds[0].HostConfig
	if len(h.Ulimits) != 1 || h.Ulimits[0].Name != "nofile" || h.Ulimits[0].Soft != 1024 || h.Ulimits[0].Hard != 2048 {
		t.Errorf("Ulimits %+v", h.Ulimits)
	}
	if h.Sysctls["net.ipv4.ip_forward"] != "1" || len(h.Devices) != 1 || h.Devices[0].PathOnHost != "/dev/null" ||
		h.Devices[0].PathInContainer != "/dev/n" || h.Devices[0].CgroupPermissions != "rw" {
		t.Errorf("Sysctls %v, Devices %+v", h.Sysctls, h.Devices)
	}
	if h.ShmSize != 32<<20 || h.CgroupnsMode != "host" || strings.Join(h.DnsSearch, ",") != "a.test" || strings.Join(h.DnsOptions, ",") != "ndots:2" {
		t.Errorf("ShmSize %d, CgroupnsMode %q, DnsSearch %q, DnsOptions %q", h.ShmSize, h.CgroupnsMode, h.DnsSearch, h.DnsOptions)
	}
	if h.LogConfig.Type != "json-file" || h.LogConfig.Config["max-file"] != "3" || h.LogConfig.Config["max-size"] != "10m" {
		t.Errorf("LogConfig %+v", h.LogConfig)
	}
}
