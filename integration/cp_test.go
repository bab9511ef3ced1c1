//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cpTree lists the files under dir as "path content" (directories end in /), sorted.
func cpTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.IsDir():
			out = append(out, rel+"/")
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+strings.TrimSpace(string(b)))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func cpWant(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// cpSetup starts a container holding /d (a directory with a file, a subdirectory and a link)
// and /f, and returns its name.
func (e *env) cpSetup(name string) string {
	e.ok("run", "-d", "--name", name, "busybox", "sh", "-c",
		"mkdir -p /d/sub && echo one > /d/a && echo two > /d/sub/b && ln -s a /d/link && echo file > /f && touch /ready && exec sleep 1000")
	if !lcWaitUntil(10*time.Second, func() bool { return e.run("exec", name, "test", "-e", "/ready").code == 0 }) {
		e.t.Fatal("the container did not make its files")
	}
	return name
}

// TestCpFromContainer: Docker's rules for a copy out, for a file and a directory, with and
// without a trailing "/" or "/.", and as a tar on stdout.
func TestCpFromContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.cpSetup("cpfrom")
	host := t.TempDir()
	in := func(p string) string { return filepath.Join(host, p) }

	e.ok("cp", c+":/f", in("f1"))                // DEST missing: a file of that name
	os.WriteFile(in("f2"), []byte("old"), 0o644) // DEST a file: overwritten
	e.ok("cp", c+":/f", in("f2"))
	os.Mkdir(in("dir"), 0o755) // DEST a directory: DEST/base
	e.ok("cp", c+":/f", in("dir"))
	e.ok("cp", c+":/d", in("dcopy"))   // a directory to a new name: made, with its content
	e.ok("cp", c+":/d", in("dir"))     // into an existing directory: dir/d
	e.ok("cp", c+":/d/.", in("dir/"))  // "/.": the content, into it
	e.ok("cp", c+":/d/", in("dslash")) // a trailing "/" on SRC changes nothing
	cpWant(t, "host after the copies out", cpTree(t, host),
		"dcopy/", "dcopy/a one", "dcopy/link -> a", "dcopy/sub/", "dcopy/sub/b two",
		"dir/", "dir/a one", "dir/d/", "dir/d/a one", "dir/d/link -> a", "dir/d/sub/", "dir/d/sub/b two",
		"dir/f file", "dir/link -> a", "dir/sub/", "dir/sub/b two",
		"dslash/", "dslash/a one", "dslash/link -> a", "dslash/sub/", "dslash/sub/b two",
		"f1 file", "f2 file")

	// The link itself, or with -L what it points to.
	e.ok("cp", c+":/d/link", in("l1"))
	e.ok("cp", "-L", c+":/d/link", in("l2"))
	if l, err := os.Readlink(in("l1")); err != nil || l != "a" {
		t.Errorf("cp of a link = %q, %v; want the link to a", l, err)
	}
	if b, err := os.ReadFile(in("l2")); err != nil || string(b) != "one\n" {
		t.Errorf("cp -L of a link = %q, %v; want the file it points to", b, err)
	}

	// Errors: one line, exit 1, nothing made.
	e.fails(1, "does not exist", "cp", c+":/f", in("nodir")+"/")                // a file into a missing dir
	e.fails(1, "not a directory", "cp", c+":/d", in("f1"))                      // a dir onto a file
	e.fails(1, "no such file or directory", "cp", c+":/nope", in("x"))          // a missing source
	e.fails(1, "no such file or directory", "cp", c+":/f", in("no/such/place")) // a missing parent
	e.fails(1, "not a directory", "cp", c+":/f/", in("x"))                      // "/" on a file
	e.fails(1, "kernel filesystem", "cp", c+":/proc/1/environ", in("x"))
	for _, p := range []string{"nodir", "x", "no"} {
		if _, err := os.Lstat(in(p)); err == nil {
			t.Errorf("%s made by a failed cp", p)
		}
	}

	// "-": a tar of the source, named by its base, on stdout.
	r := e.run("cp", c+":/d", "-")
	if r.code != 0 {
		t.Fatalf("cp to -: %s", r)
	}
	names := cpTarNames(t, []byte(r.stdout))
	if want := "d/ d/a d/link d/sub/ d/sub/b"; strings.Join(names, " ") != want {
		t.Errorf("cp to - wrote %q, want %q", names, want)
	}
}

