package rootfs

import (
	"archive/tar"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// testTree is a tree over a fresh directory holding etc/passwd and links that point out of it
// (absolute, climbing, dangling); the host's /etc stands outside.
func testTree(t *testing.T) (*Tree, string) {
	t.Helper()
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("inner\n"), 0o644)
	os.Symlink("/etc", filepath.Join(root, "abs"))
	os.Symlink("../../../../../../etc", filepath.Join(root, "up"))
	os.Symlink("/etc/hutch-tree-test", filepath.Join(root, "dangling"))
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tree, err := NewTree(fd)
	if err != nil {
		t.Fatal(err)
	}
	return tree, root
}

func tarBytes(t *testing.T, tree *Tree, p, name string, opt TarOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tree.WriteTar(tw, p, name, opt); err != nil {
		t.Fatalf("WriteTar(%s) = %v", p, err)
	}
	tw.Close()
	return buf.Bytes()
}

func tarContent(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b) + h.Linkname
	}
}

// TestTreeReadsInRoot: links that point out of the tree lead to its own files.
func TestTreeReadsInRoot(t *testing.T) {
	tree, _ := testTree(t)
	for _, p := range []string{"/abs/passwd", "/up/passwd", "abs/../up/passwd", "/../../etc/passwd"} {
		info, err := tree.Lstat(p)
		if err != nil || !info.Found || !info.Mode.IsRegular() {
			t.Errorf("Lstat(%s) = %+v, %v; want the tree's file", p, info, err)
			continue
		}
		if got := tarContent(t, tarBytes(t, tree, p, "passwd", TarOptions{})); got["passwd"] != "inner\n" {
			t.Errorf("WriteTar(%s) = %q, want the tree's passwd", p, got)
		}
	}
	// The last component is the link itself unless "/" or "/." follows it.
	if info, err := tree.Lstat("/abs"); err != nil || info.Link != "/etc" {
		t.Errorf("Lstat(/abs) = %+v, %v; want the link", info, err)
	}
	if info, err := tree.Lstat("/abs/"); err != nil || !info.IsDir() {
		t.Errorf("Lstat(/abs/) = %+v, %v; want the directory", info, err)
	}
	if info, err := tree.Lstat("/dangling"); err != nil || !info.Found || info.Link != "/etc/hutch-tree-test" {
		t.Errorf("Lstat(/dangling) = %+v, %v", info, err)
	}
	if info, err := tree.Lstat("/nope"); err != nil || info.Found {
		t.Errorf("Lstat(/nope) = %+v, %v; want not found", info, err)
	}
	if info, err := tree.Lstat("/nope/"); err != nil || info.Found {
		t.Errorf("Lstat(/nope/) = %+v, %v; want not found", info, err)
	}
	if _, err := tree.Lstat("/no/such"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Lstat(/no/such) = %v, want no such file", err)
	}
}

// TestTreeExtractCopyInRoot: a copy into the tree through links that point out of it writes
// the tree's files, never the host's.
func TestTreeExtractCopyInRoot(t *testing.T) {
	tree, root := testTree(t)
	data := makeTar(t, "", []testEntry{{name: "hutch-tree-test", body: "in", mode: 0o600, uid: 1234}})
	for _, dir := range []string{"/abs", "/up", "/abs/../up"} {
		if err := tree.ExtractCopy(bytes.NewReader(data), dir, CopyOptions{}); err != nil {
			t.Fatalf("ExtractCopy into %s = %v", dir, err)
		}
	}
	// A name under a link in the archive resolves in the tree too.
	data = makeTar(t, "", []testEntry{{name: "abs/hutch-tree-test2", body: "in2", mode: 0o644}})
	if err := tree.ExtractCopy(bytes.NewReader(data), "/", CopyOptions{Owner: &[2]int{0, 0}}); err != nil {
		t.Fatalf("ExtractCopy of abs/... = %v", err)
	}
	for _, p := range []string{"/etc/hutch-tree-test", "/etc/hutch-tree-test2"} {
		if _, err := os.Lstat(p); err == nil {
			os.Remove(p)
			t.Errorf("%s written on the host", p)
		}
	}
	checkTree(t, root, []testEntry{
		{name: "etc/hutch-tree-test", body: "in", mode: 0o600, uid: 1234},
		{name: "etc/hutch-tree-test2", body: "in2", mode: 0o644},
	})
}

