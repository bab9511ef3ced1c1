//go:build integration

package integration

// Bad input to create: an error (non-zero exit, one line), and the
// environment as if create were never run (runtime.md's Errors): no
// container, no state entry, no cgroup, no mount, no process.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestOCIBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, s *specs.Spec, bundle string)
		id   string // instead of the generated one
		skip []string
		why  string
		// Runtimes whose error takes more than one line here (the other
		// checks still hold for them).
		multiline []string
	}{
		{name: "malformed-config", edit: func(t *testing.T, _ *specs.Spec, b string) {
			ociWrite(t, b, "config.json", `{"ociVersion": "1.0.2", "process": {`)
		}},
		{name: "config-wrong-types", edit: func(t *testing.T, _ *specs.Spec, b string) {
			ociWrite(t, b, "config.json", `{"ociVersion": "1.0.2", "process": {"args": "sh", "cwd": 7}, "root": {"path": "rootfs"}}`)
		}},
		{name: "no-config", edit: func(t *testing.T, _ *specs.Spec, b string) { os.Remove(filepath.Join(b, "config.json")) }},
		{name: "missing-rootfs", edit: func(_ *testing.T, s *specs.Spec, _ string) { s.Root.Path = "no-such-rootfs" }},
		{name: "unknown-namespace", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
		}},
		{name: "duplicate-namespace", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		}},
		{name: "namespace-path-wrong-type", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/uts", os.Getpid())
				}
			}
		}, multiline: []string{"runc"}},
		{name: "namespace-path-missing", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/run/netns/no-such-netns"
				}
			}
		}},
		{name: "unknown-rlimit", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NO_SUCH", Soft: 1, Hard: 1})
		}},
		{name: "duplicate-rlimit", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 10})
		}, skip: []string{"runc"}, why: "runc 1.1.5 accepts duplicated rlimits (create succeeds)"},
		{name: "empty-args", edit: func(_ *testing.T, s *specs.Spec, _ string) { s.Process.Args = nil }},
		{name: "relative-cwd", edit: func(_ *testing.T, s *specs.Spec, _ string) { s.Process.Cwd = "tmp" }},
		{name: "unknown-mount-type", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "no-such-fs", Source: "none"})
		}},
		{name: "bind-missing-source", edit: func(t *testing.T, s *specs.Spec, b string) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: filepath.Join(b, "no-such-dir"), Options: []string{"rbind"}})
		}},
		{name: "sysctl-not-namespaced", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"}
		}},
		{name: "sysctl-unknown", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.no_such_sysctl": "1"}
		}},
		{name: "device-path-taken", edit: func(t *testing.T, s *specs.Spec, b string) {
			// A regular file where the device should go.
			ociWrite(t, b, "rootfs/etc/notadevice", "x")
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/etc/notadevice", Type: "c", Major: 1, Minor: 3}}
			s.Root.Readonly = false
		}, skip: []string{"runc"}, why: "runc 1.1.5 accepts a device path taken by a regular file (create succeeds)"},
		{name: "scheduler-unknown-policy", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_NO_SUCH"}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "scheduler-nice-out-of-range", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: 40}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "scheduler-priority-not-rt", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Priority: 10}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "scheduler-fifo-priority-out-of-range", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 100}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "scheduler-deadline-runtime-over-deadline", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 2000000, Deadline: 1000000, Period: 1000000}
		}, skip: []string{"runc"}, why: schedWhy},
		// Valid, but what the kernel refuses (realtime in a group with no
		// realtime budget): create fails, not start.
		{name: "scheduler-fifo-without-rt-budget", edit: func(t *testing.T, s *specs.Spec, _ string) {
			if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"); err != nil {
				t.Skip("the host has no realtime group scheduling")
			}
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "ioPriority-unknown-class", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NO_SUCH"}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "ioPriority-out-of-range", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}, skip: []string{"runc"}, why: schedWhy},
		{name: "timeOffsets-without-time-namespace", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 100}}
		}, skip: []string{"runc"}, why: "runc 1.1.5 ignores linux.timeOffsets (create succeeds)"},
		{name: "timeOffsets-joined-time-namespace", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/self/ns/time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 100}}
		}},
		{name: "timeOffsets-unknown-clock", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 100}}
		}},
		{name: "time-namespace-path-wrong-type", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/self/ns/uts"})
		}},
		{name: "idmap-not-bind", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}, UIDMappings: m, GIDMappings: m})
		}},
		{name: "idmap-uid-without-gid", edit: func(_ *testing.T, s *specs.Spec, b string) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: b, Options: []string{"rbind", "idmap"}, UIDMappings: m})
		}, skip: []string{"runc"}, why: idmapWhy},
		{name: "idmap-no-mappings-no-userns", edit: func(_ *testing.T, s *specs.Spec, b string) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: b, Options: []string{"rbind", "idmap"}})
		}, skip: []string{"runc"}, why: idmapWhy},
		// sysfs cannot be idmapped (no FS_ALLOW_IDMAP).
		{name: "idmap-unsupported-filesystem", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/sys/kernel/mm", Options: []string{"rbind", "idmap"}, UIDMappings: m, GIDMappings: m})
		}, skip: []string{"runc"}, why: idmapWhy},
		{name: "netDevices", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"lo": {Name: "lo0"}}
		}, skip: []string{"runc"}, why: "runc 1.1.5 ignores linux.netDevices (runc 1.3 moves them)"},
		{name: "seccomp-errnoRet-of-allow", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			one := uint(1)
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getcwd"}, Action: specs.ActAllow, ErrnoRet: &one}}}
		}, skip: []string{"runc"}, why: "runc 1.1.5 accepts an errnoRet with SCMP_ACT_ALLOW (create succeeds)"},
		{name: "memoryPolicy-unknown-mode", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_NO_SUCH"}
		}, skip: []string{"runc"}, why: mempolicyWhy},
		{name: "memoryPolicy-bind-without-nodes", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind}
		}, skip: []string{"runc"}, why: mempolicyWhy},
		{name: "memoryPolicy-bad-nodes", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0-x"}
		}, skip: []string{"runc"}, why: mempolicyWhy},
		// A node the host does not have: the kernel refuses it.
		{name: "memoryPolicy-no-such-node", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "1000"}
		}, skip: []string{"runc"}, why: mempolicyWhy},
		{name: "hostname-without-uts", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UTSNamespace })
		}},
		{name: "domainname-without-uts", edit: func(_ *testing.T, s *specs.Spec, _ string) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UTSNamespace })
			s.Hostname, s.Domainname = "", "oci-domain"
		}, skip: []string{"runc"}, why: "runc 1.1.5 ignores domainname (runc 1.2 sets it)"},
		// What the host lacks: refused, not ignored.
		{name: "intelRdt-without-resctrl", edit: func(t *testing.T, s *specs.Spec, _ string) {
			if _, err := os.Stat("/sys/fs/resctrl/tasks"); err == nil {
				t.Skip("the host has resctrl")
			}
			s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "oci-test"}
		}, skip: []string{"runc"}, why: "runc 1.1.5 accepts intelRdt on a host without resctrl (create succeeds)"},
		{name: "apparmor-without-apparmor", edit: func(t *testing.T, s *specs.Spec, _ string) {
			if _, err := os.Stat("/sys/kernel/security/apparmor"); err == nil {
				t.Skip("the host has AppArmor")
			}
			s.Process.ApparmorProfile = "oci-test-profile"
		}},
		{name: "invalid-id", id: "../escape"},
		{name: "invalid-id-slash", id: "a/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOCIEnv(t)
			if len(tc.skip) > 0 {
				e.skipFor(tc.why, tc.skip...)
			}
			id := e.id("bad")
			spec := shSpec("echo program ran")
			b := e.bundle(id, spec)
			if tc.edit != nil {
				tc.edit(t, spec, b)
				if _, err := os.Stat(filepath.Join(b, "config.json")); err == nil && !ociRaw(b) {
					e.writeSpec(b, spec)
				}
			}
			if tc.id != "" {
				id = tc.id
				e.mu.Lock()
				e.ids = append(e.ids, filepath.Base(id))
				e.mu.Unlock()
			}
			c := &ociCtr{e: e, id: id, bundle: b, outPath: filepath.Join(e.dir, "bad.out"), errPath: filepath.Join(e.dir, "bad.err")}
			r := e.createWithStdio(c)
			if r.code == 0 {
				t.Fatalf("create %s: %s, want a failure", id, r)
			}
			if slices.Contains(tc.multiline, e.name) {
				t.Logf("%s's error, several lines: %q", e.name, r.stderr)
			} else {
				e.checkFailed(r, "create", id)
			}
			if e.exists(id) {
				t.Errorf("state %s works after a failed create", id)
			}
			if leaks := e.leftovers(filepath.Base(id)); len(leaks) > 0 {
				t.Errorf("after a failed create: %v", leaks)
			}
			if got := readFile(c.outPath); got != "" {
				t.Errorf("the program ran: %q", got)
			}
		})
	}
}

