//go:build integration

package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImageLs: image ls has Docker's columns and shows busybox once used.
func TestImageLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("image", "ls")
	ls := lcLines(out)
	want := []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}
	if len(ls) != 1 || !slices.Equal(lcColumnSep.Split(ls[0], -1), want) {
		t.Errorf("image ls on a fresh root = %q, want only the header %q", out, want)
	}
	e.ok("run", "--rm", "busybox", "true")
	ls = lcLines(e.ok("image", "ls"))
	if len(ls) != 2 {
		t.Fatalf("image ls after using busybox: %q", ls)
	}
	row := lcColumnSep.Split(ls[1], -1)
	if len(row) != 5 || row[0] != "busybox" || row[1] != "latest" || !lcShortID.MatchString(row[2]) ||
		!strings.HasSuffix(row[3], " ago") || !strings.HasSuffix(row[4], "B") {
		t.Errorf("image ls busybox row = %q", row)
	}
	// "image list" is an alias, and busybox:latest names busybox.
	if out2 := e.ok("image", "list"); len(lcLines(out2)) != 2 {
		t.Errorf("image list = %q", out2)
	}
	if out := e.ok("run", "--rm", "busybox:latest", "echo", "tagged"); out != "tagged" {
		t.Errorf("run busybox:latest = %q", out)
	}
}

// TestImageImport: a rootfs directory, a tar and a tar.gz import as images
// that run.
func TestImageImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "rootfs")
	lcMinimalRootfs(t, dir)
	imgTar(t, filepath.Join(tmp, "x.tar"), imgRootfsEntries(t))
	imgTar(t, filepath.Join(tmp, "x.tar.gz"), imgRootfsEntries(t))

	for _, src := range []struct{ name, path string }{
		{"fromdir", dir}, {"fromtar", filepath.Join(tmp, "x.tar")}, {"fromtgz", filepath.Join(tmp, "x.tar.gz")},
	} {
		out := e.ok("image", "import", src.name, src.path)
		if !lcFullID.MatchString(out) {
			t.Errorf("image import %s prints %q, want a 64-hex id", src.name, out)
		}
		if got := e.ok("run", "--rm", src.name, "sh", "-c", "echo ok"); got != "ok" {
			t.Errorf("run --rm %s sh -c 'echo ok' = %q", src.name, got)
		}
		// The image is the lower layer: a container's changes stay in the container.
		e.ok("run", "--rm", src.name, "sh", "-c", "echo changed > /bin/busybox-note; rm /bin/sh")
		if got := e.ok("run", "--rm", src.name, "sh", "-c", "test -e /bin/busybox-note || echo clean"); got != "clean" {
			t.Errorf("%s: a container's change reached the image: %q", src.name, got)
		}
	}
	ls := e.ok("image", "ls")
	for _, n := range []string{"fromdir", "fromtar", "fromtgz"} {
		if !strings.Contains(ls, "\n"+n+" ") {
			t.Errorf("image ls does not list %s:\n%s", n, ls)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin", "sh")); err != nil {
		t.Errorf("import changed its source dir: %v", err)
	}
	if left := imgLeftovers(e.root, "fromdir", "fromtar", "fromtgz"); len(left) != 0 {
		t.Errorf("under images/: %v", left)
	}

	// Bad input: one line, exit 1, nothing made.
	e.fails(1, "fromdir", "image", "import", "fromdir", dir)
	e.fails(1, "no/such", "image", "import", "other", filepath.Join(tmp, "no/such"))
	e.fails(1, "bad/name", "image", "import", "bad/name", dir)
	empty := filepath.Join(tmp, "empty.tar")
	imgTar(t, empty, nil)
	e.fails(1, "empty", "image", "import", "emptyimg", empty)
	e.fails(125, "nosuchimage", "run", "--rm", "--pull", "never", "nosuchimage", "true")
	if left := imgLeftovers(e.root, "fromdir", "fromtar", "fromtgz"); len(left) != 0 {
		t.Errorf("under images/ after failed imports: %v", left)
	}
}