func cpTarNames(t *testing.T, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		names = append(names, h.Name)
	}
}

// TestCpToContainer: Docker's rules for a copy in; what is copied in is root's unless -a;
// a tar on stdin goes into a directory.
func TestCpToContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.cpSetup("cpto")
	host := t.TempDir()
	src := filepath.Join(host, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "x"), []byte("ex\n"), 0o640)
	os.WriteFile(filepath.Join(src, "sub", "y"), []byte("why\n"), 0o644)
	for _, p := range []string{src, filepath.Join(src, "x"), filepath.Join(src, "sub"), filepath.Join(src, "sub", "y")} {
		os.Lchown(p, 1234, 1234)
	}

	e.ok("cp", filepath.Join(src, "x"), c+":/new")        // a file to a new name
	e.ok("cp", filepath.Join(src, "x"), c+":/f")          // over a file
	e.ok("cp", filepath.Join(src, "x"), c+":/d")          // into a directory
	e.ok("cp", src, c+":/srccopy")                        // a directory to a new name
	e.ok("cp", src, c+":/d/")                             // into a directory
	e.ok("cp", src+"/.", c+":/d/sub")                     // its content into a directory
	e.ok("cp", "-a", filepath.Join(src, "x"), c+":/kept") // -a keeps the owner
	got := e.ok("exec", c, "sh", "-c", "cd / && find new f srccopy d kept | sort | while read p; do "+
		"if [ -d $p ]; then echo $p/ $(stat -c %u:%g $p); else echo $p $(stat -c '%u:%g %a' $p) $(cat $p); fi; done")
	want := strings.Join([]string{
		"d/ 0:0", "d/a 0:0 644 one", "d/link 0:0 777 one", "d/src/ 0:0", "d/src/sub/ 0:0", "d/src/sub/y 0:0 644 why", "d/src/x 0:0 640 ex",
		"d/sub/ 0:0", "d/sub/b 0:0 644 two", "d/sub/sub/ 0:0", "d/sub/sub/y 0:0 644 why", "d/sub/x 0:0 640 ex", "d/x 0:0 640 ex",
		"f 0:0 640 ex", "kept 1234:1234 640 ex", "new 0:0 640 ex",
		"srccopy/ 0:0", "srccopy/sub/ 0:0", "srccopy/sub/y 0:0 644 why", "srccopy/x 0:0 640 ex",
	}, "\n")
	if got != want {
		t.Errorf("the container after the copies in:\n%s\nwant\n%s", got, want)
	}

	// A tar on stdin, into a directory.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "fromtar", Mode: 0o600, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("tar"))
	tw.Close()
	if r := e.runStdin(buf.String(), "cp", "-", c+":/d/sub"); r.code != 0 {
		t.Fatalf("cp - into a directory: %s", r)
	}
	if got := e.ok("exec", c, "cat", "/d/sub/fromtar"); got != "tar" {
		t.Errorf("the tar from stdin gave %q", got)
	}

	e.fails(1, "does not exist", "cp", filepath.Join(src, "x"), c+":/nodir/")
	e.fails(1, "not a directory", "cp", src, c+":/f")
	// Never a directory replaced by a file, or the reverse (Docker's NoOverwriteDirNonDir).
	clash := filepath.Join(host, "clash")
	os.MkdirAll(filepath.Join(clash, "a"), 0o755)         // /d/a is a file
	os.WriteFile(filepath.Join(clash, "sub"), nil, 0o644) // /d/sub is a directory
	e.fails(1, "cannot overwrite", "cp", clash+"/.", c+":/d")
	if got := e.ok("exec", c, "sh", "-c", "cat /d/a; test -d /d/sub && echo dir"); got != "one\ndir" {
		t.Errorf("after a refused overwrite: %q", got)
	}
	e.fails(1, "no such file or directory", "cp", filepath.Join(host, "nope"), c+":/x")
	e.fails(1, "must be a directory", "cp", "-", c+":/f")
	e.fails(1, "kernel filesystem", "cp", filepath.Join(src, "x"), c+":/proc/")
	if r := e.run("exec", c, "sh", "-c", "test -e /nodir || test -e /x || echo clean"); strings.TrimSpace(r.stdout) != "clean" {
		t.Errorf("a failed cp made files: %s", r)
	}
}

