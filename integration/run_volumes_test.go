//go:build integration

package integration

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
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

	// :ro is read-only all the way down (as Docker's since 25), inside only.
	out = e.ok("run", "--rm", "--network", "none", "-v", host+":/data:ro", "busybox", "sh", "-c",
		"touch /data/top 2>&1; touch /data/sub/below 2>&1; true")
	if strings.Count(out, "Read-only file system") != 2 {
		t.Errorf(":ro with a submount: %q, want both writes refused", out)
	}
	if err := os.WriteFile(filepath.Join(sub, "host-writes"), []byte("x"), 0o644); err != nil {
		t.Errorf("the host's submount turned read-only: %v", err)
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
		imgEntry{name: "./loop1", typ: tar.TypeSymlink, linkname: "loop2"},
		imgEntry{name: "./loop2", typ: tar.TypeSymlink, linkname: "loop1"},
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
	// /out -> a path that exists on the host only: the mount and what it
	// needs are made at that path in the container (as runc does), never on
	// the host; a symlink loop is refused.
	for _, args := range [][]string{
		{"-v", src + ":/out/x"}, {"-v", src + ":/out"}, {"--tmpfs", "/out/t"},
		{"--mount", "type=bind,source=" + filepath.Join(src, "marker") + ",target=/out/../out/y/file"},
	} {
		out := e.ok(append(append([]string{"run", "--rm", "--network", "none"}, args...), "links",
			"/bin/busybox", "grep", hostTarget, "/proc/mounts")...)
		if !strings.Contains(out, " "+hostTarget) {
			t.Errorf("%v: mounts %q, want one under %s inside the container", args, out, hostTarget)
		}
	}
	e.fails(125, "Symbolic link loop", "run", "--rm", "--network", "none", "--tmpfs", "/loop1/x", "links", "/bin/busybox", "true")
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
	// A create that fails once its volumes are made takes them back; one
	// that existed before stays.
	e.ok("run", "--name", "taken", "--network", "none", "busybox", "true")
	e.ok("volume", "create", "before")
	e.fails(125, "already in use", "run", "--name", "taken", "--network", "none", "-v", "newvol:/x", "-v", "before:/b", "-v", "/anon", "busybox", "true")
	if out := e.ok("volume", "ls", "-q"); out != "before" {
		t.Errorf("after a failed create: volumes %q, want before only", out)
	}
	e.ok("rm", "taken")
}

// A named volume: made on first use and seeded from the image's content at
// its target, it keeps what a container wrote for the next one; nocopy
// and a read-only mount; inspect shows it in Docker's shape.
func TestRunVolumesNamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "--network", "none", "-v", "conf:/etc", "busybox", "sh", "-c", "echo kept > /etc/mine")
	data := filepath.Join(e.root, "volumes", "conf", "_data")
	if b, err := os.ReadFile(filepath.Join(data, "mine")); err != nil || string(b) != "kept\n" {
		t.Errorf("%s/mine: %q %v", data, b, err)
	}
	out := e.ok("run", "--rm", "--network", "none", "--mount", "type=volume,source=conf,target=/c,readonly", "busybox", "sh", "-c",
		"cat /c/mine; head -1 /c/passwd; touch /c/x 2>&1; true")
	if !strings.Contains(out, "kept") || !strings.Contains(out, "root:x:0:0") || !strings.Contains(out, "Read-only file system") {
		t.Errorf("the volume in a second container: %q, want what the first wrote, the image's passwd (seeded), and EROFS", out)
	}
	// (hostname, hosts and resolv.conf are mounted over files made in it, as in Docker.)
	if out := e.ok("run", "--rm", "--network", "none", "-v", "bare:/etc:nocopy", "busybox", "ls", "-A", "/etc"); strings.Contains(out, "passwd") {
		t.Errorf("nocopy: /etc holds %q, want nothing of the image's", out)
	}

	e.ok("run", "-d", "--name", "v", "--network", "none", "-v", "conf:/data:ro", "busybox", "sleep", "30")
	mounts, _ := e.runInspect("v")["Mounts"].([]any)
	m, _ := func() (map[string]any, bool) {
		if len(mounts) != 1 {
			return nil, false
		}
		m, ok := mounts[0].(map[string]any)
		return m, ok
	}()
	want := map[string]any{"Type": "volume", "Name": "conf", "Source": data, "Destination": "/data", "Driver": "local", "Mode": "ro", "RW": false, "Propagation": ""}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("inspect Mounts[0].%s = %v, want %v (%v)", k, m[k], v, mounts)
		}
	}
	// In use by a running container, then by a stopped one: refused, as in Docker.
	e.fails(1, "remove conf: volume is in use - ["+e.volFullID("v")+"]", "volume", "rm", "conf")
	e.ok("stop", "-t", "0", "v")
	e.fails(1, "volume is in use", "volume", "rm", "conf")
	e.ok("rm", "v")
	e.ok("volume", "rm", "conf", "bare")
	if _, err := os.Stat(filepath.Join(e.root, "volumes", "conf")); err == nil {
		t.Errorf("volume rm left its directory")
	}
}

