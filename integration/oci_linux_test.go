//go:build integration

package integration

// config-linux.md and config.md's root and mounts: namespaces (new,
// inherited, joined by path, user with mappings), mounts with options, in
// order, with propagation; read-only root, maskedPaths, readonlyPaths,
// sysctl, devices (given and default) and the /dev links.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var ociNSKinds = []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"}

// ociNSScript prints "kind link" for each namespace kind of the container.
var ociNSScript = func() string {
	var b strings.Builder
	for _, k := range ociNSKinds {
		fmt.Fprintf(&b, "echo %s $(readlink /proc/self/ns/%s); ", k, k)
	}
	return b.String()
}()

// ociNSCheck checks which namespaces are the host's (the runtime's) and
// which are new.
func ociNSCheck(newKinds ...string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		got := map[string]string{}
		for _, l := range runLines(out) {
			k, v, _ := strings.Cut(l, " ")
			got[k] = v
		}
		for _, k := range ociNSKinds {
			host := hostNS(t, k)
			isNew := false
			for _, n := range newKinds {
				isNew = isNew || n == k
			}
			switch {
			case got[k] == "":
				t.Errorf("no %s namespace in output %q", k, out)
			case isNew && got[k] == host:
				t.Errorf("%s namespace is the host's %s, want a new one", k, host)
			case !isNew && got[k] != host:
				t.Errorf("%s namespace %s, want the host's %s (not in namespaces: inherited)", k, got[k], host)
			}
		}
	}
}

