package rootfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/flock"
)

func layerTar(t *testing.T, entries ...tar.Header) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h := h
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Linkname))
		}
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

func TestAddLayerWhiteouts(t *testing.T) {
	s := NewStore(t.TempDir())
	data, diffID := layerTar(t,
		tar.Header{Name: "keep", Typeflag: tar.TypeReg, Linkname: "kept"}, // Linkname: the body
		tar.Header{Name: ".wh.gone", Typeflag: tar.TypeReg},
		tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg},
		tar.Header{Name: "d/new", Typeflag: tar.TypeReg, Linkname: "x"},
	)
	l, err := s.addLayer(diffID, "", "", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if l.Size != 5 || !s.hasLayer(diffID) {
		t.Fatalf("layer %+v, present %v", l, s.hasLayer(diffID))
	}
	dirs, err := s.layerDirs(Image{Layers: []string{diffID}})
	if err != nil {
		t.Fatal(err)
	}
	root := dirs[0]
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "gone"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("gone: mode %o rdev %d, want a 0/0 character device", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(root, "d"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("d: opaque xattr %q, %v", buf[:n], err)
	}
	for _, name := range []string{".wh.gone", "d/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
			t.Errorf("%s was extracted as a file", name)
		}
	}
}

func TestAddLayerRefused(t *testing.T) {
	good, goodID := layerTar(t, tar.Header{Name: "a", Typeflag: tar.TypeReg, Linkname: "a"})
	escape, escapeID := layerTar(t, tar.Header{Name: "../.wh.etc", Typeflag: tar.TypeReg})
	badWh, badWhID := layerTar(t, tar.Header{Name: "x/.wh...", Typeflag: tar.TypeReg})
	viaLink, viaLinkID := layerTar(t,
		tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
		tar.Header{Name: "l/.wh.passwd", Typeflag: tar.TypeReg})
	for _, tc := range []struct {
		name   string
		data   []byte
		diffID string
		want   string
	}{
		{"wrong digest", good, "sha256:" + sixtyFour, "content has digest " + goodID},
		{"not a digest", good, "sha256:../../x", "invalid digest"},
		{"whiteout above the root", escape, escapeID, "escapes"},
		{"whiteout of ..", badWh, badWhID, "invalid whiteout"},
		{"whiteout through a symlink", viaLink, viaLinkID, "symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := NewStore(dir)
			_, err := s.addLayer(tc.diffID, "", "", bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			left, _ := os.ReadDir(filepath.Join(dir, layersDir))
			if len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// A pull killed half-way leaves a temp layer dir and its download dir: the next locked
// operation sweeps them, and keeps the complete layers for the next pull to reuse.
func TestLockSweepsHalfPulledLayers(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	data, diffID := layerTar(t, tar.Header{Name: "a", Typeflag: tar.TypeReg, Linkname: "a"})
	if _, err := s.addLayer(diffID, "", "", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, layersDir, tmpPrefix+"123", layerDiff)
	if err := os.MkdirAll(half, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two pulls' download dirs: one whose pull died (its lock is free), one running.
	dead := filepath.Join(dir, layersDir, pullPrefix+"dead")
	live := filepath.Join(dir, layersDir, pullPrefix+"live")
	for _, d := range []string{dead, live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "blob-1"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(dead+".lock", nil, 0o600)
	release, err := flock.Exclusive(live + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	unlock, err := s.lock()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := os.Stat(filepath.Join(live, "blob-1")); err != nil {
		t.Fatalf("a running pull's download was swept: %v", err)
	}
	release()
	os.RemoveAll(live)
	os.Remove(live + ".lock")
	left, _ := os.ReadDir(filepath.Join(dir, layersDir))
	if len(left) != 1 || !s.hasLayer(diffID) {
		t.Fatalf("after the sweep: %v, complete layer kept: %v", left, s.hasLayer(diffID))
	}
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Fatalf("images %v, %v: a layer alone is no image", imgs, err)
	}
}
