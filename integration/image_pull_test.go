//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// registry is Debian's docker-registry (the CNCF distribution registry) serving on a loopback
// port of its own, with its storage in a temp dir.
type registry struct {
	addr    string
	storage string
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	bin := "/usr/bin/docker-registry"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("docker-registry is not installed (make deps)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	r := &registry{addr: addr, storage: filepath.Join(dir, "storage")}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", r.storage, addr)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() // by its pid: ours
		cmd.Wait()
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on %s did not come up: %v\n%s", addr, err, logs.String())
		}
	}
}

// push writes img to the registry with go-containerregistry's client and returns its digest.
func (r *registry) push(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// tarLayer makes a layer from in-memory entries: a name ending in "/" is a directory, else a file
// with the given content.
func tarLayer(t *testing.T, entries ...string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(entries); i += 2 {
		hdr := &tar.Header{Name: entries[i], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(entries[i+1])), ModTime: time.Unix(1e9, 0)}
		if strings.HasSuffix(entries[i], "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(entries[i+1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appImage is a two-layer image: busybox plus /secret and /opq/old, then a layer that adds
// /app/hello.txt, whites out /secret and makes /opq opaque. Its config has an entrypoint, an
// environment and a working directory.
func appImage(t *testing.T, e *env, extra string) v1.Image {
	t.Helper()
	e.ok("run", "--rm", "busybox", "true") // builds the built-in busybox: our base layer's files
	base := filepath.Join(t.TempDir(), "base")
	if out, err := exec.Command("cp", "-a", filepath.Join(e.root, "images", "busybox", "rootfs"), base).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.WriteFile(filepath.Join(base, "secret"), []byte("lower secret\n"), 0o644)
	os.MkdirAll(filepath.Join(base, "opq"), 0o755)
	os.WriteFile(filepath.Join(base, "opq", "old"), []byte("old\n"), 0o644)
	baseTar := filepath.Join(t.TempDir(), "base.tar")
	if out, err := exec.Command("tar", "-C", base, "-cf", baseTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	l1, err := tarball.LayerFromFile(baseTar)
	if err != nil {
		t.Fatal(err)
	}
	l2 := tarLayer(t, "app/", "", "app/hello.txt", "hello from layer two "+extra+"\n",
		".wh.secret", "", "opq/", "", "opq/.wh..wh..opq", "", "opq/new", "new\n")
	img, err := mutate.AppendLayers(empty.Image, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	return withConfig(t, img, func(cfg *v1.ConfigFile) {
		cfg.OS, cfg.Architecture = "linux", "amd64"
		cfg.Config.Entrypoint = []string{"/bin/sh", "-c"}
		cfg.Config.Cmd = []string{"echo $GREETING from $(pwd)"}
		cfg.Config.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hi"}
		cfg.Config.WorkingDir = "/app"
	})
}

// withConfig is img with its config changed by edit (on a copy).
func withConfig(t *testing.T, img v1.Image, edit func(*v1.ConfigFile)) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	edit(cfg)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImagePull(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "one")
	digest := reg.push(t, "test/app:1", img)
	configDigest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.addr + "/test/app:1"

	start := time.Now()
	out := e.ok("pull", ref)
	t.Logf("pull of two layers (%s): %v", ref, time.Since(start)) // measured, not asserted
	if !strings.HasSuffix(out, "\n"+ref) || !strings.Contains(out, "Digest: "+digest) {
		t.Fatalf("pull said %q, want the digest %s and the name last", out, digest)
	}
	// Both layers are in the overlay: the upper one's file, its whiteout hides /secret, its
	// opaque /opq hides /opq/old.
	got := e.ok("run", "--rm", "--entrypoint", "/bin/sh", ref, "-c", "cat /app/hello.txt; ls /secret 2>&1; ls /opq; ls /bin/sh")
	want := "hello from layer two one\nls: /secret: No such file or directory\nnew\n/bin/sh"
	if got != want {
		t.Fatalf("run: %q, want %q", got, want)
	}
	// The config: Entrypoint + Cmd, Env, WorkingDir; -e, -w, arguments and --entrypoint win.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "hi from /app"},
		{[]string{"-e", "GREETING=yo", "-w", "/opq"}, "yo from /opq"},
		{[]string{"--", "echo args replace the cmd"}, "args replace the cmd"},
		{[]string{"--entrypoint", "pwd"}, "/app"},
		{[]string{"--entrypoint", "", "--", "echo", "cleared"}, "cleared"},
	} {
		opts, args := tc.args, []string(nil)
		if i := slices.Index(opts, "--"); i >= 0 {
			opts, args = opts[:i], opts[i+1:]
		}
		cmd := append(append(append([]string{"run", "--rm"}, opts...), ref), args...)
		if got := e.ok(cmd...); got != tc.want {
			t.Errorf("%v: %q, want %q", cmd, got, tc.want)
		}
	}
	e.fails(125, "no command specified", "run", "--rm", "--entrypoint", "", ref)

	ls := e.ok("image", "ls")
	if !listed(ls, reg.addr+"/test/app", "1", configDigest.Hex[:12]) {
		t.Fatalf("image ls:\n%s", ls)
	}

	// By digest: the same manifest, the layers are not fetched again.
	byDigest := reg.addr + "/test/app@" + digest
	if out := e.ok("pull", byDigest); !strings.HasSuffix(out, byDigest) {
		t.Fatalf("pull by digest said %q", out)
	}
	if got := e.ok("run", "--rm", "--entrypoint", "cat", byDigest, "/app/hello.txt"); got != "hello from layer two one" {
		t.Fatalf("run by digest: %q", got)
	}
	layers := func() int {
		ents, _ := os.ReadDir(filepath.Join(e.root, "images", ".layers"))
		return len(ents)
	}
	if n := layers(); n != 2 {
		t.Fatalf("%d layers stored for two names of one image, want 2", n)
	}

	// A digest the registry does not have, and a registry that is not there: one line, exit 1,
	// nothing listed.
	before := imageRows(e.ok("image", "ls"))
	e.fails(1, "MANIFEST_UNKNOWN", "pull", reg.addr+"/test/app@sha256:"+strings.Repeat("0", 64))
	e.fails(1, "connection refused", "pull", "127.0.0.1:1/x")
	if got := imageRows(e.ok("image", "ls")); !slices.Equal(got, before) {
		t.Fatalf("failed pulls changed the list:\n%s", got)
	}

	// An image a container uses stays; tag, the aliases, inspect.
	e.ok("run", "--name", "user", "--entrypoint", "true", ref)
	e.fails(1, "in use by container user", "rmi", ref)
	e.ok("rm", "user")
	e.ok("tag", ref, "mine/app:2")
	if got := e.ok("images"); !listed(got, "mine/app", "2", configDigest.Hex[:12]) || !listed(got, reg.addr+"/test/app", "1", configDigest.Hex[:12]) {
		t.Fatalf("images after tag:\n%s", got)
	}
	var inspect []struct {
		ID       string   `json:"Id"`
		RepoTags []string `json:"RepoTags"`
		Config   struct {
			Entrypoint []string
			WorkingDir string
		}
		RootFS struct{ Layers []string }
	}
	if err := json.Unmarshal([]byte(e.ok("image", "inspect", "mine/app:2")), &inspect); err != nil {
		t.Fatal(err)
	}
	if len(inspect) != 1 || inspect[0].ID != configDigest.String() || !slices.Equal(inspect[0].RepoTags, []string{"mine/app:2"}) ||
		inspect[0].Config.WorkingDir != "/app" || len(inspect[0].Config.Entrypoint) != 2 || len(inspect[0].RootFS.Layers) != 2 {
		t.Fatalf("inspect: %+v", inspect)
	}
	e.ok("rmi", "docker.io/mine/app:2")

	// The last image using a layer takes it with it.
	e.ok("image", "rm", ref)
	if n := layers(); n != 2 {
		t.Fatalf("%d layers after removing one of two names, want 2", n)
	}
	e.ok("image", "rm", byDigest)
	if n := layers(); n != 0 {
		t.Fatalf("%d layers after removing the last image using them, want 0", n)
	}

	// system reset takes the layers with the rest.
	e.ok("pull", ref)
	e.ok("system", "reset", "-f")
	if _, err := os.Stat(e.root); !os.IsNotExist(err) {
		ents, _ := os.ReadDir(filepath.Join(e.root, "images"))
		t.Fatalf("root after system reset: %v (images: %v)", err, ents)
	}
}

// A registry serving a layer whose bytes do not match its digest: the pull fails and leaves no
// image and no layer of it.
func TestImagePullTamperedLayer(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "tampered")
	reg.push(t, "test/bad:1", img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(reg.storage, "docker/registry/v2/blobs/sha256", d.Hex[:2], d.Hex, "data")
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff // same size, other bytes
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails(1, "error verifying sha256 checksum", "pull", reg.addr+"/test/bad:1")
	if got := e.ok("image", "ls"); strings.Contains(got, "test/bad") {
		t.Fatalf("a failed pull is listed:\n%s", got)
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "images", ".layers"))
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".") {
			t.Errorf("temp layer dir left: %s", ent.Name())
		}
	}
}

