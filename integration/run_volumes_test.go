//go:build integration

package integration

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A -v bind mount: a missing host directory is made, writes inside land on
// the host, :ro refuses writes, a host file binds a file (its missing
// parents made in the container), and inspect shows Docker's Mounts.
func TestRunVolumesBind(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := t.TempDir()
	dir := filepath.Join(host, "made", "here")

	e.ok("run", "--rm", "--network", "none", "-v", dir+":/data", "busybox", "sh", "-c", "echo from-ctr > /data/f")
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "from-ctr\n" {
		t.Fatalf("host %s/f: %q %v, want what the container wrote", dir, b, err)
	}

	r := e.run("run", "--rm", "--network", "none", "-v", dir+":/data:ro", "busybox", "sh", "-c", "cat /data/f && echo x > /data/g")
	if r.code == 0 || !strings.Contains(r.stdout, "from-ctr") || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf(":ro: %s, want the file read and the write refused with EROFS", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "g")); err == nil {
		t.Errorf(":ro: the write reached the host")
	}
	out := e.ok("run", "--rm", "--network", "none", "--mount", "type=bind,source="+dir+",target=/m,readonly",
		"busybox", "sh", "-c", "touch /m/g 2>&1; cat /m/f")
	if !strings.Contains(out, "Read-only file system") || !strings.Contains(out, "from-ctr") {
		t.Errorf("--mount readonly: %q", out)
	}

	file := filepath.Join(host, "app.conf")
	if err := os.WriteFile(file, []byte("key=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := e.ok("run", "--rm", "--network", "none", "-v", file+":/etc/app/app.conf", "busybox", "cat", "/etc/app/app.conf"); out != "key=1" {
		t.Errorf("a bound file reads %q, want key=1", out)
	}
	// Over a default mount: the user's /etc/hosts wins.
	if out := e.ok("run", "--rm", "--network", "none", "-v", file+":/etc/hosts:ro", "busybox", "cat", "/etc/hosts"); out != "key=1" {
		t.Errorf("-v over /etc/hosts reads %q, want the host file", out)
	}

	e.ok("run", "-d", "--name", "insp", "--network", "none", "-v", dir+":/data:ro",
		"--mount", "type=bind,src="+host+",dst=/h", "busybox", "sleep", "30")
	mounts, _ := e.runInspect("insp")["Mounts"].([]any)
	if len(mounts) != 2 {
		t.Fatalf("inspect Mounts: %v, want two", mounts)
	}
	want := []map[string]any{
		{"Type": "bind", "Source": dir, "Destination": "/data", "Mode": "ro", "RW": false, "Propagation": "rprivate"},
		{"Type": "bind", "Source": host, "Destination": "/h", "Mode": "", "RW": true, "Propagation": "rprivate"},
	}
	for i, w := range want {
		m, _ := mounts[i].(map[string]any)
		for k, v := range w {
			if m[k] != v {
				t.Errorf("inspect Mounts[%d].%s = %v, want %v (%v)", i, k, m[k], v, m)
			}
		}
	}
	e.ok("rm", "-f", "insp")
}

// Bind mounts are recursive (a mount under the source shows inside) and
// private (a mount made inside does not show on the host).
func TestRunVolumesBindRecursivePrivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := t.TempDir()
	sub := filepath.Join(host, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", sub, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(sub, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "on-tmpfs"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.ok("run", "--rm", "--network", "none", "--privileged", "-v", host+":/data", "busybox", "sh", "-c",
		"ls /data/sub; mkdir /data/inner; mount -t tmpfs inner /data/inner && echo mounted; cat /proc/self/mountinfo")
	if !strings.Contains(out, "on-tmpfs") || !strings.Contains(out, "mounted") {
		t.Fatalf("inside: %q, want the submount's file and a mount made", out)
	}
	for _, m := range runParseMountinfo(t, out[strings.Index(out, "mounted")+len("mounted"):]) {
		if strings.Contains(m.line, "shared:") {
			t.Errorf("mount %s propagates (shared): %s", m.point, m.line)
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), filepath.Join(host, "inner")) {
		t.Errorf("a mount made in the container shows on the host:\n%s", mi)
	}
}

