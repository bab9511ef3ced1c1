package runtime

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestNewSpec(t *testing.T) {
	s := newSpec(specInput{
		ID: "abc", Dir: "/var/lib/hutch/containers/abc", LowerDir: "/img",
		Args: []string{"sh", "-c", "true"}, Env: []string{"A=1", "PATH=/bin"},
		Hostname: "h", UID: 1000, GID: 1000, Home: "/home/user", Network: "none",
		HostNofileHard: 20000,
	})
	if got := s.Root.Path; got != "/var/lib/hutch/containers/abc/rootfs" {
		t.Errorf("root = %q", got)
	}
	wantEnv := []string{"PATH=/bin", "HOSTNAME=h", "HOME=/home/user", "A=1"}
	if !reflect.DeepEqual(s.Process.Env, wantEnv) {
		t.Errorf("env = %q, want %q", s.Process.Env, wantEnv)
	}
	if s.Process.Cwd != "/" {
		t.Errorf("cwd = %q, want /", s.Process.Cwd)
	}
	if r := s.Process.Rlimits[0]; r.Hard != 20000 || r.Soft != 20000 {
		t.Errorf("nofile = %+v, want capped at the host's 20000", r)
	}
	if s.Linux.CgroupsPath != "/hutch/abc" {
		t.Errorf("cgroups path = %q", s.Linux.CgroupsPath)
	}
	if len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
		t.Error("unprivileged spec has no masked or read-only paths")
	}
	flags, err := cloneFlags(s.Linux.Namespaces)
	if err != nil {
		t.Fatal(err)
	}
	want := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET)
	if flags != want {
		t.Errorf("clone flags = %#x, want %#x (cgroup ns is unshared by init)", flags, want)
	}
}

func TestNewSpecVariants(t *testing.T) {
	host := newSpec(specInput{Network: "host", Privileged: true, ReadOnly: true, Init: true, Tty: true, HostNofileHard: 1 << 30})
	for _, ns := range host.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			t.Error("host network spec has a network namespace")
		}
	}
	if host.Linux.MaskedPaths != nil {
		t.Error("privileged spec masks paths")
	}
	if !host.Root.Readonly || host.Annotations[annotInit] != "true" || !host.Process.Terminal {
		t.Error("read-only, init or terminal lost")
	}
	if r := host.Process.Rlimits[0]; r.Hard != maxNofile {
		t.Errorf("nofile = %d, want Docker's %d when the host allows more", r.Hard, maxNofile)
	}
	if _, err := cloneFlags([]specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}}); err == nil {
		t.Error("joining a namespace path accepted")
	}
}

func TestMountOptions(t *testing.T) {
	flags, data := mountOptions([]string{"nosuid", "rw", "mode=755", "size=65536k", "ro", "rbind"})
	want := unix.MS_NOSUID | unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC
	if flags != want || data != "mode=755,size=65536k" {
		t.Errorf("mountOptions = %#x %q, want %#x %q", flags, data, want, "mode=755,size=65536k")
	}
}