func (e *env) volFullID(ref string) string {
	e.t.Helper()
	id, _ := e.runInspect(ref)["Id"].(string)
	return id
}

// Anonymous volumes (-v CTR): a 64-hex name, gone with --rm and with rm -v,
// kept by a plain rm (as in Docker).
func TestRunVolumesAnonymous(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "--network", "none", "-v", "/data", "busybox", "sh", "-c", "echo x > /data/f")
	if out := e.ok("volume", "ls", "-q"); out != "" {
		t.Errorf("after run --rm: volumes %q, want none", out)
	}
	e.ok("run", "--name", "k", "--network", "none", "-v", "/data", "--mount", "type=volume,target=/other", "busybox", "true")
	names := strings.Fields(e.ok("volume", "ls", "-q"))
	if len(names) != 2 || len(names[0]) != 64 {
		t.Fatalf("volumes %v, want two with 64-hex names", names)
	}
	var vs []struct{ Labels map[string]string }
	decodeJSON(t, e.ok("volume", "inspect", names[0]), &vs)
	if _, ok := vs[0].Labels["com.docker.volume.anonymous"]; !ok {
		t.Errorf("an anonymous volume's labels: %v", vs[0].Labels)
	}
	e.ok("rm", "-v", "k")
	if out := e.ok("volume", "ls", "-q"); out != "" {
		t.Errorf("after rm -v: volumes %q, want none", out)
	}
	e.ok("run", "--name", "k2", "--network", "none", "-v", "/data", "busybox", "true")
	e.ok("rm", "k2")
	if n := len(strings.Fields(e.ok("volume", "ls", "-q"))); n != 1 {
		t.Errorf("after a plain rm: %d volumes, want the anonymous one kept", n)
	}
	// A detached --rm container's monitor removes its volume too.
	e.ok("run", "-d", "--rm", "--name", "d", "--network", "none", "-v", "/data", "busybox", "sleep", "30")
	if n := len(strings.Fields(e.ok("volume", "ls", "-q"))); n != 2 {
		t.Errorf("while -d --rm runs: %d volumes, want 2", n)
	}
	e.ok("kill", "d")
	if !lcWaitUntil(10*time.Second, func() bool { return len(strings.Fields(e.ok("volume", "ls", "-q"))) == 1 }) {
		t.Errorf("a -d --rm container's anonymous volume outlived it: %s", e.ok("volume", "ls", "-q"))
	}
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %q", err, s)
	}
}

