package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Tag gives the image src the registry name dst as well (another record naming the same
// layers and config). Busybox and imported images are single directories named by their
// plain name, which cannot take a second name yet.
func (s *Store) Tag(src, dst string) (Image, error) {
	img, err := s.Find(src)
	if err != nil {
		return Image{}, err
	}
	if len(img.Layers) == 0 {
		return Image{}, fmt.Errorf("tag %s: only pulled images can be tagged", img.Name)
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
