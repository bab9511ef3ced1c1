// Package rootfs is the image store: unpacked root filesystems under <root>/images, the
// built-in busybox image, and import of rootfs directories and tarballs.
package rootfs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/flock"
)

// ErrNotFound is returned, wrapped with the name, for an image that is not in the store.
var ErrNotFound = errors.New("no such image")

const (
	busyboxName = "busybox"
	lockName    = ".lock"
	tmpPrefix   = ".tmp-" // every image is built under such a dir, then renamed into place
	metaName    = "image.json"
	configName  = "config.json" // a pulled or loaded image's config, byte for byte
	rootfsName  = "rootfs"
)

// Image is the metadata stored beside an image's root filesystem.
type Image struct {
	Name    string    `json:"Name"`
	ID      string    `json:"Id"`
	Created time.Time `json:"Created"`
	Size    int64     `json:"Size"`   // bytes of regular files in the rootfs
	Source  string    `json:"Source"` // "builtin" for busybox, the imported path, or "pull"

	// A pulled image is its layers (diffIDs, bottom first, as in the OCI config) and its config;
	// an image without layers is the single directory rootfs/ beside image.json.
	Layers []string        `json:"Layers,omitempty"`
	Config json.RawMessage `json:"Config,omitempty"` // the OCI image config, as pulled
	Digest string          `json:"Digest,omitempty"` // the manifest's digest, where pulled
}

// Store keeps images as <dir>/<name>/{image.json,rootfs/}, or for a registry name (which is no
// path component) <dir>/@<sha256 of the name>/image.json with the layers in <dir>/.layers.
type Store struct {
	dir string
}

// NewStore returns the store rooted at dir, which is created on first write.
func NewStore(dir string) *Store {
	return &Store{dir: dir}
}

// ValidName reports whether name may name an image; the rule also keeps it a single safe path
// component.
func ValidName(name string) error {
	if len(name) > 128 || !nameChars(name) {
		shown := fmt.Sprintf("%q", name)
		if len(name) > 64 { // keep an overlong name out of the error line
			shown = fmt.Sprintf("%q... (%d characters)", name[:64], len(name))
		}
		return fmt.Errorf("invalid image name %s: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters)", shown)
	}
	return nil
}

// Normalize strips a trailing ":latest" so that Docker habits ("busybox:latest") work.
func Normalize(name string) string {
	return strings.TrimSuffix(name, ":latest")
}

// RootfsPath is the image's root filesystem, the read-only lower layer of a container's overlay.
// It does not check that the image exists: call Get first.
func (s *Store) RootfsPath(name string) string {
	return filepath.Join(s.dir, Normalize(name), rootfsName)
}

// LowerDirs returns the image's read-only layers for a container's overlay, top first.
func (s *Store) LowerDirs(img Image) ([]string, error) {
	if len(img.Layers) == 0 {
		return []string{filepath.Join(s.dir, img.Name, rootfsName)}, nil
	}
	return s.layerDirs(img)
}

// refKey is the directory of an image stored under a registry name.
func refKey(canon string) string {
	sum := sha256.Sum256([]byte(canon))
	return "@" + hex.EncodeToString(sum[:])
}

// Get returns the named image, building the built-in busybox image on first use. A registry
// name ("busybox", "127.0.0.1:5000/app:1") finds a pulled image first; a plain name without
// one finds an imported image or the built-in busybox.
func (s *Store) Get(name string) (Image, error) {
	img, err := s.Find(name)
	if err == nil || Normalize(name) != busyboxName || !errors.Is(err, ErrNotFound) {
		return img, err
	}
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	name = busyboxName
	// Another process may have built it while we waited for the lock.
	if img, err := s.read(name); !errors.Is(err, ErrNotFound) {
		return img, err
	}
	img, err = s.create(name, "builtin", buildBusybox)
	if err != nil {
		return Image{}, fmt.Errorf("busybox image: %w", err)
	}
	return img, nil
}

// List returns the images in the store, sorted by name.
func (s *Store) List() ([]Image, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var imgs []Image
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		img, err := s.read(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // not an image: a stray directory
		}
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	slices.SortFunc(imgs, func(a, b Image) int { return strings.Compare(a.Name, b.Name) })
	return imgs, nil
}

// Find is Get without building busybox: for removing, and for checking an image is still there.
func (s *Store) Find(name string) (Image, error) {
	if _, ok := untaggedID(name); ok { // a loaded image without a name, or any image's whole ID
		img, err := s.read(refKey(name))
		if errors.Is(err, ErrNotFound) {
			return s.findByIDPrefix(name, err)
		}
		return img, err
	}
	if strings.HasPrefix(name, "sha256:") && isIDPrefix(name) { // an ID cut short: no name has that shape
		return s.findByIDPrefix(name, fmt.Errorf("image %q: %w", name, ErrNotFound))
	}
	_, canon, refErr := ParseReference(name)
	if refErr == nil {
		if img, err := s.read(refKey(canon)); !errors.Is(err, ErrNotFound) {
			return img, err
		}
	}
	short := name
	name = Normalize(name)
	if err := ValidName(name); err != nil {
		if refErr == nil {
			return Image{}, fmt.Errorf("image %q: %w", canon, ErrNotFound)
		}
		return Image{}, err
	}
	img, err := s.read(name)
	if errors.Is(err, ErrNotFound) && isIDPrefix(short) {
		return s.findByIDPrefix(short, err)
	}
	return img, err
}

