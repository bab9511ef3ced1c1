//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func needSkopeo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed (make deps)")
	}
}

// skopeoInspect runs `skopeo inspect [--config] TRANSPORT:FILE` and decodes its JSON.
func skopeoInspect(t *testing.T, v any, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("skopeo", append([]string{"inspect"}, args...)...).Output()
	if err != nil {
		t.Fatalf("skopeo inspect %v: %v", args, err)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("skopeo inspect %v: %v: %s", args, err, out)
		}
	}
	return out
}

// tarNames lists the members of a tar file.
func tarNames(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
	}
	return names
}

// storeLeftovers lists what a failed load may not leave: layers and temp dirs.
func storeLeftovers(t *testing.T, e *env) []string {
	t.Helper()
	var left []string
	images := filepath.Join(e.root, "images")
	for _, dir := range []string{images, filepath.Join(images, ".layers")} {
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			if n := ent.Name(); n != ".layers" && n != ".lock" && n != "busybox" {
				left = append(left, filepath.Join(dir, n))
			}
		}
	}
	return left
}

// TestImageSaveLoad: a pulled image saved by hutch is a docker-archive and an OCI archive at
// once, as skopeo reads them; removed and loaded again (from a file and from stdin) it is the
// same image and runs. The built-in busybox saves and loads too.
func TestImageSaveLoad(t *testing.T) {
	needSkopeo(t)
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "saved")
	reg.push(t, "test/app:1", img)
	ref := reg.addr + "/test/app:1"
	e.ok("pull", ref)
	configDigest, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var blobDigests, diffIDs []string
	for i, l := range manifest.Layers {
		blobDigests = append(blobDigests, l.Digest.String())
		diffIDs = append(diffIDs, cfg.RootFS.DiffIDs[i].String())
	}

	dir := t.TempDir()
	saved := filepath.Join(dir, "app.tar")
	if out := e.ok("save", "-o", saved, ref); out != "" {
		t.Fatalf("save -o printed %q", out)
	}
	names := tarNames(t, saved)
	for _, want := range []string{"oci-layout", "index.json", "manifest.json", "repositories",
		"blobs/sha256/" + configDigest.Hex} {
		if !slices.Contains(names, want) {
			t.Errorf("saved archive has no %s: %v", want, names)
		}
	}

	// As skopeo reads it, both ways: the layers as the registry had them, the same config.
	var oci struct{ Layers []string }
	skopeoInspect(t, &oci, "oci-archive:"+saved)
	if !slices.Equal(oci.Layers, blobDigests) {
		t.Errorf("oci-archive layers %v, want the pulled blobs %v", oci.Layers, blobDigests)
	}
	var docker struct {
		RepoTags []string
		Layers   []string
	}
	skopeoInspect(t, &docker, "docker-archive:"+saved)
	if len(docker.Layers) != len(diffIDs) {
		t.Errorf("docker-archive layers %v, want %d", docker.Layers, len(diffIDs))
	}
	for _, transport := range []string{"oci-archive:", "docker-archive:"} {
		raw := skopeoInspect(t, nil, "--config", "--raw", transport+saved)
		sum := sha256.Sum256(raw)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != configDigest.String() {
			t.Errorf("%s config has digest %s, want %s", transport, got, configDigest)
		}
		var c v1.ConfigFile
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range c.RootFS.DiffIDs {
			got = append(got, d.String())
		}
		if !slices.Equal(got, diffIDs) {
			t.Errorf("%s diff_ids %v, want %v", transport, got, diffIDs)
		}
	}
	var entries []struct{ RepoTags []string }
	if err := json.Unmarshal(tarFile(t, saved, "manifest.json"), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !slices.Equal(entries[0].RepoTags, []string{ref}) {
		t.Errorf("manifest.json RepoTags %+v, want [%s]", entries, ref)
	}

	// To stdout when it is not a terminal: the same bytes.
	r := e.run("save", ref)
	if r.code != 0 || r.stdout != string(mustRead(t, saved)) {
		t.Fatalf("save to stdout: exit %d, %d bytes, want the %d of -o", r.code, len(r.stdout), len(mustRead(t, saved)))
	}

	// Removed, then loaded: the same image, which runs.
	e.ok("rmi", ref)
	if left := storeLeftovers(t, e); len(left) != 0 {
		t.Fatalf("after rmi: %v", left)
	}
	if out := e.ok("load", "-i", saved); out != "Loaded image: "+ref {
		t.Fatalf("load said %q", out)
	}
	if got := e.ok("run", "--rm", ref); got != "hi from /app" {
		t.Fatalf("run of the loaded image: %q", got)
	}
	if got := e.ok("run", "--rm", "--entrypoint", "/bin/sh", ref, "-c", "ls /secret 2>&1; ls /opq"); got != "ls: /secret: No such file or directory\nnew" {
		t.Fatalf("whiteouts of the loaded image: %q", got)
	}
	var inspect []struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal([]byte(e.ok("image", "inspect", ref)), &inspect); err != nil {
		t.Fatal(err)
	}
	if len(inspect) != 1 || inspect[0].ID != configDigest.String() {
		t.Fatalf("loaded image id %+v, want %s", inspect, configDigest)
	}
	// Saved again, a loaded image gives the same archive; loaded from stdin it replaces itself.
	again := filepath.Join(dir, "again.tar")
	e.ok("save", "-o", again, ref)
	if !bytes.Equal(mustRead(t, again), mustRead(t, saved)) {
		t.Errorf("a loaded image saves to another archive")
	}
	e.ok("rmi", ref)
	if out := e.runStdin(string(mustRead(t, saved)), "load", "-q"); out.code != 0 || strings.TrimSpace(out.stdout) != "Loaded image: "+ref {
		t.Fatalf("load from stdin: %s", out)
	}

	// A gzip'd archive loads as Docker's does.
	e.ok("rmi", ref)
	gz := filepath.Join(dir, "app.tar.gz")
	if out, err := exec.Command("sh", "-c", "gzip -c "+saved+" > "+gz).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	if out := e.ok("load", "-i", gz); out != "Loaded image: "+ref {
		t.Fatalf("load of the gzip'd archive said %q", out)
	}

	// The built-in busybox: one layer made from its root filesystem.
	bb := filepath.Join(dir, "busybox.tar")
	e.ok("save", "-o", bb, "busybox")
	var bbInfo struct{ Layers []string }
	skopeoInspect(t, &bbInfo, "docker-archive:"+bb)
	skopeoInspect(t, nil, "oci-archive:"+bb)
	if len(bbInfo.Layers) != 1 {
		t.Fatalf("busybox saved with layers %v, want one", bbInfo.Layers)
	}
	if out := e.ok("load", "-i", bb); out != "Loaded image: busybox:latest" {
		t.Fatalf("load busybox said %q", out)
	}
	if got := e.ok("run", "--rm", "docker.io/library/busybox:latest", "echo", "loaded"); got != "loaded" {
		t.Fatalf("run loaded busybox: %q", got)
	}

	// Images that are not there, and no output file left by a failed save.
	e.fails(1, "no such image", "save", "-o", filepath.Join(dir, "none.tar"), "nosuch/image:1")
	if _, err := os.Stat(filepath.Join(dir, "none.tar")); !os.IsNotExist(err) {
		t.Errorf("failed save left its output: %v", err)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, ".none.tar.tmp-*")); len(ents) != 0 {
		t.Errorf("failed save left %v", ents)
	}
}

