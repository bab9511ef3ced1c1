//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runSh runs script with busybox sh in a throwaway container (run --rm,
// plus flags), fails the test unless it exits 0, and returns trimmed stdout.
func (e *env) runSh(script string, flags ...string) string {
	e.t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), "busybox", "sh", "-c", script)
	return e.ok(args...)
}

// runLines splits trimmed output into lines; empty output gives none.
func runLines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// runStatusField returns the value of one "Name:\tvalue" line of a
// /proc/<pid>/status text.
func runStatusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s line in status %q", name, status)
	return ""
}

// runCapField parses a hexadecimal capability mask line (CapEff, CapBnd...).
func runCapField(t *testing.T, status, name string) uint64 {
	t.Helper()
	v := runStatusField(t, status, name)
	m, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		t.Fatalf("%s = %q: %v", name, v, err)
	}
	return m
}

// runCapMask is the bit mask of the given capability numbers.
func runCapMask(caps ...int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << uint(c)
	}
	return m
}

// runDockerCaps is Docker's default capability set (moby's
// oci/caps/defaults.go), 14 capabilities.
var runDockerCaps = []int{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER,
	unix.CAP_MKNOD, unix.CAP_NET_RAW, unix.CAP_SETGID, unix.CAP_SETUID,
	unix.CAP_SETFCAP, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE,
	unix.CAP_SYS_CHROOT, unix.CAP_KILL, unix.CAP_AUDIT_WRITE,
}

// runHostStatus reads this test process's /proc/self/status.
func runHostStatus(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runMount is one line of a mountinfo file.
type runMount struct {
	point, fstype, source, opts, superOpts, line string
}

// runParseMountinfo parses the text of /proc/<pid>/mountinfo.
func runParseMountinfo(t *testing.T, text string) []runMount {
	t.Helper()
	var out []runMount
	for _, l := range runLines(text) {
		f := strings.Fields(l)
		sep := slices.Index(f, "-")
		if len(f) < 6 || sep < 6 || len(f) < sep+4 {
			t.Fatalf("bad mountinfo line %q", l)
		}
		out = append(out, runMount{point: f[4], opts: f[5], fstype: f[sep+1], source: f[sep+2], superOpts: f[sep+3], line: l})
	}
	return out
}

// runMountAt returns the last (topmost) mount at point, ok false if none.
func runMountAt(ms []runMount, point string) (runMount, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].point == point {
			return ms[i], true
		}
	}
	return runMount{}, false
}

// runInspect returns `hutch inspect ref` decoded (the first element).
func (e *env) runInspect(ref string) map[string]any {
	e.t.Helper()
	out := e.ok("inspect", ref)
	var arr []map[string]any
	if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 1 {
		e.t.Fatalf("inspect %s: %v: %q", ref, err, out)
	}
	return arr[0]
}

// runPid returns the host pid of a running container, from inspect's State.Pid.
func (e *env) runPid(ref string) int {
	e.t.Helper()
	st, _ := e.runInspect(ref)["State"].(map[string]any)
	p, _ := st["Pid"].(float64)
	if st == nil || p <= 0 || st["Running"] != true {
		e.t.Fatalf("inspect %s: State %v: want a running container with a pid", ref, st)
	}
	return int(p)
}

// runWaitFor polls cond every 20 ms until it holds or timeout passes.
func runWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runPsQ returns the short ids `ps -q` lists.
func (e *env) runPsQ() []string {
	e.t.Helper()
	return strings.Fields(e.ok("ps", "-q"))
}

// runCopyHutch copies the hutch binary under test to a fresh temporary file
// and returns its path, so that a test that may damage the binary runs a
// copy of its own.
func runCopyHutch(t *testing.T) string {
	t.Helper()
	src, err := os.Open(hutchBin)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "hutch")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCgroupDirs lists the group directories under /sys/fs/cgroup/<ctl>/hutch.
func runCgroupDirs(t *testing.T, ctl string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("/sys/fs/cgroup", ctl, "hutch"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range ents {
		if d.IsDir() {
			out[d.Name()] = true
		}
	}
	return out
}

// runProcCgroups parses /proc/<pid>/cgroup into controller list → path.
func runProcCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}
