package rootfs

import (
	"archive/tar"
	"bytes"
	"os"
	"strings"
	"testing"
)

// A config that is not compact JSON (its digest names these bytes) goes out of save byte for
// byte, after load and after tag, so the image keeps its ID; the layer keeps its digest.
func TestSaveKeepsConfigBytes(t *testing.T) {
	s := NewStore(t.TempDir())
	layer, diffID := layerTar(t, tar.Header{Name: "hello", Typeflag: tar.TypeReg, Linkname: "hi\n"})
	config := "{\n  \"architecture\": \"amd64\",  \"os\": \"linux\",\n  \"rootfs\": {\"type\": \"layers\", \"diff_ids\": [\"" + diffID + "\"]}\n}\n"
	in := archiveOf(t,
		member{name: "l/layer.tar", body: string(layer)},
		member{name: "c.json", body: config},
		member{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["keep/config:1"],"Layers":["l/layer.tar"]}]`},
	)
	names, err := s.Load(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "keep/config:1" {
		t.Fatalf("loaded %v", names)
	}
	if _, err := s.Tag("keep/config:1", "other/name:2"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keep/config:1", "other/name:2"} {
		var out bytes.Buffer
		if err := s.Save(&out, []string{name}); err != nil {
			t.Fatal(err)
		}
		files, err := spoolArchive(&out, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		read := func(n string) ([]byte, error) { return os.ReadFile(files[n].path) }
		imgs, err := planArchive(files, read)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 || len(imgs[0].Layers) != 1 || !strings.HasSuffix(imgs[0].Tags[0], name) {
			t.Fatalf("%s: saved %+v", name, imgs)
		}
		if got, _ := read(imgs[0].Config); string(got) != config {
			t.Errorf("%s: saved config %q, want %q", name, got, config)
		}
		if got := files[imgs[0].Layers[0]].digest; got != diffID {
			t.Errorf("%s: saved layer has digest %s, want %s", name, got, diffID)
		}
		// With OCI's view of the same archive: the manifest names the same blobs.
		delete(files, "manifest.json")
		oci, err := planArchive(files, read)
		if err != nil || len(oci) != 1 || oci[0].Config != imgs[0].Config || oci[0].Digests[0] != diffID {
			t.Errorf("%s: as an OCI layout: %+v, %v", name, oci, err)
		}
	}
}
