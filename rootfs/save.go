package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// saveBlob is one blob of a saved archive: in memory (JSON) or a file opened under the lock.
type saveBlob struct {
	digest string
	size   int64
	data   []byte
	file   *os.File
}

// Save writes the named images to w as Docker 25 does: one tar that is an OCI image layout
// (oci-layout, index.json, blobs/sha256/) and a docker-archive (manifest.json, repositories)
// naming the same blobs. A pulled or loaded layer is written as it came (the kept blob, so its
// digests are the registry's); an image without layers (busybox, an import) is written as one
// uncompressed layer made from its root filesystem, with a config naming that layer.
func (s *Store) Save(w io.Writer, names []string) error {
	if err := s.save(w, names); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func (s *Store) save(w io.Writer, names []string) error {
	var blobs []*saveBlob
	seen := map[string]bool{}
	add := func(b *saveBlob) {
		if !seen[b.digest] {
			seen[b.digest] = true
			blobs = append(blobs, b)
		}
	}
	defer func() {
		for _, b := range blobs {
			if b.file != nil {
				b.file.Close()
			}
		}
	}()
	var entries []dockerManifestEntry
	index := ociIndex{SchemaVersion: 2, MediaType: mediaOCIIndex, Manifests: []ociDescriptor{}}
	repos := map[string]map[string]string{}
	for _, n := range names {
		img, err := s.Get(n)
		if err != nil {
			return err
		}
		config, layers, err := s.saveLayers(img)
		if err != nil {
			return fmt.Errorf("image %s: %w", n, err)
		}
		man := ociManifest{SchemaVersion: 2, MediaType: mediaOCIManifest,
			Config: ociDescriptor{MediaType: mediaOCIConfig, Digest: config.digest, Size: config.size}}
		add(config)
		entry := dockerManifestEntry{Config: "blobs/sha256/" + strings.TrimPrefix(config.digest, "sha256:")}
		for _, l := range layers {
			mt, err := layerMediaType(l)
			if err != nil {
				return err
			}
			man.Layers = append(man.Layers, ociDescriptor{MediaType: mt, Digest: l.digest, Size: l.size})
			entry.Layers = append(entry.Layers, "blobs/sha256/"+strings.TrimPrefix(l.digest, "sha256:"))
			add(l)
		}
		manData, err := json.Marshal(man)
		if err != nil {
			return err
		}
		mb := memBlob(manData)
		add(mb)
		desc := ociDescriptor{MediaType: mediaOCIManifest, Digest: mb.digest, Size: mb.size}
		entry.RepoTags = []string{}
		if _, untagged := untaggedID(img.Name); untagged { // no name to give it
			entries = append(entries, entry)
			index.Manifests = append(index.Manifests, desc)
			continue
		}
		canon, repo, tag := saveName(img)
		entry.RepoTags = []string{repo + ":" + tag}
		entries = append(entries, entry)
		desc.Annotations = map[string]string{annotImageName: canon, annotRefName: tag}
		index.Manifests = append(index.Manifests, desc)
		if repos[repo] == nil {
			repos[repo] = map[string]string{}
		}
		top := layers[len(layers)-1].digest // a rootfs image's one layer is uncompressed: its diffID
		if len(img.Layers) > 0 {
			top = img.Layers[len(img.Layers)-1]
		}
		repos[repo][tag] = strings.TrimPrefix(top, "sha256:")
	}
	return writeArchive(w, blobs, index, entries, repos)
}

// saveName is the image's names in the archive: canonical, and Docker's familiar repo and tag.
func saveName(img Image) (canon, repo, tag string) {
	canon = img.Name
	if _, c, err := ParseReference(img.Name); err == nil {
		canon = c
	}
	repo, tag = Familiar(canon)
	return canon, repo, tag
}

// saveLayers returns the image's config and layer blobs. For an image without layers it builds
// them.
func (s *Store) saveLayers(img Image) (*saveBlob, []*saveBlob, error) {
	if len(img.Layers) == 0 {
		return s.saveRootfs(img)
	}
	unlock, err := s.lock() // no removal takes a blob between checking and opening it
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	var layers []*saveBlob
	closeAll := func() {
		for _, l := range layers {
			l.file.Close()
		}
	}
	for _, diffID := range img.Layers {
		l, err := s.readLayer(diffID)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		dir, _ := s.layerDir(diffID)
		f, err := os.Open(filepath.Join(dir, layerBlob))
		if err != nil {
			closeAll()
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil, fmt.Errorf("layer %s was stored without its blob (by an older hutch): remove the images using it and pull again", diffID)
			}
			return nil, nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			closeAll()
			return nil, nil, err
		}
		layers = append(layers, &saveBlob{digest: l.Digest, size: fi.Size(), file: f})
	}
	return memBlob(s.storedConfig(img)), layers, nil
}