// TestImageLoadSkopeo: archives skopeo writes from a registry, docker-archive and oci-archive,
// named or not, load and run; an unnamed one by its ID, which also removes it.
func TestImageLoadSkopeo(t *testing.T) {
	needSkopeo(t)
	e := newEnv(t)
	reg := startRegistry(t)
	reg.push(t, "test/sk:1", appImage(t, e, "skopeo"))
	dir := t.TempDir()
	var names []string
	var untaggedID string
	for i, tc := range []struct{ transport, ref, name string }{
		{"docker-archive", ":sk/docker:2", "sk/docker:2"},
		{"oci-archive", ":sk/oci:3", "sk/oci:3"},
		{"oci-archive", "", ""}, // its ID
	} {
		file := filepath.Join(dir, fmt.Sprintf("%d.tar", i))
		dest := tc.transport + ":" + file + tc.ref
		cmd := exec.Command("skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://"+reg.addr+"/test/sk:1", dest)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy to %s: %v %s", dest, err, out)
		}
		// The ID is the digest of the config as skopeo wrote it (to OCI it writes another).
		sum := sha256.Sum256(skopeoInspect(t, nil, "--config", "--raw", tc.transport+":"+file))
		id := "sha256:" + hex.EncodeToString(sum[:])
		if tc.name == "" {
			tc.name, untaggedID = id, id
		}
		names = append(names, tc.name)
		want := "Loaded image: " + tc.name
		if tc.ref == "" {
			want = "Loaded image ID: " + tc.name
		}
		if out := e.ok("load", "-i", file); out != want {
			t.Fatalf("load of %s said %q, want %q", dest, out, want)
		}
		if got := e.ok("run", "--rm", tc.name); got != "hi from /app" {
			t.Fatalf("run %s: %q", tc.name, got)
		}
		var inspect []struct {
			ID       string `json:"Id"`
			RepoTags []string
		}
		if err := json.Unmarshal([]byte(e.ok("image", "inspect", tc.name)), &inspect); err != nil {
			t.Fatal(err)
		}
		if len(inspect) != 1 || inspect[0].ID != id || (tc.ref == "") != (len(inspect[0].RepoTags) == 0) {
			t.Fatalf("inspect %s: %+v, want id %s", tc.name, inspect, id)
		}
	}
	if !listed(e.ok("images"), "<none>", "<none>", untaggedID[7:19]) {
		t.Fatalf("the unnamed image is not listed as <none>:\n%s", e.ok("images"))
	}
	for _, n := range names {
		e.ok("rmi", n)
	}
	if left := storeLeftovers(t, e); len(left) != 0 {
		t.Fatalf("left after rmi: %v", left)
	}
}