// listed reports whether `image ls` output has a row with these REPOSITORY, TAG and IMAGE ID.
func listed(ls, repo, tag, id string) bool {
	for _, line := range strings.Split(ls, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == repo && f[1] == tag && f[2] == id {
			return true
		}
	}
	return false
}

// With no network, a pull of a Docker Hub name fails at once with one line. The pull runs in a
// private mount namespace whose /etc/resolv.conf names only a fake resolver of the test that
// knows no names, so no query and no connection leaves the machine.
func TestImagePullOffline(t *testing.T) {
	e := newEnv(t)
	fake := dnsNewFake(t, "127.77.11.1", 0, dnsAnswer, "203.0.113.1") // NXDOMAIN for every registry
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.77.11.1\noptions attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv,
		hutchBin, "--root", e.root, "pull", "docker.io/library/busybox")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HUTCH_ROOT="} // no proxy settings either
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("pull: %v, stdout %q, stderr %q; want exit 1", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "docker.io/library/busybox:latest") || !strings.Contains(lines[0], "no such host") {
		t.Fatalf("stderr %q, want one line naming the image and the failed lookup", stderr.String())
	}
	if fake.count("index.docker.io") == 0 {
		t.Fatalf("the fake resolver got no query for index.docker.io (got %d queries): the pull did not use it", fake.total())
	}
	t.Logf("failed in %v", time.Since(start)) // "a few seconds": how fast is measured, not asserted
	if got := e.ok("image", "ls"); strings.Count(got, "\n") != 0 {
		t.Fatalf("a failed pull is listed:\n%s", got)
	}
}

