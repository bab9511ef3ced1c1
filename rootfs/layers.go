package rootfs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Layers are content-addressed by their diffID (the sha256 of the uncompressed tar) and shared
// between images: <dir>/.layers/<hex>/{layer.json,diff/}. The diff directory is an overlayfs
// lower layer, with OCI whiteouts already turned into overlayfs ones.
const (
	layersDir      = ".layers"
	layerDiff      = "diff"
	layerMeta      = "layer.json"
	layerBlob      = "blob"   // the layer as pulled or loaded (Layer.Digest), kept for save
	pullPrefix     = ".pull-" // a running pull's downloads, <layers>/.pull-X/ with .pull-X.lock held
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Layer is the metadata stored beside a layer's directory.
type Layer struct {
	DiffID string `json:"DiffID"`           // sha256 of the uncompressed tar
	Digest string `json:"Digest,omitempty"` // sha256 of the blob as pulled (compressed)
	Size   int64  `json:"Size"`             // bytes of regular files
}

// digestHex checks that d is "sha256:" and 64 lowercase hex digits, and returns the hex: it
// names a directory, so nothing else may pass.
func digestHex(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("invalid digest %q", d)
	}
	return h, nil
}

func (s *Store) layerDir(diffID string) (string, error) {
	h, err := digestHex(diffID)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, layersDir, h), nil
}

// layerDirs returns the image's lower directories for overlayfs, top layer first.
func (s *Store) layerDirs(img Image) ([]string, error) {
	dirs := make([]string, 0, len(img.Layers))
	for i := len(img.Layers) - 1; i >= 0; i-- {
		d, err := s.layerDir(img.Layers[i])
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(d, layerDiff))
	}
	return dirs, nil
}

// hasLayer reports whether the layer is complete in the store (a layer is renamed into place
// whole, so its directory existing is enough).
func (s *Store) hasLayer(diffID string) bool {
	d, err := s.layerDir(diffID)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(d, layerMeta))
	return err == nil
}

// addLayer extracts the uncompressed layer tar r into a temp directory, checks that its sha256
// is diffID, and renames it into place. The caller holds the lock and has checked hasLayer.
// r is read to its end, so that a verifying reader underneath sees all of the blob. blob, if
// not "", is the file r was read from (its sha256 is digest): it is kept beside the layer so that
// save writes the layer as it came, with the same digests.
func (s *Store) addLayer(diffID, digest, blob string, r io.Reader) (l Layer, err error) {
	final, err := s.layerDir(diffID)
	if err != nil {
		return Layer{}, err
	}
	parent := filepath.Join(s.dir, layersDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Layer{}, fmt.Errorf("create layer store: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, tmpPrefix)
	if err != nil {
		return Layer{}, fmt.Errorf("create layer dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	root := filepath.Join(tmp, layerDiff)
	if err := mkdirMode(root, 0o755); err != nil {
		return Layer{}, err
	}
	h := sha256.New()
	tee := io.TeeReader(r, h)
	size, err := extractTar(tee, root, true)
	if errors.Is(err, errEmpty) {
		err = nil // a layer may add nothing (an ENV step, say)
	}
	if err != nil {
		return Layer{}, err
	}
	// Past the tar's end marker: the rest is padding, but it is part of the digest.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return Layer{}, fmt.Errorf("read layer: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return Layer{}, fmt.Errorf("layer %s: content has digest %s", diffID, got)
	}
	if blob != "" {
		if err := os.Link(blob, filepath.Join(tmp, layerBlob)); err != nil {
			return Layer{}, fmt.Errorf("keep layer blob: %w", err)
		}
	}
	l = Layer{DiffID: diffID, Digest: digest, Size: size}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return Layer{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, layerMeta), append(data, '\n'), 0o644); err != nil {
		return Layer{}, fmt.Errorf("write %s: %w", layerMeta, err)
	}
	if err := syncDir(tmp); err != nil {
		return Layer{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return Layer{}, fmt.Errorf("install layer %s: %w", diffID, err)
	}
	return l, nil
}

// removeUnusedLayers deletes the layers no image names. The caller holds the lock, so no pull is
// half-way; a layer left by a pull that died is kept until an image removal, for the next pull
// to reuse.
func (s *Store) removeUnusedLayers() error {
	entries, err := os.ReadDir(filepath.Join(s.dir, layersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list layers: %w", err)
	}
	imgs, err := s.List()
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	var errs []error
	for _, e := range entries {
		if used[e.Name()] || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.dir, layersDir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("remove layer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// whiteout applies an OCI whiteout entry as overlayfs expects it in a lower layer:
// ".wh..wh..opq" marks its directory opaque (the layers below are hidden), ".wh.NAME" becomes a
// 0/0 character device at NAME (NAME below is hidden). The directory is opened beneath the layer
// root like any entry's, so a whiteout cannot reach out of it.
func (x *extractor) whiteout(name string) error {
	dirfd, err := x.openDir(path.Dir(name), true)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	base := path.Base(name)
	if base == opaqueMarker {
		if err := unix.Fsetxattr(dirfd, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("mark directory opaque: %w", err)
		}
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." || strings.HasPrefix(target, whiteoutPrefix) {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	if err := x.replace(dirfd, target, path.Join(path.Dir(name), target)); err != nil {
		return err
	}
	if err := unix.Mknodat(dirfd, target, unix.S_IFCHR, int(unix.Mkdev(0, 0))); err != nil {
		return fmt.Errorf("create whiteout: %w", err)
	}
	return nil
}