// A capability the kernel does not know is logged as a warning and the
// container runs with the rest (config.md: "MUST be logged as a warning",
// "SHOULD NOT fail").
func TestOCIUnknownCapability(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := shSpec("grep CapBnd /proc/self/status")
	spec.Process.Capabilities.Bounding = append(spec.Process.Capabilities.Bounding, "CAP_NO_SUCH_THING")
	c, r := e.tryCreate("unknowncap", spec)
	if r.code != 0 {
		t.Fatalf("create with an unknown capability: %s, want a warning and the container", r)
	}
	if !strings.Contains(r.stderr, "CAP_NO_SUCH_THING") || len(runLines(r.stderr)) != 1 {
		t.Errorf("create's stderr %q, want one line of warning naming CAP_NO_SUCH_THING", r.stderr)
	}
	c.start()
	c.waitStatus(specs.StateStopped)
	c.delete()
	if got, want := ociStatus(c.out(), "CapBnd"), fmt.Sprintf("%016x", runCapMask(unix.CAP_AUDIT_WRITE, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE)); got != want {
		t.Errorf("CapBnd %q, want the known ones %s", got, want)
	}
}

// ociWrite writes name under dir, marking a hand-written config.json.
func ociWrite(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if name == "config.json" {
		if err := os.WriteFile(filepath.Join(dir, ".raw"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ociRaw says whether the bundle's config.json was written by hand.
func ociRaw(bundle string) bool {
	_, err := os.Stat(filepath.Join(bundle, ".raw"))
	return err == nil
}