// imageRows is `image ls` without the CREATED column, which ages between two listings.
func imageRows(ls string) []string {
	var rows []string
	for _, line := range strings.Split(ls, "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows = append(rows, strings.Join(f[:3], " "))
		}
	}
	return rows
}

// A registry that takes the connection and never answers: the pull fails within seconds (the
// transport bounds the wait for a response's headers), with one line, exit 1, nothing listed.
func TestImagePullRegistryHangs(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64) // held open, never read from, never written to
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	})
	start := time.Now()
	e.fails(1, "timeout awaiting response headers", "pull", l.Addr().String()+"/hang/app:1")
	took := time.Since(start)
	if len(accepted) == 0 {
		t.Fatal("the pull never connected to the silent registry")
	}
	t.Logf("failed in %v", took) // how fast is measured, not asserted
	if got := e.ok("image", "ls"); strings.Count(got, "\n") != 0 {
		t.Fatalf("a failed pull is listed:\n%s", got)
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "images", ".layers"))
	if len(ents) != 0 {
		t.Fatalf("left in the layer store: %v", ents)
	}
}

// bigImage is five layers of 4 MB that gzip cannot shrink: a pull that takes a while.
func bigImage(t *testing.T) v1.Image {
	t.Helper()
	var layers []v1.Layer
	for i := 0; i < 5; i++ {
		data := make([]byte, 4<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, tarLayer(t, fmt.Sprintf("layer%d/", i), "", fmt.Sprintf("layer%d/data", i), string(data)))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return withConfig(t, img, func(cfg *v1.ConfigFile) { cfg.OS, cfg.Architecture = "linux", "amd64" })
}

// Off a terminal, pull writes a plain line per layer's change, Docker's words; on a real pty,
// each layer keeps one row, rewritten in place, with its bytes so far.
func TestImagePullProgress(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := bigImage(t)
	digest := reg.push(t, "test/big:1", img)
	ref := reg.addr + "/test/big:1"
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(manifest.Layers))
	for i, l := range manifest.Layers {
		ids[i] = l.Digest.Hex[:12]
	}

	out := e.ok("pull", ref)
	want := []string{"1: Pulling from test/big"}
	for _, id := range ids {
		want = append(want, id+": Pulling fs layer")
	}
	for _, id := range ids {
		want = append(want, id+": Download complete", id+": Pull complete")
	}
	want = append(want, "Digest: "+digest, "Status: Downloaded newer image for "+ref, ref)
	if got := strings.Split(out, "\n"); !slices.Equal(got, want) {
		t.Fatalf("pull off a terminal said\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	e.ok("rmi", ref)

	p := e.runStartPty(24, 120, "pull", ref)
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("pull on a pty: exit %d\n%q", code, p.output())
	}
	got := p.output()
	for _, w := range []string{"1: Pulling from test/big\n", ids[0] + ": Pulling fs layer\n", "\x1b[5A\x1b[2K" + ids[0] + ": Downloading [",
		"\x1b[1A\x1b[2K" + ids[4] + ": Pull complete", "MB/4.2MB", "Digest: " + digest + "\n", "Status: Downloaded newer image for " + ref + "\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("pull on a pty: no %q in\n%q", w, got)
		}
	}
	// Pulled again with every layer in: each row says so.
	e.ok("rmi", ref)
	e.ok("pull", ref)
	if out := e.ok("pull", reg.addr+"/test/big@"+digest); strings.Count(out, ": Already exists") != 5 {
		t.Errorf("a pull with every layer stored said\n%s", out)
	}
	if out := e.ok("pull", ref); !strings.Contains(out, "\nStatus: Image is up to date for "+ref+"\n") {
		t.Errorf("a pull of what the name has said\n%s", out)
	}
}