// volume create|ls|inspect|rm|prune, with Docker's output shapes and exit
// codes; system reset removes the volumes too.
func TestVolumeCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.ok("volume", "ls"); out != "DRIVER    VOLUME NAME" {
		t.Errorf("volume ls on a fresh root: %q", out)
	}
	if out := e.ok("volume", "create", "--label", "team=web", "web-data"); out != "web-data" {
		t.Errorf("volume create printed %q", out)
	}
	if out := e.ok("volume", "create", "web-data"); out != "web-data" {
		t.Errorf("volume create of an existing name: %q, want the name (Docker's)", out)
	}
	random := e.ok("volume", "create")
	if len(random) != 64 {
		t.Errorf("volume create without a name printed %q, want 64 hex", random)
	}
	lines := strings.Split(e.ok("volume", "ls"), "\n")
	want := []string{"DRIVER    VOLUME NAME", "local     " + random, "local     web-data"}
	if !slices.Equal(lines, want) {
		t.Errorf("volume ls:\n%q\nwant\n%q", lines, want)
	}
	var vs []map[string]any
	decodeJSON(t, e.ok("volume", "inspect", "web-data"), &vs)
	if len(vs) != 1 {
		t.Fatalf("inspect: %v", vs)
	}
	v := vs[0]
	for k, w := range map[string]any{"Name": "web-data", "Driver": "local", "Scope": "local",
		"Mountpoint": filepath.Join(e.root, "volumes", "web-data", "_data")} {
		if v[k] != w {
			t.Errorf("inspect %s = %v, want %v", k, v[k], w)
		}
	}
	if l, _ := v["Labels"].(map[string]any); l["team"] != "web" {
		t.Errorf("inspect Labels = %v", v["Labels"])
	}
	if _, err := time.Parse(time.RFC3339, v["CreatedAt"].(string)); err != nil {
		t.Errorf("CreatedAt %v: %v", v["CreatedAt"], err)
	}
	for _, k := range []string{"Options", "CreatedAt"} {
		if _, ok := v[k]; !ok {
			t.Errorf("inspect has no %s", k)
		}
	}
	e.fails(1, "no such volume: nope", "volume", "inspect", "nope")
	e.fails(1, "no such volume: nope", "volume", "rm", "nope")
	e.ok("volume", "rm", "-f", "nope")
	e.fails(1, "invalid characters", "volume", "create", "bad/name")
	e.fails(1, "invalid characters", "volume", "create", "x")

	// prune: anonymous and unused only; --all: every unused one.
	e.ok("run", "--name", "anon", "--network", "none", "-v", "/a", "busybox", "true")
	e.ok("run", "--name", "user", "--network", "none", "-v", "web-data:/w", "-v", "/b", "busybox", "true")
	e.ok("rm", "anon")
	out := e.ok("volume", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Volumes:\n") || strings.Count(out, "\n") != 3 || !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Errorf("volume prune:\n%s\nwant one anonymous volume deleted", out)
	}
	if n := len(strings.Fields(e.ok("volume", "ls", "-q"))); n != 3 { // web-data, the random one, user's /b
		t.Errorf("after prune: %d volumes, want 3", n)
	}
	r := e.runStdin("n\n", "volume", "prune", "--all")
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING!") || strings.Contains(r.stdout, "Deleted") {
		t.Errorf("volume prune answered no: %s", r)
	}
	out = e.ok("volume", "prune", "-af")
	if !strings.Contains(out, random) || strings.Contains(out, "web-data") {
		t.Errorf("volume prune -a:\n%s\nwant the unused named volume, not the used one", out)
	}
	e.ok("rm", "-v", "user")
	e.ok("system", "reset", "-f")
	if _, err := os.Stat(filepath.Join(e.root, "volumes")); err == nil {
		t.Errorf("system reset left %s/volumes", e.root)
	}
}

// Parallel runs making the same volume: each succeeds and sees one volume.
func TestRunVolumesParallelCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	errs := make(chan string, 4)
	for i := 0; i < 4; i++ {
		go func() {
			r, err := execHutch(hutchBin, e.root, "", nil, "run", "--rm", "--network", "none", "-v", "shared:/s", "busybox",
				"sh", "-c", "echo $$ >> /s/log")
			if err != nil || r.code != 0 {
				errs <- fmt.Sprintf("%v %s", err, r)
				return
			}
			errs <- ""
		}()
	}
	for i := 0; i < 4; i++ {
		if s := <-errs; s != "" {
			t.Error(s)
		}
	}
	if out := e.ok("volume", "ls", "-q"); out != "shared" {
		t.Errorf("volumes %q, want shared only", out)
	}
	b, _ := os.ReadFile(filepath.Join(e.root, "volumes", "shared", "_data", "log"))
	if n := strings.Count(string(b), "\n"); n != 4 {
		t.Errorf("log has %d lines, want 4: %q", n, b)
	}
}