// storedConfig is the image's config as it was pulled or loaded: the record's copy of its bytes,
// or for a record without one, image.json's re-encoded config compacted, which is the original
// for the compact JSON that registries and Docker write. If even that is not the original, it
// goes out compacted: the same layers and diffIDs, but another image ID.
func (s *Store) storedConfig(img Image) []byte {
	if raw, ok := s.rawConfig(img); ok && configID(raw) == img.ID {
		return raw
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, img.Config); err != nil {
		return img.Config
	}
	return buf.Bytes()
}

// saveRootfs makes the one layer of an image stored as a directory: a tar of its root
// filesystem in a temp file of the store (swept if we die), opened and unlinked at once.
func (s *Store) saveRootfs(img Image) (*saveBlob, []*saveBlob, error) {
	f, err := os.CreateTemp(s.dir, tmpPrefix)
	if err != nil {
		return nil, nil, err
	}
	os.Remove(f.Name())
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if err := writeTar(bw, filepath.Join(s.dir, img.Name, rootfsName)); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return nil, nil, err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	layer := &saveBlob{digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), size: size, file: f}
	cfg := map[string]any{
		"created": img.Created.UTC().Format(time.RFC3339Nano), "architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}}, // what runs when the image names none
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.digest}},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return memBlob(data), []*saveBlob{layer}, nil
}

func configID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func memBlob(data []byte) *saveBlob {
	sum := sha256.Sum256(data)
	return &saveBlob{digest: "sha256:" + hex.EncodeToString(sum[:]), size: int64(len(data)), data: data}
}

// layerMediaType tells a layer blob's compression by its magic bytes.
func layerMediaType(b *saveBlob) (string, error) {
	magic := make([]byte, 4)
	n, err := b.file.ReadAt(magic, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	magic = magic[:n]
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return mediaOCILayer + "+gzip", nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return mediaOCILayer + "+zstd", nil
	}
	return mediaOCILayer, nil
}

func writeArchive(w io.Writer, blobs []*saveBlob, index ociIndex, entries []dockerManifestEntry, repos map[string]map[string]string) error {
	tw := tar.NewWriter(w)
	now := time.Unix(0, 0)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: now})
	}
	file := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: now}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	jsonFile := func(name string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return file(name, int64(len(data)), bytes.NewReader(data))
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range blobs {
		var r io.Reader = bytes.NewReader(b.data)
		if b.file != nil {
			r = io.NewSectionReader(b.file, 0, b.size)
		}
		if err := file("blobs/sha256/"+strings.TrimPrefix(b.digest, "sha256:"), b.size, r); err != nil {
			return err
		}
	}
	if err := jsonFile("index.json", index); err != nil {
		return err
	}
	if err := jsonFile("manifest.json", entries); err != nil {
		return err
	}
	if err := jsonFile("oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"}); err != nil {
		return err
	}
	if err := jsonFile("repositories", repos); err != nil {
		return err
	}
	return tw.Close()
}
