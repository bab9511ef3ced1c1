//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The container's configuration is an OCI runtime spec saved as
// containers/<id>/config.json, and it says what the container ran with.
func TestRunSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	args := []string{"sh", "-c", "echo spec ran; id -u"}
	out := e.ok(append([]string{"run", "--name", "spec", "-e", "K=V", "-u", "1000", "-w", "/tmp",
		"--hostname", "hh", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "busybox"}, args...)...)
	if out != "spec ran\n1000" {
		t.Errorf("run output %q, want the command's", out)
	}
	ids := e.ids()
	if len(ids) != 1 {
		t.Fatalf("containers %v, want one", ids)
	}
	b, err := os.ReadFile(filepath.Join(e.root, "containers", ids[0], "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("config.json is not an OCI runtime spec: %v\n%s", err, b)
	}
	if spec.Version == "" {
		t.Errorf("ociVersion empty")
	}
	p := spec.Process
	if p == nil {
		t.Fatalf("config.json has no process: %s", b)
	}
	if !slices.Equal(p.Args, args) {
		t.Errorf("process.args = %q, want %q", p.Args, args)
	}
	if !slices.Contains(p.Env, "K=V") {
		t.Errorf("process.env = %q, want K=V in it", p.Env)
	}
	if p.Cwd != "/tmp" {
		t.Errorf("process.cwd = %q, want /tmp", p.Cwd)
	}
	if p.User.UID != 1000 || p.User.GID != 1000 {
		t.Errorf("process.user = %+v, want uid 1000 gid 1000", p.User)
	}
	if spec.Hostname != "hh" {
		t.Errorf("hostname = %q, want hh", spec.Hostname)
	}
	wantCaps := []string{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
		"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID",
		"CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"}
	if p.Capabilities == nil {
		t.Errorf("process.capabilities missing")
	} else {
		bnd := slices.Clone(p.Capabilities.Bounding)
		slices.Sort(bnd)
		if !slices.Equal(bnd, wantCaps) {
			t.Errorf("process.capabilities.bounding = %q, want Docker's defaults %q", bnd, wantCaps)
		}
	}
	if spec.Root == nil || spec.Root.Path == "" {
		t.Errorf("root missing")
	}
	l := spec.Linux
	if l == nil {
		t.Fatalf("config.json has no linux section: %s", b)
	}
	var ns []string
	for _, n := range l.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins %s, want a new one", n.Type, n.Path)
		}
		ns = append(ns, string(n.Type))
	}
	slices.Sort(ns)
	if want := []string{"cgroup", "ipc", "mount", "network", "pid", "uts"}; !slices.Equal(ns, want) {
		t.Errorf("linux.namespaces = %q, want %q", ns, want)
	}
	r := l.Resources
	switch {
	case r == nil || r.Memory == nil || r.Memory.Limit == nil || r.CPU == nil || r.CPU.Quota == nil || r.CPU.Period == nil || r.Pids == nil:
		t.Errorf("linux.resources = %+v, want memory, cpu and pids limits", r)
	default:
		if *r.Memory.Limit != 64<<20 {
			t.Errorf("memory limit %d, want %d", *r.Memory.Limit, 64<<20)
		}
		if *r.CPU.Quota*2 != int64(*r.CPU.Period) {
			t.Errorf("cpu quota/period %d/%d, want half a CPU", *r.CPU.Quota, *r.CPU.Period)
		}
		if r.Pids.Limit == nil || *r.Pids.Limit != 20 {
			t.Errorf("pids limit %v, want 20", r.Pids.Limit)
		}
	}
	for _, m := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if !slices.Contains(l.MaskedPaths, m) {
			t.Errorf("linux.maskedPaths %q lacks %s", l.MaskedPaths, m)
		}
	}
	for _, m := range []string{"/proc/sys", "/proc/sysrq-trigger"} {
		if !slices.Contains(l.ReadonlyPaths, m) {
			t.Errorf("linux.readonlyPaths %q lacks %s", l.ReadonlyPaths, m)
		}
	}
	var dests []string
	for _, m := range spec.Mounts {
		dests = append(dests, m.Destination)
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
		if !slices.Contains(dests, d) {
			t.Errorf("mounts %q lack %s", dests, d)
		}
	}
}