// The target resolves inside the container's root: an image's symlink to an
// absolute path leads to that path in the container, never on the host.
func TestRunVolumesSymlinkStaysInRoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tmp := t.TempDir()
	hostTarget := filepath.Join(tmp, "host-target") // what /out points at, also on the host
	if err := os.Mkdir(hostTarget, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries := append(imgRootfsEntries(t),
		imgEntry{name: "./etc/", typ: tar.TypeDir},
		imgEntry{name: "./etc/image-file", typ: tar.TypeReg, body: "image\n"},
		imgEntry{name: "./data", typ: tar.TypeSymlink, linkname: "/etc"},
		imgEntry{name: "./out", typ: tar.TypeSymlink, linkname: hostTarget},
	)
	tarPath := filepath.Join(tmp, "img.tar")
	imgTar(t, tarPath, entries)
	e.ok("image", "import", "links", tarPath)

	// /data -> /etc: the mount covers the container's /etc.
	out := e.ok("run", "--rm", "--network", "none", "-v", src+":/data", "links", "/bin/busybox", "cat", "/etc/marker")
	if out != "bound" {
		t.Errorf("-v onto a symlink to /etc: the container's /etc/marker reads %q, want the bound file", out)
	}
	out = e.ok("run", "--rm", "--network", "none", "--tmpfs", "/data/../data", "links", "/bin/busybox", "sh", "-c",
		"/bin/busybox grep ' /etc ' /proc/mounts")
	if !strings.HasPrefix(out, "tmpfs /etc tmpfs") {
		t.Errorf("--tmpfs onto a symlink to /etc: %q, want a tmpfs on the container's /etc", out)
	}
	// /out -> a path that exists on the host only: no mount, nothing made there.
	for _, args := range [][]string{
		{"-v", src + ":/out/x"}, {"-v", src + ":/out"}, {"--tmpfs", "/out"},
		{"--mount", "type=bind,source=" + src + ",target=/out/../out/y"},
	} {
		r := e.run(append(append([]string{"run", "--rm", "--network", "none"}, args...), "links", "/bin/busybox", "true")...)
		if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v onto a symlink out of the root: %s, want exit 125 and one line", args, r)
		}
	}
	if ents, _ := os.ReadDir(hostTarget); len(ents) != 0 {
		t.Errorf("the host's %s got %v", hostTarget, ents)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), hostTarget) || strings.Contains(string(mi), "/etc/marker") {
		t.Errorf("a mount landed on the host:\n%s", mi)
	}
	if _, err := os.Stat("/etc/marker"); err == nil {
		t.Errorf("/etc/marker exists on the host")
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}

// --tmpfs and --mount type=tmpfs: a tmpfs of the size and mode given,
// nosuid, nodev and noexec by default as in Docker.
func TestRunVolumesTmpfs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--rm", "--network", "none", "--tmpfs", "/t:size=1m,mode=700",
		"--mount", "type=tmpfs,target=/u,tmpfs-size=2097152,tmpfs-mode=1770", "--tmpfs", "/x:exec,ro",
		"busybox", "sh", "-c", "cat /proc/self/mountinfo; stat -c '%n %a' /t /u; touch /x/f 2>&1; true")
	ms := runParseMountinfo(t, strings.Join(runLinesWith(out, " - "), "\n"))
	for point, want := range map[string][]string{
		"/t": {"size=1024k", "mode=700", "nosuid", "nodev", "noexec", "rw"},
		"/u": {"size=2048k", "mode=1770", "noexec"},
		"/x": {"ro"},
	} {
		m, ok := runMountAt(ms, point)
		if !ok || m.fstype != "tmpfs" {
			t.Errorf("%s: %+v, want a tmpfs", point, m)
			continue
		}
		for _, w := range want {
			if !strings.Contains(","+m.opts+","+m.superOpts+",", ","+w+",") {
				t.Errorf("%s: options %q %q, want %s", point, m.opts, m.superOpts, w)
			}
		}
	}
	if m, _ := runMountAt(ms, "/x"); strings.Contains(m.opts, "noexec") {
		t.Errorf("/x:exec is noexec: %s", m.line)
	}
	if !strings.Contains(out, "/t 700") || !strings.Contains(out, "/u 1770") || !strings.Contains(out, "Read-only file system") {
		t.Errorf("modes or ro: %q", out)
	}
}

// runLinesWith is the lines of s holding sep.
func runLinesWith(s, sep string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sep) {
			out = append(out, l)
		}
	}
	return out
}

// Bad -v, --mount and --tmpfs: one line, exit 125, no container and
// nothing made on the host.
func TestRunVolumesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := t.TempDir()
	missing := filepath.Join(host, "missing")
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"absolute path", []string{"-v", "rel/dir:/data"}},
		{"empty part", []string{"-v", missing + "::ro"}},
		{"empty part", []string{"-v", ":/data"}},
		{"not an absolute path", []string{"-v", missing + ":data"}},
		{"cannot be /", []string{"-v", missing + ":/"}},
		{"/proc", []string{"-v", missing + ":/proc"}},
		{"unknown option", []string{"-v", missing + ":/data:rx"}},
		{"duplicate mount point", []string{"-v", missing + ":/data", "--tmpfs", "/data"}},
		{"does not exist", []string{"--mount", "type=bind,source=" + missing + ",target=/data"}},
		{"unknown key", []string{"--mount", "type=bind,source=" + host + ",target=/data,colour=red"}},
		{"type", []string{"--mount", "type=nfs,target=/data"}},
		{"size", []string{"--tmpfs", "/t:size=big"}},
		{"unknown option", []string{"--tmpfs", "/t:size=1m,fast"}},
		{"mode", []string{"--mount", "type=tmpfs,target=/t,tmpfs-mode=9"}},
		{"invalid characters", []string{"-v", "a$b:/data"}},
	} {
		e.fails(125, tc.want, append(append([]string{"run", "--rm", "--network", "none"}, tc.args...), "busybox", "true")...)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("bad input made %s", missing)
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}