// A pull killed (SIGKILL) at points spread over its run leaves no image listed, and the next
// pull succeeds; a download directory of a dead pull is swept.
func TestImagePullKilled(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	reg.push(t, "test/big:1", bigImage(t))
	ref := reg.addr + "/test/big:1"
	start := time.Now()
	e.ok("pull", ref)
	took := time.Since(start)
	e.ok("rmi", ref)
	for i := 0; i < 8; i++ {
		cmd := e.command("pull", ref)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(mrand.Int63n(int64(took))))
		cmd.Process.Kill() // SIGKILL, by its pid: ours
		cmd.Wait()
		ls := e.ok("image", "ls")
		if strings.Contains(ls, "test/big") {
			// It finished before the kill: a whole image, which runs.
			e.ok("rmi", ref)
		}
	}
	e.ok("pull", ref)
	// Every layer whole: its 4 MB file in its diff directory.
	for i := 0; i < 5; i++ {
		files, _ := filepath.Glob(filepath.Join(e.root, "images", ".layers", "*", "diff", fmt.Sprintf("layer%d", i), "data"))
		if len(files) != 1 {
			t.Fatalf("layer %d: %d data files stored, want 1", i, len(files))
		}
		if st, err := os.Stat(files[0]); err != nil || st.Size() != 4<<20 {
			t.Errorf("layer %d: %v %v, want 4 MiB", i, st, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "images", ".layers"))
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".") {
			t.Errorf("left in the layer store after a whole pull: %s", ent.Name())
		}
	}
	if got := e.ok("image", "ls"); !strings.Contains(got, "test/big") {
		t.Fatalf("the pull after the killed ones is not listed:\n%s", got)
	}
}
