package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Tag gives the image src the registry name dst as well (another record naming the same
// layers and config). Busybox and imported images are single directories named by their
// plain name: their tag is another such directory, hard links of the first (same ID), so that
// rmi of either leaves the other whole.
func (s *Store) Tag(src, dst string) (Image, error) {
	img, err := s.Get(src) // Get: the built-in busybox is made on first use
	if err != nil {
		return Image{}, err
	}
	if len(img.Layers) == 0 {
		return s.tagLocal(img, dst)
	}
	_, canon, err := ParseReference(dst)
	if err != nil {
		return Image{}, err
	}
	if _, ok := digestSuffix(canon); ok {
		return Image{}, fmt.Errorf("tag %s: the new name must be a tag, not a digest", dst)
	}
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	for _, l := range img.Layers { // src may have been removed since Find
		if !s.hasLayer(l) {
			return Image{}, fmt.Errorf("tag %s: %w", src, ErrNotFound)
		}
	}
	if raw, ok := s.rawConfig(img); ok {
		img.Config = raw // the new name keeps the config's bytes, and so its digest
	}
	img.Name = canon
	if err := s.writeRecord(refKey(canon), img); err != nil {
		return Image{}, err
	}
	return img, nil
}

func (s *Store) tagLocal(img Image, dst string) (Image, error) {
	name := Normalize(dst)
	if err := ValidName(name); err != nil {
		return Image{}, fmt.Errorf("tag %s: %s is a local image, its new name must be a plain name: %w", img.Name, dst, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if _, err := s.read(name); !errors.Is(err, ErrNotFound) {
		if err == nil {
			err = fmt.Errorf("tag %s: image %q already exists", img.Name, name)
		}
		return Image{}, err
	}
	from := filepath.Join(s.dir, img.Name, rootfsName)
	if _, err := os.Stat(from); err != nil { // src may have been removed since Get
		return Image{}, fmt.Errorf("tag %s: %w", img.Name, ErrNotFound)
	}
	tagged, err := s.create(name, img.Source, func(root string) (int64, error) { return img.Size, linkTree(from, root) })
	if err != nil {
		return Image{}, fmt.Errorf("tag %s: %w", img.Name, err)
	}
	tagged.ID, tagged.Created = img.ID, img.Created // the same image under another name, as Docker
	meta := filepath.Join(s.dir, name, metaName)
	if err := os.Remove(meta); err != nil { // writeMeta makes a new file only; we hold the lock
		os.RemoveAll(filepath.Join(s.dir, name))
		return Image{}, err
	}
	if err := writeMeta(meta, tagged); err != nil {
		os.RemoveAll(filepath.Join(s.dir, name))
		return Image{}, err
	}
	return tagged, nil
}

// linkTree remakes the tree from in to (an existing directory): directories with their mode
// and owner, everything else hard-linked (image roots are read-only lower layers, never written).
func linkTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if !d.IsDir() {
			return os.Link(p, target)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if rel != "." {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
		st := fi.Sys().(*syscall.Stat_t)
		if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		return os.Chmod(target, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	})
}

func digestSuffix(canon string) (string, bool) {
	for i := len(canon) - 1; i >= 0; i-- {
		if canon[i] == '@' {
			return canon[i+1:], true
		}
	}
	return "", false
}

// Inspect is Docker's `image inspect` shape, its main fields.
type Inspect struct {
	ID           string          `json:"Id"`
	RepoTags     []string        `json:"RepoTags"`
	RepoDigests  []string        `json:"RepoDigests"`
	Created      time.Time       `json:"Created"`
	Size         int64           `json:"Size"`
	Architecture string          `json:"Architecture"`
	Os           string          `json:"Os"`
	Config       json.RawMessage `json:"Config"`
	RootFS       struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers,omitempty"`
	} `json:"RootFS"`
}

// Inspect returns img in Docker's shape. RepoTags and RepoDigests list this record's name only:
// each name is its own record.
func (img Image) Inspect() (Inspect, error) {
	out := Inspect{ID: "sha256:" + img.ID, RepoTags: []string{}, RepoDigests: []string{},
		Created: img.Created, Size: img.Size, Architecture: "amd64", Os: "linux", Config: json.RawMessage("{}")}
	out.RootFS.Type = "layers"
	out.RootFS.Layers = img.Layers
	if len(img.Layers) == 0 {
		out.RepoTags = append(out.RepoTags, img.Name+":latest")
		return out, nil
	}
	repo, tag := Familiar(img.Name)
	if _, untagged := untaggedID(img.Name); untagged {
		// Reached by its ID only.
	} else if _, isDigest := digestSuffix(img.Name); isDigest {
		out.RepoDigests = append(out.RepoDigests, img.Name)
	} else {
		out.RepoTags = append(out.RepoTags, repo+":"+tag)
		if img.Digest != "" {
			out.RepoDigests = append(out.RepoDigests, repo+"@"+img.Digest)
		}
	}
	var file struct {
		Architecture string          `json:"architecture"`
		Os           string          `json:"os"`
		Config       json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(img.Config, &file); err != nil {
		return Inspect{}, errors.New("image " + img.Name + ": bad config: " + err.Error())
	}
	out.Architecture, out.Os = file.Architecture, file.Os
	if len(file.Config) > 0 {
		out.Config = file.Config
	}
	return out, nil
}