// inspect's HostConfig shows each mount flag as Docker does: -v in Binds (an anonymous one in
// none), --tmpfs in Tmpfs (and not in Mounts), --mount in HostConfig.Mounts and in Mounts.
func TestRunVolumesInspectHostConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	e.ok("run", "--name", "hc", "--network", "none", "-v", dir+":/b:ro", "-v", "hcvol:/n", "-v", "/anon",
		"--tmpfs", "/t:size=1m,mode=1777", "--tmpfs", "/t2",
		"--mount", "type=bind,src="+dir+",dst=/mb,readonly", "--mount", "type=volume,source=hcvol2,target=/mv",
		"--mount", "type=tmpfs,dst=/mt", "busybox", "true")
	var got []struct {
		HostConfig struct {
			Binds  []string
			Tmpfs  map[string]string
			Mounts []map[string]any
		}
		Mounts []map[string]any
	}
	if err := json.Unmarshal([]byte(e.ok("inspect", "hc")), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect: %v %v", got, err)
	}
	hc := got[0].HostConfig
	if want := []string{dir + ":/b:ro", "hcvol:/n"}; !slices.Equal(hc.Binds, want) {
		t.Errorf("Binds %q, want %q", hc.Binds, want)
	}
	if len(hc.Tmpfs) != 2 || hc.Tmpfs["/t"] != "size=1m,mode=1777" || hc.Tmpfs["/t2"] != "" {
		t.Errorf("Tmpfs %v", hc.Tmpfs)
	}
	wantHM := []map[string]any{
		{"Type": "bind", "Source": dir, "Target": "/mb", "ReadOnly": true},
		{"Type": "volume", "Source": "hcvol2", "Target": "/mv"},
		{"Type": "tmpfs", "Target": "/mt"},
	}
	if len(hc.Mounts) != len(wantHM) {
		t.Fatalf("HostConfig.Mounts %v, want %v", hc.Mounts, wantHM)
	}
	for i, w := range wantHM {
		if len(hc.Mounts[i]) != len(w) {
			t.Errorf("HostConfig.Mounts[%d] = %v, want %v", i, hc.Mounts[i], w)
		}
		for k, v := range w {
			if hc.Mounts[i][k] != v {
				t.Errorf("HostConfig.Mounts[%d].%s = %v, want %v", i, k, hc.Mounts[i][k], v)
			}
		}
	}
	var dests []string
	for _, m := range got[0].Mounts {
		dests = append(dests, m["Destination"].(string))
	}
	if want := []string{"/b", "/n", "/anon", "/mb", "/mv", "/mt"}; !slices.Equal(dests, want) {
		t.Errorf("Mounts destinations %q, want %q (no --tmpfs)", dests, want)
	}
	e.ok("rm", "-v", "hc")
	e.ok("volume", "rm", "hcvol", "hcvol2")
}

// A web server serving a bind-mounted directory through a published port,
// the way a user serves a site under development: the host's edits show at
// once, and :ro keeps the server from writing back.
func TestRunVolumesBindServedOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	site := t.TempDir()
	page := filepath.Join(site, "index.html")
	if err := os.WriteFile(page, []byte("draft 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := netFreePort(t)
	id := e.lcRunDetached("-p", fmt.Sprintf("127.0.0.1:%d:80", p), "-v", site+":/www:ro",
		"busybox", "httpd", "-f", "-p", "80", "-h", "/www")
	url := fmt.Sprintf("http://127.0.0.1:%d/", p)
	netWaitBody(t, "the bound site", "draft 1", func() (string, error) { return netHostGet(url) })
	if err := os.WriteFile(page, []byte("draft 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	netWaitBody(t, "the bound site after an edit on the host", "draft 2", func() (string, error) { return netHostGet(url) })
	if r := e.run("exec", id, "touch", "/www/x"); r.code == 0 {
		t.Errorf("a write into the :ro bind succeeded: %s", r)
	}
	e.ok("rm", "-f", id)
}