// TestExtractCopyNoOverwrite: a copy never replaces a directory by a non-directory or the
// reverse; a file replaces a file, and directories merge.
func TestExtractCopyNoOverwrite(t *testing.T) {
	tree, root := testTree(t)
	for _, tt := range []struct {
		entries []testEntry
		want    string
	}{
		{[]testEntry{{name: "etc", body: "x"}}, `cannot overwrite directory "/etc" with a non-directory`},
		{[]testEntry{{name: "etc/passwd/", typ: tar.TypeDir, mode: 0o755}}, `cannot overwrite non-directory "/etc/passwd" with a directory`},
		{[]testEntry{{name: "abs/", typ: tar.TypeDir, mode: 0o755}}, `cannot overwrite non-directory "/abs" with a directory`},
	} {
		err := tree.ExtractCopy(bytes.NewReader(makeTar(t, "", tt.entries)), "/", CopyOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ExtractCopy(%v) = %v, want %s", tt.entries, err, tt.want)
		}
	}
	err := tree.ExtractCopy(bytes.NewReader(makeTar(t, "", []testEntry{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/passwd", body: "new", mode: 0o644},
	})), "/", CopyOptions{})
	if err != nil {
		t.Fatalf("ExtractCopy over a file = %v", err)
	}
	checkTree(t, root, []testEntry{{name: "etc/passwd", body: "new", mode: 0o644}})
}

// TestTreeRoundTrip: what WriteTar writes, ExtractCopy makes again: modes, owners, hard
// links, symlinks, fifos and devices; sockets are left out.
func TestTreeRoundTrip(t *testing.T) {
	src := t.TempDir()
	entries := []testEntry{
		{name: "d/", typ: tar.TypeDir, mode: 0o750, uid: 7, gid: 8},
		{name: "d/f", body: "data", mode: 0o4755, uid: 1, gid: 2},
		{name: "d/h", typ: tar.TypeLink, link: "d/f"},
		{name: "d/s", typ: tar.TypeSymlink, link: "/etc/passwd"},
		{name: "d/p", typ: tar.TypeFifo, mode: 0o600},
		{name: "d/null", typ: tar.TypeChar, mode: 0o666},
	}
	if _, err := extract(bytes.NewReader(makeTar(t, "", entries)), src); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(src, "d", "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, _ := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	defer unix.Close(fd)
	tree, err := NewTree(fd)
	if err != nil {
		t.Fatal(err)
	}
	data := tarBytes(t, tree, "/d", "d", TarOptions{})
	dst := t.TempDir()
	if err := ExtractCopy(bytes.NewReader(data), dst, CopyOptions{}); err != nil {
		t.Fatalf("ExtractCopy = %v", err)
	}
	if a, b := treeListing(t, src), treeListing(t, dst); !slices.Equal(slices.DeleteFunc(a, func(s string) bool { return strings.HasPrefix(s, "d/sock ") }), b) {
		t.Errorf("round trip:\n%q\nwant\n%q", b, a)
	}
	checkTree(t, dst, entries[1:]) // d/ itself got the socket, a new mtime
	// "." writes the content alone; Owner replaces every owner.
	names := tarContent(t, tarBytes(t, tree, "/d/.", ".", TarOptions{Owner: &[2]int{0, 0}}))
	if _, ok := names["f"]; !ok || len(names) != 5 {
		t.Errorf("WriteTar(/d/., .) = %q, want the 5 entries of d", names)
	}
}

// TestExtractCopyKernelFS: a link in the tree that leads into a kernel filesystem mounted in
// it (a container's /proc or /sys) stops a copy there.
func TestExtractCopyKernelFS(t *testing.T) {
	tree, root := testTree(t)
	mnt := filepath.Join(root, "sysfs")
	os.Mkdir(mnt, 0o755)
	if err := unix.Mount("sysfs", mnt, "sysfs", unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	os.Symlink("/sysfs/kernel", filepath.Join(root, "k"))
	data := makeTar(t, "", []testEntry{{name: "k/x", body: "x", mode: 0o644}})
	err := tree.ExtractCopy(bytes.NewReader(data), "/", CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "/k is on a kernel filesystem") {
		t.Errorf("ExtractCopy through a link into sysfs = %v", err)
	}
}
