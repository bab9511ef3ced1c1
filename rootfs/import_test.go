package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testEntry describes one tar entry; typ 0 means a regular file.
type testEntry struct {
	name     string
	typ      byte
	body     string
	link     string
	mode     int64
	uid, gid int
	// major and minor of a device entry; both 0 means 1:3 (/dev/null)
	major, minor int64
}

var testMtime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture covers what a real rootfs holds: special mode bits, owners, both kinds of links,
// a fifo, and a file whose parent directories have no entries of their own.
var fixture = []testEntry{
	{name: "bin/", typ: tar.TypeDir, mode: 0o755},
	{name: "bin/tool", body: "#!/bin/sh\necho tool\n", mode: 0o4755},
	{name: "bin/alias", typ: tar.TypeLink, link: "bin/tool"},
	{name: "bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox"},
	{name: "srv/", typ: tar.TypeDir, mode: 0o2775, gid: 50},
	{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	{name: "usr/lib/libx.so", typ: tar.TypeSymlink, link: "../../bin/tool"},
	{name: "home/u/file", body: "data", mode: 0o640, uid: 1234, gid: 5678},
	{name: "run/fifo", typ: tar.TypeFifo, mode: 0o620},
	{name: "empty/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
}

// fixtureSize counts bin/tool and home/u/file; the hard link shares bin/tool's bytes.
const fixtureSize = int64(len("#!/bin/sh\necho tool\n") + len("data"))

// makeTar builds a tar in memory; prefix ("", "./", "/") is put before every name.
func makeTar(t *testing.T, prefix string, entries []testEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: prefix + e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: testMtime, Format: tar.FormatPAX,
		}
		if e.typ == 0 {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.body))
		}
		if e.typ == tar.TypeLink && prefix != "" {
			hdr.Linkname = prefix + e.link
		}
		if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
			hdr.Devmajor, hdr.Devminor = devNumbers(e)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func devNumbers(e testEntry) (major, minor int64) {
	if e.major == 0 && e.minor == 0 {
		return 1, 3
	}
	return e.major, e.minor
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeTree creates entries as real files in a fresh directory, as a rootfs on disk would be.
func writeTree(t *testing.T, entries []testEntry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(root, e.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.typ {
		case 0:
			err = os.WriteFile(p, []byte(e.body), 0o600)
		case tar.TypeDir:
			err = os.Mkdir(p, 0o700)
		case tar.TypeSymlink:
			err = os.Symlink(e.link, p)
		case tar.TypeLink:
			err = os.Link(filepath.Join(root, e.link), p)
		case tar.TypeFifo:
			err = unix.Mkfifo(p, 0o600)
		default:
			t.Fatalf("writeTree: type %q", e.typ)
		}
		if err == nil && e.typ != tar.TypeLink {
			err = os.Lchown(p, e.uid, e.gid)
		}
		if err == nil && e.typ != tar.TypeLink && e.typ != tar.TypeSymlink {
			err = unix.Chmod(p, uint32(e.mode))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := len(entries) - 1; i >= 0; i-- { // children first: they change their parent's mtime
		ts := unix.NsecToTimespec(testMtime.UnixNano())
		err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, entries[i].name), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// checkTree verifies that root holds entries with their types, modes, owners, content and mtimes.
func checkTree(t *testing.T, root string, entries []testEntry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, e.name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", e.name, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		switch e.typ {
		case tar.TypeLink:
			tfi, err := os.Lstat(filepath.Join(root, e.link))
			if err != nil || !os.SameFile(fi, tfi) {
				t.Errorf("%s: not a hard link to %s (%v)", e.name, e.link, err)
			}
			continue
		case tar.TypeSymlink:
			if got, err := os.Readlink(p); err != nil || got != e.link {
				t.Errorf("%s: link = %q, %v; want %q", e.name, got, err, e.link)
			}
		default:
			if got := int64(st.Mode & 0o7777); got != e.mode {
				t.Errorf("%s: mode = %#o, want %#o", e.name, got, e.mode)
			}
		}
		if want := map[byte]uint32{0: unix.S_IFREG, tar.TypeDir: unix.S_IFDIR, tar.TypeSymlink: unix.S_IFLNK, tar.TypeFifo: unix.S_IFIFO,
			tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK}[e.typ]; st.Mode&unix.S_IFMT != want {
			t.Errorf("%s: file type = %#o, want %#o", e.name, st.Mode&unix.S_IFMT, want)
		}
		if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
			major, minor := devNumbers(e)
			if got, want := st.Rdev, unix.Mkdev(uint32(major), uint32(minor)); got != want {
				t.Errorf("%s: device %d:%d, want %d:%d", e.name, unix.Major(got), unix.Minor(got), major, minor)
			}
		}
		if int(st.Uid) != e.uid || int(st.Gid) != e.gid {
			t.Errorf("%s: owner = %d:%d, want %d:%d", e.name, st.Uid, st.Gid, e.uid, e.gid)
		}
		if !fi.ModTime().Equal(testMtime) {
			t.Errorf("%s: mtime = %v, want %v", e.name, fi.ModTime(), testMtime)
		}
		if e.typ == 0 {
			if got, err := os.ReadFile(p); err != nil || string(got) != e.body {
				t.Errorf("%s: content = %q, %v; want %q", e.name, got, err, e.body)
			}
		}
	}
}

func TestImport(t *testing.T) {
	plain := makeTar(t, "", fixture)
	tests := []struct {
		name string
		src  func(t *testing.T) string
	}{
		{"directory", func(t *testing.T) string { return writeTree(t, fixture) }},
		{"tar", func(t *testing.T) string { return writeFile(t, plain) }},
		{"tar with ./ names", func(t *testing.T) string { return writeFile(t, makeTar(t, "./", fixture)) }},
		{"tar with / names", func(t *testing.T) string { return writeFile(t, makeTar(t, "/", fixture)) }},
		// Named .tar on purpose: gzip is detected by its magic bytes.
		{"tar.gz", func(t *testing.T) string { return writeFile(t, gzipped(t, plain)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			src := tt.src(t)
			img, err := s.Import("img:latest", src)
			if err != nil {
				t.Fatalf("Import = %v", err)
			}
			if img.Name != "img" || len(img.ID) != 64 || img.Source != src || img.Size != fixtureSize {
				t.Errorf("Import = %+v, want name img, 64-hex id, source %s, size %d", img, src, fixtureSize)
			}
			if got, err := s.Get("img"); err != nil || !reflect.DeepEqual(got, img) {
				t.Errorf("Get = %+v, %v; want %+v", got, err, img)
			}
			root := s.RootfsPath("img")
			if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("rootfs dir: %v, %v; want mode 0755", fi, err)
			}
			checkTree(t, root, fixture)
			wantStore(t, s, "img")
		})
	}
}

func TestImportRefused(t *testing.T) {
	s := newTestStore(t)
	src := writeTree(t, []testEntry{{name: "f", body: "x", mode: 0o644}})
	if _, err := s.Import("a", src); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, image, src, want string
	}{
		{"existing name", "a", src, `image "a" already exists`},
		{"bad name", "a/b", src, "invalid image name"},
		{"missing source", "b", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"empty tar", "b", writeFile(t, makeTar(t, "", nil)), "empty image"},
		{"root entry only", "b", writeFile(t, makeTar(t, "", []testEntry{{name: "./", typ: tar.TypeDir, mode: 0o755}})), "empty image"},
		{"empty file", "b", writeFile(t, nil), "empty image"},
		{"empty directory", "b", t.TempDir(), "empty image"},
		{"not a tar", "b", writeFile(t, bytes.Repeat([]byte("junk"), 200)), "read archive"},
		{"xz", "b", writeFile(t, []byte("\xfd7zXZ\x00rest")), "unsupported compression"},
		{"store inside source", "b", filepath.Dir(s.dir), "contains the image store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Import(tt.image, tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import(%q, %q) = %v, want error containing %q", tt.image, tt.src, err, tt.want)
			}
			wantStore(t, s, "a")
		})
	}
}