func TestOCILinux(t *testing.T) {
	t.Parallel()
	hostDir := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(filepath.Join(hostDir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "f"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "d", "secret"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileMode := func(m os.FileMode) *os.FileMode { return &m }
	u32 := func(v uint32) *uint32 { return &v }
	cases := []ociProcessCase{
		{name: "namespaces-new", script: ociNSScript, check: ociNSCheck("pid", "net", "ipc", "uts", "mnt")},
		{name: "namespaces-inherited", script: ociNSScript, edit: func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}}
			s.Hostname = "" // needs a UTS namespace
		}, check: ociNSCheck("mnt", "cgroup")},
		{name: "namespace-pid-1", script: "echo $$", check: want("1\n")},
		{name: "userns-mappings", script: "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox",
			edit: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			}, check: func(t *testing.T, out string) {
				l := runLines(out)
				// The rootfs is the host root's: unmapped, so the overflow uid.
				w := []string{"0 100000 65536", "0 200000 65536", "0", "65534"}
				for i := range l {
					l[i] = strings.Join(strings.Fields(l[i]), " ")
				}
				if strings.Join(l, "\n") != strings.Join(w, "\n") {
					t.Errorf("uid_map, gid_map, id -u, owner of /bin/busybox: %q, want %q", l, w)
				}
			}},
		{name: "mount-tmpfs-options", script: "cat /proc/self/mountinfo", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "nodev", "noexec", "size=1m", "mode=0700", "uid=5", "gid=6"}})
		}, check: func(t *testing.T, out string) {
			m, ok := runMountAt(runParseMountinfo(t, out), "/data")
			if !ok || m.fstype != "tmpfs" {
				t.Fatalf("no tmpfs at /data:\n%s", out)
			}
			for _, o := range []string{"nosuid", "nodev", "noexec"} {
				if !strings.Contains(","+m.opts+",", ","+o+",") {
					t.Errorf("/data options %q, want %s", m.opts, o)
				}
			}
			for _, o := range []string{"size=1024k", "mode=700", "uid=5", "gid=6"} {
				if !strings.Contains(","+m.superOpts+",", ","+o+",") {
					t.Errorf("/data tmpfs options %q, want %s", m.superOpts, o)
				}
			}
		}},
		{name: "mount-bind-ro", script: "cat /data/f; touch /data/new 2>/dev/null && echo writable || echo read-only",
			edit: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "none", Source: hostDir, Options: []string{"rbind", "ro"}})
			}, check: want("from host\nread-only\n")},
		{name: "mount-bind-rw", script: "echo made > /data/new && cat /data/new && rm /data/new",
			edit: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: hostDir, Options: []string{"bind", "rw"}})
			}, check: want("made\n")},
		// In the listed order: the second mount lands on the first.
		{name: "mounts-in-order", script: "ls /m; stat -c %a /m/sub", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/m", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}},
				specs.Mount{Destination: "/m/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=710"}})
		}, check: want("sub\n710\n")},
		{name: "mounts-default", script: "cat /proc/self/mountinfo", check: func(t *testing.T, out string) {
			ms := runParseMountinfo(t, out)
			for point, fstype := range map[string]string{"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts",
				"/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs"} {
				if m, ok := runMountAt(ms, point); !ok || m.fstype != fstype {
					t.Errorf("mount at %s: %+v, want %s", point, m, fstype)
				}
			}
			if m, _ := runMountAt(ms, "/sys"); !strings.HasPrefix(m.opts, "ro") {
				t.Errorf("/sys options %q, want ro", m.opts)
			}
		}},
		{name: "root-readonly", script: "touch /x 2>/dev/null && echo writable || echo read-only; cat /proc/self/mountinfo",
			check: func(t *testing.T, out string) {
				first, rest, _ := strings.Cut(out, "\n")
				if m, ok := runMountAt(runParseMountinfo(t, rest), "/"); first != "read-only" || !ok || !strings.HasPrefix(m.opts, "ro") {
					t.Errorf("root: %s, mount %+v, want read-only", first, m)
				}
			}},
		{name: "root-writable", script: "touch /x && echo writable && rm /x",
			edit: func(s *specs.Spec) { s.Root.Readonly = false }, check: want("writable\n")},
		// Files are masked with /dev/null, directories with an empty
		// read-only tmpfs (both from the host, whatever exists there).
		{name: "maskedPaths", script: "cat /data/f | wc -c; ls -A /data/d | wc -l; touch /data/d/x 2>/dev/null || echo ro",
			edit: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "none", Source: hostDir, Options: []string{"rbind", "rw"}})
				s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/data/f", "/data/d")
			}, check: want("0\n0\nro\n")},
		{name: "readonlyPaths", script: "cat /proc/self/mountinfo", edit: func(s *specs.Spec) {
			s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/tmp")
		}, check: func(t *testing.T, out string) {
			ms := runParseMountinfo(t, out)
			for _, p := range []string{"/proc/sys", "/proc/irq", "/tmp"} {
				if m, ok := runMountAt(ms, p); !ok || !strings.HasPrefix(m.opts, "ro") {
					t.Errorf("%s: %+v, want a read-only mount", p, m)
				}
			}
		}},
		{name: "sysctl", script: "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax",
			edit: func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789", "kernel.msgmax": "4321"}
			}, check: want("1\n123456789\n4321\n")},
		{name: "devices", script: "cd /dev; stat -c '%n %F %t %T %a %u %g' fuse loop200 qfifo; cd /x; stat -c '%n %t %T' null1",
			edit: func(s *specs.Spec) {
				s.Linux.Devices = []specs.LinuxDevice{
					{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: fileMode(0o640), UID: u32(0), GID: u32(5)},
					{Path: "/dev/loop200", Type: "b", Major: 7, Minor: 200, FileMode: fileMode(0o600), UID: u32(1), GID: u32(2)},
					{Path: "/dev/qfifo", Type: "p", FileMode: fileMode(0o644)},
					// Anywhere, not only in /dev.
					{Path: "/x/null1", Type: "c", Major: 1, Minor: 3, FileMode: fileMode(0o666)},
				}
				s.Root.Readonly = false
			}, check: want("fuse character special file a e5 640 0 5\n" +
				"loop200 block special file 7 c8 600 1 2\n" +
				"qfifo fifo 0 0 644 0 0\n" +
				"null1 1 3\n")},
		{name: "devices-default", script: "cd /dev; stat -c '%n %F %t %T' null zero full random urandom tty; test -e ptmx && echo ptmx; " +
			"for l in fd stdin stdout stderr; do echo $l $(readlink $l); done; echo hi > /dev/null && head -c 3 /dev/zero | wc -c",
			check: want("null character special file 1 3\nzero character special file 1 5\nfull character special file 1 7\n" +
				"random character special file 1 8\nurandom character special file 1 9\ntty character special file 5 0\nptmx\n" +
				"fd /proc/self/fd\nstdin /proc/self/fd/0\nstdout /proc/self/fd/1\nstderr /proc/self/fd/2\n3\n")},
		{name: "seccomp", script: "mkdir /tmp/x 2>&1 || echo denied; touch /tmp/y && echo touch-allowed",
			edit: func(s *specs.Spec) {
				eperm := uint(1)
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
					Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm}},
				}
			}, check: want("mkdir: can't create directory '/tmp/x': Operation not permitted\ndenied\ntouch-allowed\n")},
		{name: "personality", script: "uname -m", edit: func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		}, check: want("i686\n"), skip: []string{"runc"}, why: "runc 1.1.5 ignores linux.personality"},
		// resources.devices: the default deny holds for a node made in the
		// container (CAP_MKNOD given) of a device the host has (kmsg, 1:11),
		// while an allowed one (null, 1:3) works the same way.
		{name: "devices-cgroup", script: "mknod /null2 c 1 3; mknod /kmsg2 c 1 11; " +
			"echo x > /null2 && echo null2 opened; (: < /kmsg2) 2>&1",
			edit: func(s *specs.Spec) {
				s.Root.Readonly = false
				c := s.Process.Capabilities
				// CAP_SYSLOG: so that only the cgroup can refuse kmsg.
				c.Bounding = append(c.Bounding, "CAP_MKNOD", "CAP_SYSLOG")
				c.Effective = append(c.Effective, "CAP_MKNOD", "CAP_SYSLOG")
				c.Permitted = append(c.Permitted, "CAP_MKNOD", "CAP_SYSLOG")
			}, check: func(t *testing.T, out string) {
				if _, err := os.Stat("/dev/kmsg"); err != nil {
					t.Skip("no /dev/kmsg on the host")
				}
				if l := runLines(out); len(l) != 2 || l[0] != "null2 opened" || !strings.Contains(l[1], "Operation not permitted") {
					t.Errorf("output %q, want null2 opened and kmsg2 not permitted", out)
				}
			}},
	}
	ociRunCases(t, cases)
}