// TestCpSymlinkEscape: a symlink in the container pointing to /etc, or climbing with "..",
// means the container's /etc: cp neither reads nor writes the host's files through it, running
// or stopped.
func TestCpSymlinkEscape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := "cpesc"
	e.ok("run", "-d", "--name", c, "busybox", "sh", "-c",
		"ln -sfn /etc /etclink; ln -sfn ../../../../../../../etc /up; ln -sfn /etc/hostname-hutch-cp /dangling; touch /ready; exec sleep 1000")
	if !lcWaitUntil(10*time.Second, func() bool { return e.run("exec", c, "test", "-e", "/ready").code == 0 }) {
		t.Fatal("the container did not make its links")
	}
	host := t.TempDir()
	secret := filepath.Join(host, "secret")
	os.WriteFile(secret, []byte("pwned\n"), 0o644)
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	ctrPasswd := e.ok("exec", c, "cat", "/etc/passwd")
	for _, stopped := range []bool{false, true} {
		if stopped {
			e.ok("stop", "-t", "0", c)
		}
		for _, link := range []string{"/etclink", "/up"} {
			out := filepath.Join(host, "passwd")
			os.Remove(out)
			e.ok("cp", c+":"+link+"/passwd", out)
			if b, _ := os.ReadFile(out); string(b) == string(hostPasswd) || strings.TrimSpace(string(b)) != ctrPasswd {
				t.Errorf("stopped %v: cp %s/passwd read %q, want the container's", stopped, link, b)
			}
			name := "hutch-cp-" + strings.Trim(link, "/")
			e.ok("cp", secret, c+":"+link+"/"+name)
			if _, err := os.Lstat("/etc/" + name); err == nil {
				os.Remove("/etc/" + name)
				t.Errorf("stopped %v: cp wrote the host's /etc through %s", stopped, link)
			}
		}
		// Through a dangling link: the file is made in the container's /etc.
		e.ok("cp", secret, c+":/dangling")
		if _, err := os.Lstat("/etc/hostname-hutch-cp"); err == nil {
			os.Remove("/etc/hostname-hutch-cp")
			t.Errorf("stopped %v: cp wrote the host's /etc through a dangling link", stopped)
		}
		if stopped {
			e.ok("start", c)
		}
		got := e.ok("exec", c, "sh", "-c", "cat /etc/hutch-cp-etclink /etc/hutch-cp-up /etc/hostname-hutch-cp; rm /etc/hutch-cp-* /etc/hostname-hutch-cp")
		if got != "pwned\npwned\npwned" {
			t.Errorf("stopped %v: the container's /etc holds %q", stopped, got)
		}
	}
}

// TestCpStopped: cp both ways on a stopped container (its overlay mounted for the copy
// alone), which then starts with the files; nothing stays mounted.
func TestCpStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := "cpstopped"
	if r := e.run("run", "--name", c, "busybox", "sh", "-c", "echo made > /made; cat /in/file"); r.code != 1 {
		t.Fatalf("first run: %s", r)
	}
	id := e.ids()[0]
	mounted := func() bool {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Contains(string(b), id)
	}
	host := t.TempDir()
	e.ok("cp", c+":/made", host)
	if b, _ := os.ReadFile(filepath.Join(host, "made")); string(b) != "made\n" {
		t.Errorf("cp out of a stopped container: %q", b)
	}
	in := filepath.Join(host, "in")
	os.Mkdir(in, 0o755)
	os.WriteFile(filepath.Join(in, "file"), []byte("copied in\n"), 0o644)
	e.ok("cp", in, c+":/")
	if mounted() {
		t.Errorf("the container's filesystem is still mounted after cp")
	}
	e.ok("start", c)
	if code := e.ok("wait", c); code != "0" {
		t.Errorf("the second run exited %s", code)
	}
	if got := e.ok("logs", c); got != "copied in" {
		t.Errorf("the second run printed %q", got)
	}
	// A failed copy leaves nothing mounted either.
	e.fails(1, "no such file or directory", "cp", c+":/nope", host)
	if mounted() {
		t.Errorf("the container's filesystem is still mounted after a failed cp")
	}
}