// isIDPrefix says whether ref can be the start of an image ID, as `image ls`
// shows it (12 hex digits) or whole, with or without "sha256:". A name wins
// over an ID, as in Docker: this is tried only when no image has the name.
func isIDPrefix(ref string) bool {
	h := strings.TrimPrefix(ref, "sha256:")
	if h == "" || len(h) > 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// NamesOf lists the names of the images with image ID id, sorted.
func (s *Store) NamesOf(id string) ([]string, error) {
	imgs, err := s.List()
	var names []string
	for _, img := range imgs {
		if img.ID == id {
			names = append(names, img.Name)
		}
	}
	return names, err
}

// findByIDPrefix is the image whose ID starts with prefix; notFound when
// none does. Names sharing one ID are one image: the first by name stands for
// it. Two IDs with the prefix are Docker's ambiguity error.
func (s *Store) findByIDPrefix(prefix string, notFound error) (Image, error) {
	imgs, err := s.List()
	if err != nil {
		return Image{}, err
	}
	want := strings.TrimPrefix(prefix, "sha256:") // IDs are kept as bare hex
	var found []Image
	for _, img := range imgs {
		if strings.HasPrefix(img.ID, want) && (len(found) == 0 || found[0].ID == img.ID) {
			found = append(found, img)
		} else if strings.HasPrefix(img.ID, want) {
			return Image{}, fmt.Errorf("short image ID %q is ambiguous: it starts %s and %s", prefix, found[0].ID, img.ID)
		}
	}
	if len(found) == 0 {
		return Image{}, notFound
	}
	return found[0], nil
}

// Remove deletes the named image, and the layers no other image uses. It does not know about
// containers: callers check "in use" (with Get's Name, the name containers record).
func (s *Store) Remove(name string) (err error) {
	img, err := s.Find(name)
	if err != nil {
		return err
	}
	key := img.Name
	if len(img.Layers) > 0 {
		key = refKey(img.Name)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.read(key); err != nil {
		return err
	}
	name = img.Name
	defer func() {
		if err == nil {
			err = s.removeUnusedLayers()
		}
	}()
	// Rename first so the image disappears at once; a failed RemoveAll leaves only a temp dir,
	// which the next locked operation sweeps.
	tmp, err := os.MkdirTemp(s.dir, tmpPrefix)
	if err != nil {
		return fmt.Errorf("remove image %q: %w", name, err)
	}
	if err := os.Rename(filepath.Join(s.dir, key), filepath.Join(tmp, key)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("remove image %q: %w", name, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove image %q: %w", name, err)
	}
	return nil
}

func (s *Store) read(name string) (Image, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, name, metaName))
	if errors.Is(err, fs.ErrNotExist) {
		return Image{}, fmt.Errorf("image %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Image{}, fmt.Errorf("read image %q: %w", name, err)
	}
	var img Image
	if err := json.Unmarshal(data, &img); err != nil {
		return Image{}, fmt.Errorf("read image %q: %w", name, err)
	}
	return img, nil
}

func (s *Store) exists(name string) bool {
	_, err := os.Lstat(filepath.Join(s.dir, name))
	return err == nil
}

// create fills a fresh rootfs under a temp dir and renames the whole image into place, so readers
// see a complete image or none. The caller holds the lock. On any error nothing is left behind.
func (s *Store) create(name, source string, fill func(root string) (int64, error)) (img Image, err error) {
	tmp, err := os.MkdirTemp(s.dir, tmpPrefix)
	if err != nil {
		return Image{}, fmt.Errorf("create image dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	root := filepath.Join(tmp, rootfsName)
	if err := mkdirMode(root, 0o755); err != nil {
		return Image{}, err
	}
	size, err := fill(root)
	if err != nil {
		return Image{}, err
	}
	id, err := newID()
	if err != nil {
		return Image{}, err
	}
	img = Image{Name: name, ID: id, Created: time.Now().UTC(), Size: size, Source: source}
	if err := writeMeta(filepath.Join(tmp, metaName), img); err != nil {
		return Image{}, err
	}
	if err := syncDir(tmp); err != nil {
		return Image{}, err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return Image{}, fmt.Errorf("install image %q: %w", name, err)
	}
	return img, nil
}

// lock takes the store's exclusive flock (held by building, importing and removing) and sweeps
// temp dirs: under the lock, any that exist were left by a process that died mid-build.
func (s *Store) lock() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create image store: %w", err)
	}
	unlock, err = flock.Exclusive(filepath.Join(s.dir, lockName))
	if err != nil {
		return nil, err
	}
	for _, parent := range []string{s.dir, filepath.Join(s.dir, layersDir)} {
		stale, _ := filepath.Glob(filepath.Join(parent, tmpPrefix+"*"))
		for _, p := range stale {
			os.RemoveAll(p)
		}
	}
	s.sweepDownloads()
	return unlock, nil
}

func writeMeta(path string, img Image) error {
	data, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", metaName, err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", metaName, err)
	}
	return nil
}

// syncDir flushes the file system holding dir, so that after a crash a renamed-in image never
// holds files whose data was lost (one syncfs is far cheaper than an fsync per file).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync image: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync image: %w", err)
	}
	return nil
}

// mkdirMode creates dir with exactly mode: the umask must not decide what containers may read.
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	return nil
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make image id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// nameChars reports whether name matches [a-zA-Z0-9][a-zA-Z0-9_.-]*, by hand:
// every start checks an image name, and a regexp costs its compile each time.
func nameChars(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			return false
		}
	}
	return name != ""
}