// TestImageImportMalicious: archives that try to write outside the image
// (also with a device node or a fifo) are refused with one line naming the entry, and leave
// nothing behind.
func TestImageImportMalicious(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	// The archive is extracted somewhere under <root>/images; from there,
	// enough ../ reach the filesystem root and then the outside dir.
	climb := strings.Repeat("../", 20) + strings.TrimPrefix(outside, "/")
	base := imgRootfsEntries(t)
	cases := []struct {
		name    string
		entries []imgEntry
		want    string // in the error: the entry's name
	}{
		{"dotdot", []imgEntry{{name: "../escape", typ: tar.TypeReg, body: "x"}}, "../escape"},
		{"deepdotdot", []imgEntry{{name: "bin/../../escape", typ: tar.TypeReg, body: "x"}}, "bin/../../escape"},
		{"climb", []imgEntry{{name: climb + "/climbed", typ: tar.TypeReg, body: "x"}}, "climbed"},
		{"abslink", []imgEntry{
			{name: "a", typ: tar.TypeSymlink, linkname: outside},
			{name: "a/owned", typ: tar.TypeReg, body: "owned"},
		}, "a/owned"},
		{"etclink", []imgEntry{
			{name: "a", typ: tar.TypeSymlink, linkname: "/etc"},
			{name: "a/hutch-import-owned", typ: tar.TypeReg, body: "owned"},
		}, "a/hutch-import-owned"},
		{"rellink", []imgEntry{{name: "up", typ: tar.TypeSymlink, linkname: "../../.."}}, "up"},
		{"rellinkdir", []imgEntry{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/up", typ: tar.TypeSymlink, linkname: "../.."},
			{name: "d/up/owned", typ: tar.TypeReg, body: "owned"},
		}, "d/up"},
		{"hardlink", []imgEntry{{name: "pw", typ: tar.TypeLink, linkname: "/etc/passwd"}}, "pw"},
		{"hardlinkup", []imgEntry{{name: "pw", typ: tar.TypeLink, linkname: "../../../../../../etc/passwd"}}, "pw"},
		{"devlink", []imgEntry{
			{name: "d", typ: tar.TypeSymlink, linkname: outside},
			{name: "d/null", typ: tar.TypeChar},
		}, "d/null"},
		{"devup", []imgEntry{{name: "../null", typ: tar.TypeChar}}, "../null"},
	}
	for _, tc := range cases {
		for _, ext := range []string{".tar", ".tar.gz"} {
			path := filepath.Join(tmp, tc.name+ext)
			// A valid rootfs first, so the bad entry comes after real work was done.
			imgTar(t, path, append(slices.Clone(base), tc.entries...))
			img := "bad-" + tc.name
			r := e.fails(1, tc.want, "image", "import", img, path)
			if r.stdout != "" {
				t.Errorf("%s%s: stdout %q", tc.name, ext, r.stdout)
			}
			if _, err := os.Lstat(filepath.Join(e.root, "images", img)); !os.IsNotExist(err) {
				t.Errorf("%s%s: images/%s exists after a refused import", tc.name, ext, img)
			}
			if left := imgLeftovers(e.root); len(left) != 0 {
				t.Errorf("%s%s: left under images/: %v", tc.name, ext, left)
			}
			if ls := lcLines(e.ok("image", "ls")); len(ls) != 1 {
				t.Errorf("%s%s: image ls lists %q", tc.name, ext, ls[1:])
			}
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("files written outside the image: %v", ents)
	}
	for _, p := range []string{"/etc/hutch-import-owned", filepath.Join(e.root, "escape"), filepath.Join(e.root, "images", "..", "escape"), "/escape", "/climbed"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s written by a refused import", p)
			if p == "/etc/hutch-import-owned" || p == "/escape" || p == "/climbed" {
				os.Remove(p)
			}
		}
	}
	// Absolute names and absolute symlinks are fine inside the image, as in docker export.
	ok := filepath.Join(tmp, "abs.tar")
	imgTar(t, ok, append(slices.Clone(base),
		imgEntry{name: "/etc/abs", typ: tar.TypeReg, body: "inside\n"},
		imgEntry{name: "etc/mtab", typ: tar.TypeSymlink, linkname: "/proc/mounts"},
		imgEntry{name: "bin/ash", typ: tar.TypeLink, linkname: "./bin/busybox"}))
	e.ok("image", "import", "absok", ok)
	if out := e.ok("run", "--rm", "absok", "sh", "-c", "cat /etc/abs; ash -c 'echo hl'; stat -c %h /bin/ash; readlink /etc/mtab"); out != "inside\nhl\n2\n/proc/mounts" {
		t.Errorf("run of an image with absolute names = %q", out)
	}
	if _, err := os.Lstat("/etc/abs"); err == nil {
		t.Error("/etc/abs written on the host")
	}
}
