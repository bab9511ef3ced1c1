//go:build integration

package integration

// config-linux.md's time namespace: linux.namespaces type "time" (new or
// by path) and linux.timeOffsets.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const timensWhy = "runc 1.1.5 does not know the time namespace (runc 1.2 does)"

// hostUptime is the host's /proc/uptime in seconds.
func hostUptime(t *testing.T) float64 {
	t.Helper()
	return parseUptime(t, readFile("/proc/uptime"))
}

func parseUptime(t *testing.T, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("not an uptime: %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("not an uptime: %q", s)
	}
	return v
}

// withTimens gives spec a new time namespace with these offsets (in
// seconds) of the boottime and monotonic clocks.
func withTimens(s *specs.Spec, boot, mono int64) *specs.Spec {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: boot}, "monotonic": {Secs: mono, Nanosecs: 5}}
	return s
}

// A new time namespace: the container's clocks run the offsets ahead of
// the host's, /proc/uptime (the boottime clock) among them; the offsets
// are the namespace's (timens_offsets).
func TestOCITimeNamespace(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(timensWhy, "runc")
	const boot = 1000000
	spec := withTimens(shSpec("readlink /proc/self/ns/time; cat /proc/self/timens_offsets; cat /proc/uptime"), boot, 3600)
	before := hostUptime(t)
	out := runLines(e.runSpec("timens", spec))
	after := hostUptime(t)
	if len(out) != 4 {
		t.Fatalf("output %q: want the namespace, two offsets and the uptime", out)
	}
	if out[0] == hostNS(t, "time") {
		t.Errorf("the container is in the host's time namespace %s", out[0])
	}
	if got := strings.Join(strings.Fields(out[1]), " "); got != "monotonic 3600 5" {
		t.Errorf("monotonic offset %q, want 3600 s and 5 ns", got)
	}
	if got := strings.Join(strings.Fields(out[2]), " "); got != fmt.Sprintf("boottime %d 0", boot) {
		t.Errorf("boottime offset %q, want %d s", got, boot)
	}
	// Read between the host's two readings, ahead by the offset (uptime
	// has two decimals).
	if up := parseUptime(t, out[3]); up < before+boot-0.01 || up > after+boot+0.01 {
		t.Errorf("container uptime %.2f, want the host's (%.2f..%.2f) + %d", up, before, after, boot)
	}
}

// A time namespace without offsets: the container's own, at the host's
// time; an exec enters it too.
func TestOCITimeNamespaceExec(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(timensWhy, "runc")
	c := e.create("timens-exec", withTimens(shSpec("echo ready; exec sleep 1000"), 500000, 0))
	c.start()
	c.waitOut("ready")
	own := strings.TrimSpace(procFileLink(t, c.state().Pid, "ns/time"))
	if own == hostNS(t, "time") {
		t.Fatalf("the container's process is in the host's time namespace")
	}
	before := hostUptime(t)
	out := runLines(e.ok("exec", c.id, "sh", "-c", "readlink /proc/self/ns/time; cat /proc/uptime"))
	after := hostUptime(t)
	if len(out) != 2 || out[0] != own {
		t.Fatalf("exec: %q, want the container's time namespace %s", out, own)
	}
	if up := parseUptime(t, out[1]); up < before+500000-0.01 || up > after+500000+0.01 {
		t.Errorf("exec's uptime %.2f, want the host's (%.2f..%.2f) + 500000", up, before, after)
	}

	// A second container joins it by path, offsets and all.
	spec := shSpec("readlink /proc/self/ns/time; cat /proc/uptime")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces,
		specs.LinuxNamespace{Type: specs.TimeNamespace, Path: fmt.Sprintf("/proc/%d/ns/time", c.state().Pid)})
	before = hostUptime(t)
	out = runLines(e.runSpec("timens-join", spec))
	after = hostUptime(t)
	if len(out) != 2 || out[0] != own {
		t.Fatalf("joined: %q, want the first container's time namespace %s", out, own)
	}
	if up := parseUptime(t, out[1]); up < before+500000-0.01 || up > after+500000+0.01 {
		t.Errorf("joined: uptime %.2f, want the host's (%.2f..%.2f) + 500000", up, before, after)
	}
}

// procFileLink reads the link /proc/<pid>/<name>.
func procFileLink(t *testing.T, pid int, name string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A time namespace in a new user namespace: the init, root there, makes
// it and writes its offsets.
func TestOCITimeNamespaceUserns(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(timensWhy, "runc")
	spec := withTimens(shSpec("cat /proc/uptime"), 700000, 0)
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	before := hostUptime(t)
	out := e.runSpec("timens-userns", spec)
	after := hostUptime(t)
	if up := parseUptime(t, out); up < before+700000-0.01 || up > after+700000+0.01 {
		t.Errorf("uptime %.2f, want the host's (%.2f..%.2f) + 700000", up, before, after)
	}
}
