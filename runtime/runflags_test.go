package runtime

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseUlimits(t *testing.T) {
	host := func(int) uint64 { return 20000 }
	got, err := parseUlimits([]string{"nofile=1024:2048", "core=0", "nproc=-1:-1"}, func(res int) uint64 {
		if res == unix.RLIMIT_NPROC {
			return unix.RLIM_INFINITY
		}
		return 20000
	})
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
		{Type: "RLIMIT_NPROC", Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseUlimits = %v, %v, want %v", got, err, want)
	}
	for _, bad := range []string{"nofile", "nofile=", "nofile=a", "nofile=2048:1024", "nofile=30000",
		"nofile=1:30000", "bogus=1", "=1", "nofile=1:2:3", "NOFILE=1"} {
		if _, err := parseUlimits([]string{bad}, host); err == nil || !IsInvalid(err) {
			t.Errorf("parseUlimits(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
	if _, err := parseUlimits([]string{"nofile=1", "nofile=2"}, host); err == nil {
		t.Errorf("a ulimit given twice: no error")
	}
}

func TestWithRlimits(t *testing.T) {
	base := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 20000, Hard: 20000}}
	got := withRlimits(base, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}, {Type: "RLIMIT_CORE"}})
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}, {Type: "RLIMIT_CORE"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withRlimits = %v, want %v", got, want)
	}
	if got := withRlimits(base, nil); !reflect.DeepEqual(got, base) {
		t.Errorf("withRlimits without --ulimit = %v, want the default %v", got, base)
	}
}

