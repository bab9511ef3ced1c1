//go:build integration

package integration

// config.md's idmapped mounts: mounts[].uidMappings/gidMappings and the
// idmap and ridmap options, on bind mounts.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const idmapWhy = "runc 1.1.5 has no idmapped mounts (runc 1.2 does): it ignores their fields"

// idmapSource is a directory on the scratch dir's filesystem (ext4 here)
// holding file, owned by uid:gid, and an empty directory sub.
func idmapSource(t *testing.T, e *ociEnv, uid, gid int) string {
	t.Helper()
	src := filepath.Join(e.dir, "idmap-src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o777); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(src, "file")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(f, uid, gid); err != nil {
		t.Fatal(err)
	}
	return src
}

// owner is uid:gid of path on the host.
func owner(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// A file owned by host uid 1000 in the source shows as uid 0 through the
// mount's mapping (1000 inside the source is 0 on the mount); a file made
// through it is stored the other way round, as 1000.
func TestOCIIdmapMount(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(idmapWhy, "runc")
	src := idmapSource(t, e, 1000, 1001)
	spec := shSpec("stat -c '%u:%g' /data/file; touch /data/made; stat -c '%u:%g' /data/made; grep ' /data ' /proc/self/mountinfo")
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: src,
		Options: []string{"rbind", "idmap", "nosuid"},
		// Swapped both ways: the kernel refuses a write to a directory
		// whose owner (root, here) the mapping leaves unmapped.
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 0, Size: 1}, {ContainerID: 0, HostID: 1000, Size: 1}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 1001, HostID: 0, Size: 1}, {ContainerID: 0, HostID: 1001, Size: 1}}})
	out := runLines(e.runSpec("idmap", spec))
	if len(out) != 3 || out[0] != "0:0" || out[1] != "0:0" {
		t.Fatalf("output %q: want the file and the one made as 0:0", out)
	}
	if !strings.Contains(out[2], "idmapped") || !strings.Contains(out[2], "nosuid") {
		t.Errorf("mountinfo %q: want an idmapped, nosuid mount", out[2])
	}
	if got := owner(t, filepath.Join(src, "made")); got != "1000:1001" {
		t.Errorf("the file made through the mount is %s on the host, want 1000:1001", got)
	}
}

// idmap without mappings of its own: the container's user namespace's.
// The source's root-owned file, unmapped in the container (the overflow
// uid 65534) without it, is the container's root's through it.
func TestOCIIdmapMountUserns(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(idmapWhy, "runc")
	src := idmapSource(t, e, 0, 0)
	// Onto directories the rootfs has: the container's root may not make
	// them in the host root's rootfs.
	spec := shSpec("stat -c '%u:%g' /tmp/file /root/file")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
		specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: []string{"bind"}})
	if got := runLines(e.runSpec("idmap-userns", spec)); strings.Join(got, " ") != "0:0 65534:65534" {
		t.Errorf("owners %q: want 0:0 through the idmapped mount, 65534:65534 through the plain one", got)
	}
}

// ridmap maps the mounts under an rbind too; idmap the top one only.
func TestOCIRidmapMount(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor(idmapWhy, "runc")
	src := idmapSource(t, e, 1000, 1000)
	sub := filepath.Join(src, "sub")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,uid=1000,gid=1000", "idmap-test", sub).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	maps := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 0, Size: 1}}
	spec := shSpec("stat -c %u /r/file /r/sub /i/file /i/sub")
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/r", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}, UIDMappings: maps, GIDMappings: maps},
		specs.Mount{Destination: "/i", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}, UIDMappings: maps, GIDMappings: maps})
	if got := runLines(e.runSpec("ridmap", spec)); strings.Join(got, " ") != "0 0 0 1000" {
		t.Errorf("owners %q: want 0 0 0 1000 (ridmap maps the tmpfs under it; idmap does not)", got)
	}
}
