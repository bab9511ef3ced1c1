//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// xattrCap is a file capability (vfs_cap_data revision 2): cap_net_raw, effective, as
// `setcap cap_net_raw+ep` writes it.
func xattrCap() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<13)
	return b
}

// xattrSet writes security.capability and user.origin on p.
func xattrSet(t *testing.T, p string) {
	t.Helper()
	if err := unix.Setxattr(p, "user.origin", []byte("host"), 0); err != nil {
		t.Skipf("user xattrs on %s: %v", p, err)
	}
	if err := unix.Setxattr(p, "security.capability", xattrCap(), 0); err != nil {
		t.Fatal(err)
	}
}

// xattrCheck fails unless p has both attributes xattrSet writes.
func xattrCheck(t *testing.T, what, p string) {
	t.Helper()
	for name, want := range map[string][]byte{"user.origin": []byte("host"), "security.capability": xattrCap()} {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(p, name, buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Errorf("%s: %s is %x (%v), want %x", what, name, buf[:max(n, 0)], err, want)
		}
	}
}

// Extended attributes (file capabilities and user.*) go through cp both ways, export (as PAX
// SCHILY.xattr records, as Docker writes them) and image import.
func TestXattrs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := t.TempDir()
	src := filepath.Join(host, "ping")
	os.WriteFile(src, []byte("a binary\n"), 0o755)
	xattrSet(t, src)

	e.ok("run", "-d", "--name", "x", "--network", "none", "busybox", "sleep", "60")
	pid := e.runPid("x")
	e.ok("cp", src, "x:/ping")
	xattrCheck(t, "cp into a container", "/proc/"+strconv.Itoa(pid)+"/root/ping")
	out := filepath.Join(host, "out")
	e.ok("cp", "x:/ping", out)
	xattrCheck(t, "cp out of a container", out)

	tarball := filepath.Join(host, "x.tar")
	e.ok("export", "-o", tarball, "x")
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	found := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "ping" {
			found = true
			if hdr.PAXRecords["SCHILY.xattr.security.capability"] != string(xattrCap()) || hdr.PAXRecords["SCHILY.xattr.user.origin"] != "host" {
				t.Errorf("export: ping's PAX records %q", hdr.PAXRecords)
			}
		}
	}
	if !found {
		t.Fatal("export: no ping in the tar")
	}
	e.ok("rm", "-f", "x")

	// image import of a tar made by GNU tar with --xattrs: the stored image has them.
	dir := filepath.Join(host, "rootfs")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "ping"), []byte("a binary\n"), 0o755)
	xattrSet(t, filepath.Join(dir, "bin", "ping"))
	imp := filepath.Join(host, "imp.tar")
	if b, err := exec.Command("tar", "--xattrs", "--xattrs-include=*", "-C", dir, "-cf", imp, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, b)
	}
	e.ok("image", "import", "xattrs", imp)
	xattrCheck(t, "image import", filepath.Join(e.root, "images", "xattrs", "rootfs", "bin", "ping"))
}