// TestCpBadInput: one line and exit 1 for a missing container or path and for arguments
// that name no container or two.
func TestCpBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := t.TempDir()
	e.fails(1, "no such container", "cp", "nosuch:/etc/passwd", host)
	e.fails(1, "no such container", "cp", "/etc/hostname", "nosuch:/tmp")
	e.fails(1, "must be CONTAINER:PATH", "cp", "/etc/hostname", host)
	e.fails(1, "must be CONTAINER:PATH", "cp", "./a:b", host) // "./": a host path with a colon
	e.fails(1, "between containers", "cp", "a:/x", "b:/y")
	e.fails(1, "cannot be empty", "cp", "a:", host)
	e.fails(1, "needs a source and a destination", "cp", "a:/x")
	e.fails(1, "no such container", "export", "nosuch")
	e.fails(1, "needs one container", "export")
	// A --read-only container takes no copy, running or stopped.
	e.ok("run", "--read-only", "--name", "ro", "busybox", "true")
	e.fails(1, "read-only", "cp", "/etc/hostname", "ro:/")
	e.ok("run", "-d", "--read-only", "--name", "ro2", "busybox", "sleep", "1000")
	e.fails(1, "read-only", "cp", "/etc/hostname", "ro2:/")
	if ents, _ := os.ReadDir(host); len(ents) != 0 {
		t.Errorf("a failed cp made %v", ents)
	}
}

var cpCowardly = regexp.MustCompile(`cowardly refusing`)

// TestExport: export writes the container's own files, running or stopped, as a tar that
// imports and runs (the round trip); what is mounted on it (/proc, /etc/hosts) is an empty
// placeholder; a terminal on stdout is refused.
func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.cpSetup("exp")
	out := filepath.Join(t.TempDir(), "exp.tar")
	e.ok("export", "-o", out, c)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	names := cpTarNames(t, b)
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	for _, n := range []string{"bin/busybox", "d/sub/b", "f", "proc/", "sys/", "dev/", "etc/hosts"} {
		if !has[n] {
			t.Errorf("export lacks %s", n)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "proc/") && n != "proc/" || strings.HasPrefix(n, "sys/") && n != "sys/" || strings.HasPrefix(n, "dev/") && n != "dev/" {
			t.Errorf("export holds %s, from a mount on the container's root", n)
			break
		}
	}
	e.ok("image", "import", "exported", out)
	if got := e.ok("run", "--rm", "exported", "sh", "-c", "cat /f /d/sub/b; readlink /d/link"); got != "file\ntwo\na" {
		t.Errorf("run of the exported image = %q", got)
	}
	// Stopped, to stdout.
	e.ok("stop", "-t", "0", c)
	r := e.run("export", c)
	if r.code != 0 {
		t.Fatalf("export of a stopped container: %s", r)
	}
	if got := cpTarNames(t, []byte(r.stdout)); !strings.Contains(strings.Join(got, " "), " d/sub/b ") {
		t.Errorf("export of the stopped container lacks d/sub/b: %q", got)
	}
	// A terminal on stdout.
	p := e.runStartPty(24, 80, "export", c)
	saw := p.waitOutput(cpCowardly, 30*time.Second)
	if code := p.wait(30 * time.Second); code != 1 || !saw {
		t.Errorf("export to a terminal: exit %d, %q", code, p.output())
	}
}

