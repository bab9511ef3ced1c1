package rootfs

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEntryPath(t *testing.T) {
	tests := []struct {
		in, want string
		escape   bool
	}{
		{"bin/sh", "bin/sh", false},
		{"./bin/sh", "bin/sh", false},
		{"/bin/sh", "bin/sh", false},
		{"//bin//sh/", "bin/sh", false},
		{"./", ".", false},
		{"a/../b", "b", false},
		{"..", "", true},
		{"../x", "", true},
		{"./../x", "", true},
		{"/../x", "", true},
		{"a/../../x", "", true},
	}
	for _, tt := range tests {
		got, err := entryPath(tt.in)
		if tt.escape {
			if !errors.Is(err, errEscape) {
				t.Errorf("entryPath(%q) = %q, %v; want errEscape", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("entryPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckSymlink(t *testing.T) {
	tests := []struct {
		name, target string
		ok           bool
	}{
		{"bin/sh", "/bin/busybox", true},
		{"bin/sh", "busybox", true},
		{"usr/lib/a.so", "../../lib/a.so", true},
		{"a", ".", true},
		{"etc/x", "../../../etc", false},
		{"a", "..", false},
		{"a/b/c", "../../../x", false},
		{"a/b", "../b/../../x", false},
		{"a", "", false},
	}
	for _, tt := range tests {
		if err := checkSymlink(tt.name, tt.target); (err == nil) != tt.ok {
			t.Errorf("checkSymlink(%q, %q) = %v, want ok=%v", tt.name, tt.target, err, tt.ok)
		}
	}
}

// TestImportMalicious feeds archives that try to write outside the image, and checks each is
// refused with the entry named, touches nothing outside, and leaves nothing in the store.
func TestImportMalicious(t *testing.T) {
	outside := t.TempDir() // stands for the host's /etc
	tests := []struct {
		name    string
		entries []testEntry
		want    string
	}{
		{"dotdot file", []testEntry{{name: "../x", body: "pwned"}},
			`entry "../x": path escapes the image root`},
		{"dotdot inside path", []testEntry{{name: "a/../../x", body: "pwned"}},
			`entry "a/../../x": path escapes the image root`},
		{"dotdot after ./", []testEntry{{name: "./../x", body: "pwned"}},
			`entry "./../x": path escapes the image root`},
		{"dotdot after /", []testEntry{{name: "/../x", body: "pwned"}},
			`entry "/../x": path escapes the image root`},
		{"hard link out", []testEntry{{name: "passwd", typ: tar.TypeLink, link: "../../etc/passwd"}},
			`entry "passwd": hard link target "../../etc/passwd": path escapes the image root`},
		{"hard link to host path", []testEntry{{name: "passwd", typ: tar.TypeLink, link: "/etc/passwd"}},
			`entry "passwd": hard link target "/etc/passwd" is not a file extracted before it`},
		{"hard link forward", []testEntry{
			{name: "a", typ: tar.TypeLink, link: "b"},
			{name: "b", body: "x"},
		}, `entry "a": hard link target "b" is not a file extracted before it`},
		{"hard link to dir", []testEntry{
			{name: "d/", typ: tar.TypeDir, mode: 0o755},
			{name: "l", typ: tar.TypeLink, link: "d"},
		}, `entry "l": hard link target "d" is not a file extracted before it`},
		{"hard link through symlink", []testEntry{
			{name: "a", typ: tar.TypeSymlink, link: outside},
			{name: "l", typ: tar.TypeLink, link: "a/secret"},
		}, `entry "l": hard link target "a/secret" is not a file extracted before it`},
		{"symlink out", []testEntry{{name: "etc", typ: tar.TypeSymlink, link: "../../../etc"}},
			`entry "etc": symlink target "../../../etc": path escapes the image root`},
		{"nested symlink out", []testEntry{{name: "a/b/c", typ: tar.TypeSymlink, link: "../../../x"}},
			`entry "a/b/c": symlink target "../../../x": path escapes the image root`},
		{"file through symlink", []testEntry{
			{name: "a", typ: tar.TypeSymlink, link: outside},
			{name: "a/pwned", body: "pwned"},
		}, `entry "a/pwned": path goes through a symbolic link`},
		{"dir through symlink", []testEntry{
			{name: "a", typ: tar.TypeSymlink, link: outside},
			{name: "a/sub/", typ: tar.TypeDir, mode: 0o755},
		}, `entry "a/sub/": path goes through a symbolic link`},
		{"deep file through symlink", []testEntry{
			{name: "a", typ: tar.TypeSymlink, link: outside},
			{name: "a/new/deeper/pwned", body: "pwned"},
		}, `entry "a/new/deeper/pwned": path goes through a symbolic link`},
		{"symlink to self dir", []testEntry{
			{name: "a", typ: tar.TypeSymlink, link: "."},
			{name: "a/pwned", body: "pwned"},
		}, `entry "a/pwned": path goes through a symbolic link`},
		{"symlink through symlink", []testEntry{
			{name: "a", typ: tar.TypeSymlink, link: outside},
			{name: "a/evil", typ: tar.TypeSymlink, link: "/"},
		}, `entry "a/evil": path goes through a symbolic link`},
		{"device out", []testEntry{{name: "../null", typ: tar.TypeChar, mode: 0o666}},
			`entry "../null": path escapes the image root`},
		{"device through symlink", []testEntry{
			{name: "dev", typ: tar.TypeSymlink, link: outside},
			{name: "dev/sda", typ: tar.TypeBlock, mode: 0o666},
		}, `entry "dev/sda": path goes through a symbolic link`},
		{"fifo through symlink", []testEntry{
			{name: "run", typ: tar.TypeSymlink, link: outside},
			{name: "run/initctl", typ: tar.TypeFifo, mode: 0o600},
		}, `entry "run/initctl": path goes through a symbolic link`},
		{"device number out of range", []testEntry{{name: "dev/odd", typ: tar.TypeChar, mode: 0o600, major: 1 << 20}},
			`entry "dev/odd": device number 1048576:0 out of range`},
		{"unknown entry type", []testEntry{{name: "x", typ: 'Z'}},
			`entry "x": unsupported entry type 'Z'`},
		{"file under a file", []testEntry{
			{name: "f", body: "x"},
			{name: "f/g", body: "y"},
		}, `entry "f/g": open f: a parent is not a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			// A good entry first, so that the failure happens mid-extraction.
			entries := append([]testEntry{{name: "ok/file", body: "fine"}}, tt.entries...)
			for _, src := range []string{
				writeFile(t, makeTar(t, "", entries)),
				writeFile(t, gzipped(t, makeTar(t, "", entries))),
			} {
				_, err := s.Import("evil", src)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Import = %v\nwant error containing %s", err, tt.want)
				}
				if strings.Count(err.Error(), "\n") > 0 {
					t.Errorf("error spans several lines: %q", err)
				}
				wantStore(t, s)
				if _, err := s.Get("evil"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get after a refused import = %v, want ErrNotFound", err)
				}
			}
			if got, _ := os.ReadDir(outside); len(got) != 0 {
				t.Errorf("extraction wrote outside the image: %v", got)
			}
		})
	}
}

// TestExtractReplace checks tar's "last entry wins" for repeated names, including a symlink
// replaced by a directory: the new directory is real, so writing below it is fine.
func TestExtractReplace(t *testing.T) {
	outside := t.TempDir()
	data := makeTar(t, "", []testEntry{
		{name: "f", body: "old", mode: 0o644},
		{name: "f", body: "new", mode: 0o600},
		{name: "d/", typ: tar.TypeDir, mode: 0o700},
		{name: "d/", typ: tar.TypeDir, mode: 0o755},
		{name: "s", typ: tar.TypeSymlink, link: outside},
		{name: "s/", typ: tar.TypeDir, mode: 0o755},
		{name: "s/inside", body: "in", mode: 0o644},
	})
	root := t.TempDir()
	f, err := os.Open(writeFile(t, data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := extract(f, root)
	if err != nil {
		t.Fatalf("extract = %v", err)
	}
	if size != int64(len("newin")) {
		t.Errorf("size = %d, want %d", size, len("newin"))
	}
	checkTree(t, root, []testEntry{
		{name: "f", body: "new", mode: 0o600},
		{name: "d", typ: tar.TypeDir, mode: 0o755},
		{name: "s", typ: tar.TypeDir, mode: 0o755},
		{name: "s/inside", body: "in", mode: 0o644},
	})
	if got, _ := os.ReadDir(outside); len(got) != 0 {
		t.Errorf("extraction wrote outside the image: %v", got)
	}
	if _, err := os.Lstat(filepath.Join(root, "s", "inside")); err != nil {
		t.Error(err)
	}
}