func TestParseSysctls(t *testing.T) {
	got, err := parseSysctls([]string{"net.ipv4.ip_forward=1", "kernel.shmmax=1000", "fs.mqueue.msg_max=20", "kernel.sem=1 2 3 4"}, "bridge")
	want := map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20", "kernel.sem": "1 2 3 4"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseSysctls = %v, %v, want %v", got, err, want)
	}
	if _, err := parseSysctls([]string{"kernel.shmmax=1"}, "host"); err != nil {
		t.Errorf("an IPC sysctl with --network host: %v (the IPC namespace is still the container's)", err)
	}
	for _, tc := range []struct{ val, network string }{
		{"vm.swappiness=10", "bridge"}, {"kernel.hostname=x", "bridge"}, {"kernel.pid_max=100", "bridge"},
		{"net.ipv4.ip_forward=1", "host"}, {"net.ipv4.ip_forward=1", "container:abc"},
		{"net.ipv4.ip_forward", "bridge"}, {"=1", "bridge"}, {"net/../x=1", "bridge"}, {"net.a..b=1", "bridge"},
	} {
		if _, err := parseSysctls([]string{tc.val}, tc.network); err == nil || !IsInvalid(err) {
			t.Errorf("parseSysctls(%q, %s) = %v, want an invalid-argument error", tc.val, tc.network, err)
		}
	}
}

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want deviceRequest
	}{
		{"/dev/null", deviceRequest{"/dev/null", "/dev/null", "rwm"}},
		{"/dev/null:/dev/x", deviceRequest{"/dev/null", "/dev/x", "rwm"}},
		{"/dev/null:r", deviceRequest{"/dev/null", "/dev/null", "r"}},
		{"/dev/null:/dev/x:rw", deviceRequest{"/dev/null", "/dev/x", "rw"}},
		{"/dev/null:/dev/x/../y:mr", deviceRequest{"/dev/null", "/dev/y", "mr"}},
	} {
		if got, err := parseDevice(tc.in); err != nil || got != tc.want {
			t.Errorf("parseDevice(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "dev/null", "/dev/null:dev/x", "/dev/null:/dev/x:rwz", "/dev/null:/dev/x:rr", "/a:/b:r:w", "/dev/null:/dev/x:"} {
		if _, err := parseDevice(bad); err == nil || !IsInvalid(err) {
			t.Errorf("parseDevice(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestDevicesFromHost(t *testing.T) {
	devs, rules, err := devices([]string{"/dev/null:/dev/mynull:rw"})
	if err != nil || len(devs) != 1 || len(rules) != 1 {
		t.Fatalf("devices = %v, %v, %v", devs, rules, err)
	}
	d, r := devs[0], rules[0]
	if d.Path != "/dev/mynull" || d.Type != "c" || d.Major != 1 || d.Minor != 3 {
		t.Errorf("device = %+v, want /dev/mynull c 1:3", d)
	}
	if !r.Allow || r.Type != "c" || *r.Major != 1 || *r.Minor != 3 || r.Access != "rw" {
		t.Errorf("rule = %+v, want allow c 1:3 rw", r)
	}
	for _, bad := range []string{"/dev/no-such-device", "/etc/passwd"} {
		if _, _, err := devices([]string{bad}); err == nil || !IsInvalid(err) {
			t.Errorf("devices(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestShmSize(t *testing.T) {
	if n, err := parseShmSize("32m"); err != nil || n != 32<<20 {
		t.Errorf("parseShmSize(32m) = %d, %v", n, err)
	}
	for _, bad := range []string{"abc", "0", "-1m", "1x"} {
		if _, err := parseShmSize(bad); err == nil || !IsInvalid(err) {
			t.Errorf("parseShmSize(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
	mounts := defaultMounts("/c", false)
	withShmSize(mounts, 1<<20)
	for _, m := range mounts {
		if m.Destination == "/dev/shm" {
			want := []string{"nosuid", "noexec", "nodev", "mode=1777", "size=1048576"}
			if !reflect.DeepEqual(m.Options, want) {
				t.Errorf("/dev/shm options = %v, want %v", m.Options, want)
			}
		}
	}
}

func TestCgroupnsPlatformMAC(t *testing.T) {
	for _, ok := range []string{"", "host", "private"} {
		if err := checkCgroupns(ok); err != nil {
			t.Errorf("checkCgroupns(%q) = %v", ok, err)
		}
	}
	if err := checkCgroupns("foo"); err == nil || !IsInvalid(err) {
		t.Errorf("checkCgroupns(foo) = %v", err)
	}
	if err := checkPlatform("linux/amd64"); err != nil {
		t.Errorf("checkPlatform(linux/amd64) = %v", err)
	}
	for _, bad := range []string{"linux/arm64", "windows/amd64", "linux/arm/v7"} {
		if err := checkPlatform(bad); err == nil || !IsInvalid(err) {
			t.Errorf("checkPlatform(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
	if mac, err := parseMAC("92:D0:C6:0A:29:33"); err != nil || mac.String() != "92:d0:c6:0a:29:33" {
		t.Errorf("parseMAC = %v, %v", mac, err)
	}
	for _, bad := range []string{"zz", "92:d0:c6:0a:29", "01:00:5e:00:00:01", "00:00:00:00:00:00:00:01"} {
		if _, err := parseMAC(bad); err == nil || !IsInvalid(err) {
			t.Errorf("parseMAC(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestSpecExtrasApply(t *testing.T) {
	spec := newSpec(specInput{ID: "x", Dir: "/c", Args: []string{"sh"}, Resources: &specs.LinuxResources{}, HostNofileHard: 20000})
	specExtras{hostCgroup: true, shmSize: 1 << 20}.apply(spec)
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			t.Errorf("--cgroupns host: the spec still has a cgroup namespace")
		}
	}
	last := spec.Mounts[len(spec.Mounts)-1]
	if last.Destination != "/sys/fs/cgroup" || last.Type != "cgroup" {
		t.Errorf("last mount = %+v, want the cgroup mount at /sys/fs/cgroup (after /sys)", last)
	}
}

func TestCheckDNSOptions(t *testing.T) {
	if err := checkDNSOptions([]string{"example.test", ".", "a.b."}, []string{"ndots:2", "rotate"}); err != nil {
		t.Errorf("checkDNSOptions = %v", err)
	}
	for _, tc := range [][2][]string{{{"a b"}, nil}, {{"-a"}, nil}, {nil, {""}}, {nil, {"ndots:2 rotate"}}} {
		if err := checkDNSOptions(tc[0], tc[1]); err == nil || !IsInvalid(err) {
			t.Errorf("checkDNSOptions(%q, %q) = %v, want an invalid-argument error", tc[0], tc[1], err)
		}
	}
}

// /sys/fs/cgroup is read-write for a privileged container only (Docker's),
// and asking for one leaves the read-only default as it was.
func TestCgroupMountFor(t *testing.T) {
	rw := cgroupMountFor(true)
	ro := cgroupMountFor(false)
	if rw.Options[0] != "rw" || ro.Options[0] != "ro" || cgroupMount.Options[0] != "ro" {
		t.Errorf("options: privileged %v, not %v, default %v", rw.Options, ro.Options, cgroupMount.Options)
	}
	if len(rw.Options) != len(ro.Options) || rw.Destination != "/sys/fs/cgroup" {
		t.Errorf("privileged mount %+v, want the default's but rw", rw)
	}
}