// TestImportDevices imports what a real root filesystem holds beside files: device nodes and
// fifos are made with their numbers, owners and modes; a pax global header is metadata.
func TestImportDevices(t *testing.T) {
	s := newTestStore(t)
	entries := []testEntry{
		{name: "dev/", typ: tar.TypeDir, mode: 0o755},
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "dev/tty", typ: tar.TypeChar, mode: 0o666, major: 5, minor: 0, gid: 5},
		{name: "dev/loop0", typ: tar.TypeBlock, mode: 0o660, major: 7, minor: 0, gid: 6},
		{name: "dev/initctl", typ: tar.TypeFifo, mode: 0o600},
		{name: "dev/null2", typ: tar.TypeLink, link: "dev/null"},
	}
	data := makeTar(t, "./", entries)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}}); err != nil {
		t.Fatal(err)
	}
	tw.Flush()
	data = append(buf.Bytes(), data...)
	if _, err := s.Import("devs", writeFile(t, data)); err != nil {
		t.Fatalf("Import = %v", err)
	}
	checkTree(t, s.RootfsPath("devs"), entries[1:])
}

// TestImportDirDevice imports a directory holding a device node, a fifo and a socket, through
// the same extraction as a tar: the node and the fifo are kept, the socket is left out (only
// the process that bound it could use it), as Docker's archives leave sockets out.
func TestImportDirDevice(t *testing.T) {
	s := newTestStore(t)
	src := t.TempDir()
	if err := unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "null"), 0o666); err != nil { // beat the umask
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := s.Import("dev", src); err != nil {
		t.Fatalf("Import of a dir with a device = %v", err)
	}
	root := s.RootfsPath("dev")
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o7777 != 0o666 {
		t.Errorf("null: mode %#o rdev %#x, %v; want a character device 1:3 0666", st.Mode, st.Rdev, err)
	}
	if err := unix.Lstat(filepath.Join(root, "fifo"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: mode %#o, %v; want a fifo", st.Mode, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sock: %v, want it left out", err)
	}
}

// TestImportGNUTar imports busybox as GNU tar archives it ("./" names, a root entry, its own
// header flavour), the way users make images by hand, and expects the same tree back.
func TestImportGNUTar(t *testing.T) {
	s := newTestStore(t)
	bb, err := s.Get("busybox")
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "bb.tgz")
	if out, err := exec.Command("tar", "-C", s.RootfsPath("busybox"), "-czf", archive, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	img, err := s.Import("bb2", archive)
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	if img.Size != bb.Size {
		t.Errorf("Size = %d, want %d as for busybox", img.Size, bb.Size)
	}
	a, b := treeListing(t, s.RootfsPath("busybox")), treeListing(t, s.RootfsPath("bb2"))
	if !slices.Equal(a, b) {
		t.Errorf("imported tree differs:\n%q\nwant\n%q", b, a)
	}
}

// treeListing describes every file under root by path, mode, owner and link target.
func treeListing(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		link, _ := os.Readlink(p)
		rel, _ := filepath.Rel(root, p)
		out = append(out, fmt.Sprintf("%s %v %d:%d %d %s", rel, fi.Mode(), st.Uid, st.Gid, fi.Size(), link))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
