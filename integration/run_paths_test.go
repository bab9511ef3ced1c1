//go:build integration

package integration

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// runKV runs script in a container and parses its "key=value" lines.
func (e *env) runKV(script string, flags ...string) map[string]string {
	e.t.Helper()
	out := e.runSh(script, flags...)
	kv := map[string]string{}
	for _, l := range runLines(out) {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// runMaskScript reports the masked and read-only paths as key=value lines.
const runMaskScript = `
echo keys=$(cat /proc/keys 2>/dev/null | wc -c)
echo timer=$(cat /proc/timer_list 2>/dev/null | wc -c)
echo kcore=$(cat /proc/kcore 2>/dev/null | head -c 4096 | wc -c)
echo firmware=$(ls -A /sys/firmware | wc -l)
echo procsys=$( (echo x > /proc/sys/kernel/domainname) 2>/dev/null; echo $?)
echo procsys_mount=$(grep -c ' /proc/sys ' /proc/self/mountinfo)
echo sysrq=$( (echo h > /proc/sysrq-trigger) 2>/dev/null; echo $?)
echo sys=$( (touch /sys/kernel/hutch-test) 2>/dev/null; echo $?)
echo sysmount=$(awk '$5 == "/sys" {print $6}' /proc/self/mountinfo | cut -d, -f1)
`

// runHostCount is the size of a host file, or the number of entries of a host
// directory; -1 when it does not exist.
func runHostCount(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// /proc and /sys carry Docker's masked and read-only paths; --privileged
// has none of them.
func TestRunProcSysMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kv := e.runKV(runMaskScript)
	t.Logf("default: %v", kv)
	for _, k := range []string{"keys", "timer", "kcore", "firmware"} {
		if kv[k] != "0" {
			t.Errorf("masked %s: inside reads %s bytes/entries, want 0", k, kv[k])
		}
	}
	if kv["procsys"] == "0" {
		t.Errorf("writing /proc/sys/kernel/domainname succeeded: /proc/sys must be read-only")
	}
	if kv["procsys_mount"] != "1" {
		t.Errorf("/proc/sys has %s mounts of its own, want one read-only bind", kv["procsys_mount"])
	}
	if runHostCount(t, "/proc/sysrq-trigger") >= 0 && kv["sysrq"] == "0" {
		t.Errorf("writing /proc/sysrq-trigger succeeded")
	}
	if kv["sys"] == "0" || kv["sysmount"] != "ro" {
		t.Errorf("/sys: touch exit %s, mount options %s: want read-only", kv["sys"], kv["sysmount"])
	}

	// The masks must hide something: the host has these.
	if runHostCount(t, "/proc/timer_list") <= 0 || runHostCount(t, "/sys/firmware") <= 0 {
		t.Fatalf("host lacks /proc/timer_list or /sys/firmware entries: the mask test proves nothing here")
	}
	kv = e.runKV(runMaskScript, "--privileged")
	t.Logf("privileged: %v", kv)
	if kv["timer"] == "0" {
		t.Errorf("--privileged: /proc/timer_list still masked")
	}
	if want := runHostCount(t, "/sys/firmware"); kv["firmware"] != strconv.Itoa(want) {
		t.Errorf("--privileged: /sys/firmware has %s entries, want the host's %d", kv["firmware"], want)
	}
	if runHostCount(t, "/proc/keys") > 0 && kv["keys"] == "0" {
		t.Errorf("--privileged: /proc/keys still masked")
	}
	if n := runHostCount(t, "/proc/kcore"); n >= 0 && kv["kcore"] == "0" {
		t.Errorf("--privileged: /proc/kcore still masked")
	}
	out := e.runSh("cat /proc/self/mountinfo", "--privileged")
	for _, m := range runParseMountinfo(t, out) {
		if slices.Contains([]string{"/proc/keys", "/proc/timer_list", "/proc/kcore", "/sys/firmware", "/proc/acpi"}, m.point) {
			t.Errorf("--privileged: masked path mounted: %s", m.line)
		}
	}
}

// /dev is a tmpfs with exactly Docker's devices and links, and devpts,
// shm and mqueue mounts; the devices work.
func TestRunDev(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.runSh(`ls -A /dev; echo ---
for d in null zero full random urandom tty; do echo "$d $(stat -c '%F %t:%T %a' /dev/$d)"; done; echo ---
for l in fd stdin stdout stderr core ptmx; do echo "$l $(readlink /dev/$l)"; done; echo ---
echo hello > /dev/null && echo null-ok
echo zero=$(head -c 4096 /dev/zero | tr -d '\000' | wc -c)/$(head -c 4096 /dev/zero | wc -c)
echo urandom=$(head -c 64 /dev/urandom | wc -c)
(echo x > /dev/full) 2>/dev/null || echo full-fails
echo shm > /dev/shm/f && cat /dev/shm/f
echo ---; cat /proc/self/mountinfo`)
	parts := strings.Split(out, "---\n")
	if len(parts) != 5 {
		t.Fatalf("output %q: want 5 sections", out)
	}
	names := runLines(parts[0])
	slices.Sort(names)
	want := []string{"core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	if !slices.Equal(names, want) {
		t.Errorf("/dev holds %q, want exactly %q", names, want)
	}
	devs := map[string]string{
		"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8", "urandom": "1:9", "tty": "5:0",
	}
	for _, l := range runLines(parts[1]) {
		f := strings.Fields(l) // name character special file maj:min mode
		if len(f) != 6 || f[1] != "character" || f[4] != devs[f[0]] || f[5] != "666" {
			t.Errorf("device %q, want a character device %s mode 666", l, devs[f[0]])
		}
	}
	links := map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "core": "/proc/kcore", "ptmx": "pts/ptmx",
	}
	for _, l := range runLines(parts[2]) {
		name, target, _ := strings.Cut(l, " ")
		if links[name] != target {
			t.Errorf("/dev/%s -> %q, want %q", name, target, links[name])
		}
	}
	if got, want := runLines(parts[3]), []string{"null-ok", "zero=0/4096", "urandom=64", "full-fails", "shm"}; !slices.Equal(got, want) {
		t.Errorf("device checks %q, want %q", got, want)
	}
	ms := runParseMountinfo(t, parts[4])
	for point, fstype := range map[string]string{"/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/proc": "proc", "/sys": "sysfs"} {
		m, ok := runMountAt(ms, point)
		if !ok || m.fstype != fstype {
			t.Errorf("%s: mount %q, want a %s", point, m.line, fstype)
		}
	}
	if m, _ := runMountAt(ms, "/dev/pts"); !strings.Contains(m.superOpts, "ptmxmode=666") {
		t.Errorf("/dev/pts options %q, want a new instance with ptmxmode=666", m.superOpts)
	}
}

// /etc/hostname, /etc/hosts and /etc/resolv.conf are provided.
func TestRunEtcFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.runSh(`for f in hostname hosts resolv.conf; do test -f /etc/$f && echo "$f $(wc -c < /etc/$f)"; done; echo ---; cat /etc/hostname /etc/hosts /etc/resolv.conf`, "--hostname", "etc-test")
	head, body, _ := strings.Cut(out, "---\n")
	for _, l := range runLines(head) {
		if strings.HasSuffix(l, " 0") {
			t.Errorf("/etc/%s is empty", l)
		}
	}
	if n := len(runLines(head)); n != 3 {
		t.Errorf("/etc files present: %q, want hostname, hosts and resolv.conf", head)
	}
	got := runLines(body)
	if len(got) == 0 || got[0] != "etc-test" {
		t.Errorf("/etc/hostname = %q, want etc-test", got)
	}
	if !strings.Contains(body, "127.0.0.1\tlocalhost") && !strings.Contains(body, "127.0.0.1 localhost") {
		t.Errorf("/etc/hosts lacks 127.0.0.1 localhost:\n%s", body)
	}
	if !strings.Contains(body, "nameserver ") {
		t.Errorf("/etc/resolv.conf has no nameserver:\n%s", body)
	}
}