// sysctl in a container's namespaces leaves the host's values alone.
func TestOCISysctlHostUnchanged(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	before := readFile("/proc/sys/net/ipv4/ip_forward") + readFile("/proc/sys/kernel/shmmax")
	want := "1"
	if strings.HasPrefix(before, "1") {
		want = "0"
	}
	spec := shSpec("cat /proc/sys/net/ipv4/ip_forward")
	spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": want, "kernel.shmmax": "7654321"}
	if out := e.runSpec("sysctl", spec); out != want+"\n" {
		t.Errorf("container's ip_forward %q, want %s", out, want)
	}
	if after := readFile("/proc/sys/net/ipv4/ip_forward") + readFile("/proc/sys/kernel/shmmax"); after != before {
		t.Errorf("host's ip_forward and shmmax %q, were %q", after, before)
	}
}

// A namespace given by path is joined (here a network namespace made with
// `ip netns add`).
func TestOCINamespaceJoin(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	name := "oci-" + e.tag
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v: %s", err, out)
		}
	})
	path := "/run/netns/" + name
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	spec := shSpec("readlink /proc/self/ns/net; cat /sys/class/net/lo/operstate")
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			spec.Linux.Namespaces[i].Path = path
		}
	}
	out := runLines(e.runSpec("join", spec))
	if len(out) == 0 || out[0] != fmt.Sprintf("net:[%d]", st.Ino) {
		t.Errorf("container's netns %q, want net:[%d] (%s)", out, st.Ino, path)
	}
	// The namespace was not the runtime's to remove.
	if _, err := os.Stat(path); err != nil {
		t.Errorf("after delete: %v", err)
	}
}

// Bind mount propagation: with rslave a mount the host makes under the
// source later appears in the container; with rprivate it does not.
func TestOCIMountPropagation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prop, want string }{{"rslave", "flag\n"}, {"rprivate", ""}, {"rshared", "flag\n"}} {
		t.Run(tc.prop, func(t *testing.T) {
			t.Parallel()
			e := newOCIEnv(t)
			src, ctl := filepath.Join(e.dir, "shared"), filepath.Join(e.dir, "ctl")
			for _, d := range []string{filepath.Join(src, "sub"), ctl} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// src: a shared mount of its own, so that propagation is ours.
			if err := syscall.Mount(src, src, "", syscall.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				syscall.Unmount(filepath.Join(src, "sub"), syscall.MNT_DETACH)
				if err := syscall.Unmount(src, syscall.MNT_DETACH); err != nil {
					t.Errorf("umount %s: %v", src, err)
				}
			})
			if err := syscall.Mount("", src, "", syscall.MS_SHARED, ""); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "marker"), []byte("bound\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			spec := shSpec("cat /s/marker; echo ready; while [ ! -e /ctl/go ]; do sleep 0.02; done; ls /s/sub")
			spec.Mounts = append(spec.Mounts,
				specs.Mount{Destination: "/s", Type: "none", Source: src, Options: []string{"rbind", tc.prop}},
				specs.Mount{Destination: "/ctl", Type: "none", Source: ctl, Options: []string{"rbind"}})
			c := e.create("prop", spec)
			c.start()
			c.waitOut("ready")
			// The host mounts a tmpfs with a file under the source, then
			// lets the container look.
			if err := syscall.Mount("tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, "size=64k"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "sub", "flag"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ctl, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			c.waitStatus(specs.StateStopped)
			c.delete()
			if got := c.out(); got != "bound\nready\n"+tc.want {
				t.Errorf("the container's /s/marker, then /s/sub after the host's mount: %q, want bound, ready, %q", got, tc.want)
			}
		})
	}
}

// An exec joins a user-namespaced container's user namespace first (then
// the others, which it owns): the process is root there, with its mappings.
func TestOCIExecUserNamespace(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := shSpec("echo ready; exec sleep 1000")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	c := e.create("exec-userns", spec)
	c.start()
	c.waitOut("ready")
	own := procFileLink(t, c.state().Pid, "ns/user")
	out := runLines(e.ok("exec", c.id, "sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u"))
	for i := range out {
		out[i] = strings.Join(strings.Fields(out[i]), " ")
	}
	if w := []string{own, "0 100000 65536", "0"}; strings.Join(out, "\n") != strings.Join(w, "\n") {
		t.Errorf("exec: %q, want %q", out, w)
	}
}