// TestImageLoadBadInput: what is not an image archive, or is a lying or malicious one, fails
// with one line and exit 1, and leaves no layer, record or temp dir.
func TestImageLoadBadInput(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	goodLayer := tarBytes(t, tarEntry{name: "hello", body: "hello\n"})
	badLayer := tarBytes(t, tarEntry{name: "../escape", body: "out\n"})
	linkLayer := tarBytes(t, tarEntry{name: "hello", body: "hello\n"}, tarEntry{name: "abs", link: "/etc/passwd", typ: tar.TypeLink})
	config := func(layers ...[]byte) []byte {
		var ids []string
		for _, l := range layers {
			sum := sha256.Sum256(l)
			ids = append(ids, "sha256:"+hex.EncodeToString(sum[:]))
		}
		data, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
		return data
	}
	// A docker-archive in the old shape: per-layer directories with layer.tar.
	archive := func(cfg []byte, layers ...[]byte) []byte {
		var ents []tarEntry
		var paths []string
		for i, l := range layers {
			p := strings.Repeat("a", 63) + string(rune('0'+i)) + "/layer.tar"
			ents = append(ents, tarEntry{name: p, body: string(l)})
			paths = append(paths, p)
		}
		man, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{"bad/img:1"}, "Layers": paths}})
		ents = append(ents, tarEntry{name: "config.json", body: string(cfg)}, tarEntry{name: "manifest.json", body: string(man)})
		return tarBytes(t, ents...)
	}
	otherLayer := tarBytes(t, tarEntry{name: "other", body: "other\n"})
	wrongID := config(goodLayer, otherLayer) // the second layer's diffID is not its content's
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"notatar", "not an image archive", []byte("this is not a tar archive at all, not even close\n")},
		{"nomanifest", "no manifest.json or index.json", tarBytes(t, tarEntry{name: "hello", body: "x"})},
		{"badmanifest", "manifest.json", tarBytes(t, tarEntry{name: "manifest.json", body: "[{"})},
		{"missinglayer", "is not in the archive", tarBytes(t, tarEntry{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}]`}, tarEntry{name: "c.json", body: string(config(goodLayer))})},
		{"diffid", "content has digest", archive(wrongID, goodLayer, tarBytes(t, tarEntry{name: "liar", body: "x"}))},
		{"escape", "escapes", archive(config(goodLayer, badLayer), goodLayer, badLayer)},
		{"hardlinkout", "hard link target", archive(config(goodLayer, linkLayer), goodLayer, linkLayer)},
	} {
		p := filepath.Join(dir, tc.name+".tar")
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.fails(1, tc.want, "load", "-i", p)
		t.Logf("%s: %s", tc.name, strings.TrimSpace(r.stderr))
		if left := storeLeftovers(t, e); len(left) != 0 {
			t.Errorf("%s: left %v", tc.name, left)
		}
		if ls := imageRows(e.ok("image", "ls")); len(ls) != 1 { // the header
			t.Errorf("%s: listed %v", tc.name, ls)
		}
	}
	// The same archive shape with honest layers loads and runs nothing but its files.
	good := filepath.Join(dir, "good.tar")
	os.WriteFile(good, archive(config(goodLayer), goodLayer), 0o644)
	if out := e.ok("load", "-i", good); out != "Loaded image: bad/img:1" {
		t.Fatalf("load of the honest archive said %q", out)
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte
}

func tarBytes(t *testing.T, ents ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, en := range ents {
		hdr := &tar.Header{Name: en.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(en.body)), ModTime: time.Unix(1e9, 0)}
		if en.typ != 0 {
			hdr.Typeflag, hdr.Linkname, hdr.Size = en.typ, en.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(en.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarFile(t *testing.T, p, name string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no %s", p, name)
		}
		if hdr.Name == name {
			var buf bytes.Buffer
			buf.ReadFrom(tr)
			return buf.Bytes()
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestImageLoadKilled: a load killed with SIGKILL at some point of its work (spooling the
// archive, unpacking a layer, or done) leaves the image listed whole or not at all; the next
// load works, and removing the image leaves no layer, download or temp dir.
func TestImageLoadKilled(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "bb.tar")
	e.ok("save", "-o", archive, "busybox")
	const name = "docker.io/library/busybox:latest"
	for i := 0; i < 4; i++ {
		cmd := e.command("load", "-i", archive)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill it once its download dir is there (i even), or once a layer is being unpacked
		// (i odd), or when it is done if it gets there first.
		pattern := filepath.Join(e.root, "images", ".layers", ".pull-*")
		if i%2 == 1 {
			pattern = filepath.Join(e.root, "images", ".layers", ".tmp-*")
		}
		exited := false
		for deadline := time.Now().Add(30 * time.Second); !exited && time.Now().Before(deadline); {
			if m, _ := filepath.Glob(pattern); len(m) > 0 {
				break
			}
			select {
			case <-done:
				exited = true
			case <-time.After(time.Millisecond):
			}
		}
		if !exited {
			cmd.Process.Kill() // by its pid: ours
			<-done
		}
		// By its full name: the built-in busybox is listed as busybox too.
		listed := e.run("image", "inspect", name).code == 0
		t.Logf("round %d: killed %v, image listed after %v", i, !exited, listed)
		if listed {
			// Whole: it runs.
			if got := e.ok("run", "--rm", name, "echo", "whole"); got != "whole" {
				t.Fatalf("round %d: a listed image after kill runs %q", i, got)
			}
		}
		if out := e.ok("load", "-i", archive); out != "Loaded image: busybox:latest" {
			t.Fatalf("round %d: load after kill said %q", i, out)
		}
		if got := e.ok("run", "--rm", name, "echo", "ok"); got != "ok" {
			t.Fatalf("round %d: run after kill and load: %q", i, got)
		}
		e.ok("rmi", name)
		if left := storeLeftovers(t, e); len(left) != 0 {
			t.Fatalf("round %d: left after rmi: %v", i, left)
		}
	}
}

// TestImageSaveLoadTerminal: save will not write an archive to a terminal, and load will not
// read one from it, as Docker.
func TestImageSaveLoadTerminal(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"save", "busybox"}, "cowardly refusing to save to a terminal"},
		{[]string{"load"}, "requested load from stdin, but stdin is empty"},
	} {
		p := e.runStartPty(24, 80, tc.args...)
		if code := p.wait(30 * time.Second); code != 1 {
			t.Fatalf("%v on a terminal: exit %d, %q", tc.args, code, p.output())
		}
		p.waitOutput(regexp.MustCompile(regexp.QuoteMeta(tc.want)), 10*time.Second) // the reader may lag the exit
		if out := strings.TrimSpace(p.output()); !strings.Contains(out, tc.want) || strings.Contains(out, "\n") {
			t.Errorf("%v on a terminal said %q, want one line with %q", tc.args, out, tc.want)
		}
	}
	if left := storeLeftovers(t, e); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}
