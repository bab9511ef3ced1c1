package rootfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

type member struct {
	name, body, link string
	typ              byte
}

func archiveOf(t *testing.T, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		hdr := &tar.Header{Name: m.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(m.body))}
		if m.typ != 0 {
			hdr.Typeflag, hdr.Linkname, hdr.Size = m.typ, m.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m.body))
	}
	tw.Close()
	return buf.Bytes()
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobMember(body string) member {
	return member{name: "blobs/sha256/" + strings.TrimPrefix(sha(body), "sha256:"), body: body}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func plan(t *testing.T, data []byte) ([]archiveImage, error) {
	t.Helper()
	files, err := spoolArchive(bytes.NewReader(data), t.TempDir())
	if err != nil {
		return nil, err
	}
	return planArchive(files, func(n string) ([]byte, error) { return os.ReadFile(files[n].path) })
}

// An old docker save: per-layer directories, a layer that is a symlink to an identical one.
func TestPlanDockerArchiveOld(t *testing.T) {
	man := `[{"Config":"abc.json","RepoTags":["x:1","y:2"],"Layers":["l1/layer.tar","l2/layer.tar"]}]`
	imgs, err := plan(t, archiveOf(t,
		member{name: "l1/layer.tar", body: "one"},
		member{name: "l2/layer.tar", typ: tar.TypeSymlink, link: "../l1/layer.tar"},
		member{name: "abc.json", body: "{}"},
		member{name: "manifest.json", body: man},
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || !slices.Equal(imgs[0].Tags, []string{"x:1", "y:2"}) || imgs[0].Config != "abc.json" ||
		!slices.Equal(imgs[0].Layers, []string{"l1/layer.tar", "l2/layer.tar"}) || !slices.Equal(imgs[0].Digests, []string{"", ""}) {
		t.Fatalf("plan: %+v", imgs)
	}
}

// Docker 25's combined archive is read by its manifest.json, which names the tags; an OCI
// layout alone by index.json, its names from the annotations.
func TestPlanFormatChoice(t *testing.T) {
	layer, config := "layer", `{"rootfs":{}}`
	manifest := mustJSON(t, ociManifest{SchemaVersion: 2, MediaType: mediaOCIManifest,
		Config: ociDescriptor{MediaType: mediaOCIConfig, Digest: sha(config)},
		Layers: []ociDescriptor{{MediaType: mediaOCILayer, Digest: sha(layer)}}})
	index := func(a map[string]string) string {
		return mustJSON(t, ociIndex{SchemaVersion: 2, Manifests: []ociDescriptor{{MediaType: mediaOCIManifest, Digest: sha(manifest), Annotations: a}}})
	}
	blobs := []member{blobMember(layer), blobMember(config), blobMember(manifest)}
	dockerMan := mustJSON(t, []dockerManifestEntry{{Config: "blobs/sha256/" + sha(config)[7:], RepoTags: []string{"from/docker:1"},
		Layers: []string{"blobs/sha256/" + sha(layer)[7:]}}})

	for _, tc := range []struct {
		name  string
		extra []member
		tags  []string
		oci   bool
	}{
		{"combined", []member{{name: "index.json", body: index(map[string]string{annotImageName: "docker.io/from/oci:1"})}, {name: "manifest.json", body: dockerMan}}, []string{"from/docker:1"}, false},
		{"containerd name", []member{{name: "index.json", body: index(map[string]string{annotImageName: "docker.io/from/oci:1", annotRefName: "1"})}}, []string{"docker.io/from/oci:1"}, true},
		{"skopeo ref.name", []member{{name: "index.json", body: index(map[string]string{annotRefName: "sk/oci:3"})}}, []string{"sk/oci:3"}, true},
		{"bare tag", []member{{name: "index.json", body: index(map[string]string{annotRefName: "latest"})}}, nil, true},
	} {
		imgs, err := plan(t, archiveOf(t, append(slices.Clone(blobs), tc.extra...)...))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(imgs) != 1 || !slices.Equal(imgs[0].Tags, tc.tags) || len(imgs[0].Layers) != 1 {
			t.Fatalf("%s: %+v", tc.name, imgs)
		}
		if got := imgs[0].Digests[0] != ""; got != tc.oci {
			t.Errorf("%s: read as OCI %v, want %v", tc.name, got, tc.oci)
		}
	}

	// An index of platforms inside the layout: linux/amd64 is taken.
	other := `{"schemaVersion":2,"config":{"digest":"` + sha("nothere") + `"},"layers":[]}`
	nested := mustJSON(t, ociIndex{SchemaVersion: 2, MediaType: mediaOCIIndex, Manifests: []ociDescriptor{
		{MediaType: mediaOCIManifest, Digest: sha(other), Platform: &struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
		}{"arm64", "linux"}},
		{MediaType: mediaOCIManifest, Digest: sha(manifest), Platform: &struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
		}{"amd64", "linux"}},
	}})
	top := mustJSON(t, ociIndex{SchemaVersion: 2, Manifests: []ociDescriptor{{MediaType: mediaOCIIndex, Digest: sha(nested),
		Annotations: map[string]string{annotRefName: "multi/arch:1"}}}})
	imgs, err := plan(t, archiveOf(t, append(slices.Clone(blobs), blobMember(other), blobMember(nested), member{name: "index.json", body: top})...))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Digests[0] != sha(layer) || !slices.Equal(imgs[0].Tags, []string{"multi/arch:1"}) {
		t.Fatalf("nested index: %+v", imgs)
	}
}

func TestPlanBadArchives(t *testing.T) {
	manifest := `{"schemaVersion":2,"config":{"digest":"` + sha("{}") + `"},"layers":[]}`
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"not a tar", "not a tar", []byte(strings.Repeat("x", 1024))},
		{"empty tar", "empty tar", archiveOf(t)},
		{"no manifest", "no manifest.json or index.json", archiveOf(t, member{name: "a", body: "b"})},
		{"empty manifest", "no images", archiveOf(t, member{name: "manifest.json", body: "[]"})},
		{"config missing", "config", archiveOf(t, member{name: "manifest.json", body: `[{"Config":"c.json","Layers":[]}]`})},
		{"config outside", "config", archiveOf(t, member{name: "manifest.json", body: `[{"Config":"../../etc/passwd","Layers":[]}]`})},
		{"blob lies", "has digest", archiveOf(t,
			member{name: "blobs/sha256/" + sha(manifest)[7:], body: manifest + " "},
			member{name: "index.json", body: `{"schemaVersion":2,"manifests":[{"mediaType":"` + mediaOCIManifest + `","digest":"` + sha(manifest) + `"}]}`})},
		{"bad digest", "invalid digest", archiveOf(t,
			member{name: "index.json", body: `{"schemaVersion":2,"manifests":[{"mediaType":"` + mediaOCIManifest + `","digest":"sha256:../../x"}]}`})},
	} {
		_, err := plan(t, tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