// TestCpStoppedStartWaits: a start waits for a cp that has the stopped container's overlay
// mounted (two overlays must not share an upper directory), and so sees what it copied.
func TestCpStoppedStartWaits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := "cpwait"
	if r := e.run("run", "--name", c, "busybox", "sh", "-c", "cat /in/file"); r.code != 1 {
		t.Fatalf("first run: %s", r)
	}
	dir := filepath.Join(e.root, "containers", e.ids()[0])
	cp := e.command("cp", "-", c+":/")
	stdin, err := cp.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var cpOut bytes.Buffer
	cp.Stdout, cp.Stderr = &cpOut, &cpOut
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	defer cp.Process.Kill()
	// The cp holds the container's lock once its overlay is mounted.
	if !lcWaitUntil(10*time.Second, func() bool {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		defer unix.Close(fd)
		return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == unix.EWOULDBLOCK
	}) {
		t.Fatalf("cp never took the container's lock: %s", cpOut.String())
	}
	start := e.command("start", c)
	startDone := make(chan error, 1)
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { startDone <- start.Wait() }()
	select { // a start that does not wait runs the command now, before the file is there
	case <-startDone:
		startDone <- nil
	case <-time.After(time.Second):
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "in/", Mode: 0o755, Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "in/file", Mode: 0o644, Size: 10, Typeflag: tar.TypeReg})
	tw.Write([]byte("copied in\n"))
	tw.Close()
	stdin.Write(buf.Bytes())
	stdin.Close()
	if err := cp.Wait(); err != nil {
		t.Fatalf("cp: %v: %s", err, cpOut.String())
	}
	if err := <-startDone; err != nil {
		t.Fatalf("start: %v", err)
	}
	if code := e.ok("wait", c); code != "0" {
		t.Errorf("the started container exited %s (it ran before the copy)", code)
	}
	if got := e.ok("logs", c); got != "copied in" {
		t.Errorf("the started container printed %q", got)
	}
}

// cp to and from a stopped container reaches into its volumes (named, anonymous) and bind
// mounts, as Docker's does through the container's mounts; a read-only one refuses a copy in,
// and nothing stays mounted.
func TestCpStoppedVolumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := "cpvols"
	bind, ro := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bind, "b"), []byte("on the host\n"), 0o644)
	e.ok("run", "--name", c, "--network", "none", "-v", "cpvolnamed:/named", "-v", "/anon", "-v", bind+":/srv/bind",
		"--mount", "type=bind,src="+ro+",dst=/ro,readonly", "busybox", "sh", "-c", "echo n > /named/n; echo a > /anon/a")
	id := e.ids()[0]
	mounted := func() bool {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Contains(string(b), id) || strings.Contains(string(b), "cpvolnamed")
	}
	host := t.TempDir()
	for _, tc := range []struct{ src, want string }{{"/named/n", "n\n"}, {"/anon/a", "a\n"}, {"/srv/bind/b", "on the host\n"}} {
		dst := filepath.Join(host, path.Base(tc.src))
		e.ok("cp", c+":"+tc.src, dst)
		if b, err := os.ReadFile(dst); err != nil || string(b) != tc.want {
			t.Errorf("cp %s out of a stopped container: %q %v, want %q", tc.src, b, err, tc.want)
		}
	}
	src := filepath.Join(host, "in")
	os.WriteFile(src, []byte("copied in\n"), 0o644)
	for _, dst := range []string{"/named/in", "/anon/in", "/srv/bind/in"} {
		e.ok("cp", src, c+":"+dst)
	}
	if b, err := os.ReadFile(filepath.Join(bind, "in")); err != nil || string(b) != "copied in\n" {
		t.Errorf("cp into a stopped container's bind mount: the host has %q %v", b, err)
	}
	e.fails(1, "mounted volume is marked read-only", "cp", src, c+":/ro/in")
	if _, err := os.Stat(filepath.Join(ro, "in")); err == nil {
		t.Errorf("a copy into a read-only bind mount reached the host")
	}
	if mounted() {
		t.Fatalf("something of the container is still mounted after cp")
	}
	// The next run sees what went into the named volume.
	if got := e.ok("run", "--rm", "--network", "none", "-v", "cpvolnamed:/named", "busybox", "cat", "/named/in"); got != "copied in" {
		t.Errorf("the named volume has %q after cp, want the copied file", got)
	}
	e.ok("rm", "-v", c)
	e.ok("volume", "rm", "cpvolnamed")
}
