//go:build integration

package integration

import (
	"archive/tar"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestImageImportReal: a root filesystem as mmdebstrap or debootstrap makes it has device nodes
// and fifos; they are made as in the tar (the image's /dev stays under the container's own), and
// a container runs from it. A socket in a directory source is left out.
func TestImageImportReal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tmp := t.TempDir()
	entries := append(imgRootfsEntries(t),
		imgEntry{name: "./dev/", typ: tar.TypeDir},
		imgEntry{name: "./dev/null", typ: tar.TypeChar, mode: 0o666},
		imgEntry{name: "./dev/loop0", typ: tar.TypeBlock, mode: 0o660},
		imgEntry{name: "./opt/null", typ: tar.TypeChar, mode: 0o666},
		imgEntry{name: "./run/initctl", typ: tar.TypeFifo, mode: 0o600},
	)
	path := filepath.Join(tmp, "real.tar")
	imgTar(t, path, entries)
	e.ok("image", "import", "real", path)
	// The image's nodes, as made on disk.
	root := filepath.Join(e.root, "images", "real", "rootfs")
	for _, n := range []struct {
		name string
		typ  uint32
		mode uint32
	}{{"dev/null", unix.S_IFCHR, 0o666}, {"dev/loop0", unix.S_IFBLK, 0o660}, {"opt/null", unix.S_IFCHR, 0o666}, {"run/initctl", unix.S_IFIFO, 0o600}} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, n.name), &st); err != nil || st.Mode&unix.S_IFMT != n.typ || st.Mode&0o7777 != n.mode {
			t.Errorf("%s in the image: mode %#o, %v; want type %#o mode %#o", n.name, st.Mode, err, n.typ, n.mode)
		}
		if n.typ != unix.S_IFIFO && st.Rdev != unix.Mkdev(1, 3) { // imgTar gives every device 1:3
			t.Errorf("%s: device %d:%d, want 1:3", n.name, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
	}
	got := e.ok("run", "--rm", "real", "sh", "-c",
		"echo gone > /opt/null && stat -c '%F %t:%T %a' /opt/null; test -p /run/initctl && echo fifo; test -e /dev/loop0 || echo own-dev")
	if want := "character special file 1:3 666\nfifo\nown-dev"; got != want {
		t.Errorf("run from the imported rootfs = %q, want %q", got, want)
	}

	// A directory source: the same nodes through the same extraction; its socket is left out.
	dir := filepath.Join(tmp, "rootfs")
	lcMinimalRootfs(t, dir)
	if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e.ok("image", "import", "realdir", dir)
	got = e.ok("run", "--rm", "realdir", "sh", "-c", "stat -c %F /null /fifo; test -e /sock || echo no-socket")
	if want := "character special file\nfifo\nno-socket"; got != want {
		t.Errorf("run from the imported directory = %q, want %q", got, want)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sock")); err != nil {
		t.Errorf("import changed its source: %v", err)
	}
	if left := imgLeftovers(e.root, "real", "realdir"); len(left) != 0 {
		t.Errorf("under images/: %v", left)
	}
}
