package rootfs

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxJSON bounds the JSON files of an archive that are read into memory.
const maxJSON = 16 << 20

// Load adds the images of an image archive read from r (docker-archive, OCI layout, or both at
// once; the archive and its layers plain or gzip'd) and returns the names it loaded, in their
// familiar form ("busybox:latest"), or for an image without a name its ID ("sha256:..."). The
// archive is spooled into a download directory of the store (swept if this process dies),
// every layer extracted as a pulled one is, its diffID checked; on failure the layers this load added go again and no record is written.
func (s *Store) Load(r io.Reader) ([]string, error) {
	names, err := s.load(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return names, nil
}

type loadedImage struct {
	img  Image
	tags []string // canonical names
	src  archiveImage
}

func (s *Store) load(r io.Reader) (names []string, err error) {
	dl, release, err := s.downloadDir()
	if err != nil {
		return nil, err
	}
	defer release()
	files, err := spoolArchive(r, dl)
	if err != nil {
		return nil, err
	}
	read := func(n string) ([]byte, error) {
		f, ok := files[n]
		if !ok {
			return nil, fmt.Errorf("%s is not in the archive", n)
		}
		fi, err := os.Stat(f.path)
		if err != nil {
			return nil, err
		}
		if fi.Size() > maxJSON {
			return nil, fmt.Errorf("%s: too large", n)
		}
		return os.ReadFile(f.path)
	}
	plan, err := planArchive(files, read)
	if err != nil {
		return nil, err
	}
	// Check every image's config and names before any layer goes in.
	var todo []loadedImage
	for _, a := range plan {
		raw, err := read(a.Config)
		if err != nil {
			return nil, err
		}
		var cfg v1.ConfigFile
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, fmt.Errorf("image config %s: %w", a.Config, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(a.Layers) {
			return nil, fmt.Errorf("image config %s: %d diff_ids for %d layers", a.Config, len(cfg.RootFS.DiffIDs), len(a.Layers))
		}
		if len(a.Layers) == 0 {
			return nil, errors.New("image has no layers")
		}
		sum := sha256.Sum256(raw)
		created := cfg.Created.Time.UTC()
		if created.IsZero() {
			created = time.Now().UTC()
		}
		li := loadedImage{src: a, img: Image{ID: hex.EncodeToString(sum[:]), Created: created,
			Source: "load", Config: raw}}
		for _, d := range cfg.RootFS.DiffIDs {
			if _, err := digestHex(d.String()); err != nil {
				return nil, fmt.Errorf("image config: %w", err)
			}
			li.img.Layers = append(li.img.Layers, d.String())
		}
		for _, t := range a.Tags {
			_, canon, err := ParseReference(t)
			if err != nil {
				return nil, err
			}
			if _, isDigest := digestSuffix(canon); isDigest {
				continue
			}
			li.tags = append(li.tags, canon)
		}
		if len(li.tags) == 0 {
			li.tags = []string{"sha256:" + li.img.ID} // reached by its ID
		}
		todo = append(todo, li)
	}

	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var added []string
	defer func() {
		if err != nil {
			s.removeLayers(added)
		}
	}()
	for k := range todo {
		li := &todo[k]
		for i, diffID := range li.img.Layers {
			if s.hasLayer(diffID) {
				continue
			}
			f := files[li.src.Layers[i]]
			if want := li.src.Digests[i]; want != "" && f.digest != want {
				return nil, fmt.Errorf("layer %s: blob has digest %s", want, f.digest)
			}
			if err := s.loadLayer(diffID, li.src.Layers[i], f); err != nil {
				return nil, err
			}
			added = append(added, diffID)
		}
		li.img.Size = 0
		for _, diffID := range li.img.Layers {
			l, err := s.readLayer(diffID)
			if err != nil {
				return nil, err
			}
			li.img.Size += l.Size
		}
	}
	for _, li := range todo {
		for _, canon := range li.tags {
			img := li.img
			img.Name = canon
			if err := s.writeRecord(refKey(canon), img); err != nil {
				return names, err
			}
			added = nil // a record names them now: a later failure must not take them
			if _, untagged := untaggedID(canon); untagged {
				names = append(names, canon)
				continue
			}
			repo, tag := Familiar(canon)
			names = append(names, repo+":"+tag)
		}
	}
	return names, nil
}

func (s *Store) loadLayer(diffID, member string, f archiveFile) error {
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer file.Close()
	r, err := decompress(file)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := s.addLayer(diffID, f.digest, f.path, r); err != nil {
		if strings.HasPrefix(err.Error(), "layer ") { // addLayer named it already
			return fmt.Errorf("%s: %w", member, err)
		}
		return fmt.Errorf("%s: layer %s: %w", member, diffID, err)
	}
	return nil
}

// removeLayers deletes layers a failed load added. The caller holds the lock; a layer that an
// image names meanwhile (none can, under the lock) would be kept.
func (s *Store) removeLayers(diffIDs []string) {
	for _, d := range diffIDs {
		if dir, err := s.layerDir(d); err == nil {
			os.RemoveAll(dir)
		}
	}
}

// spoolArchive writes each regular file of the tar r (gzip'd or not) into dir, hashing it, and
// returns them by cleaned name. Links (old docker save links a layer to an identical one) name
// the file they point to. Nothing is written by the archive's names.
func spoolArchive(r io.Reader, dir string) (archiveFiles, error) {
	rc, err := decompress(r)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := archiveFiles{}
	links := map[string]string{}
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return nil, errors.New("not an image archive: empty tar")
			}
			break
		}
		if err != nil {
			if n == 0 {
				return nil, errors.New("not an image archive: not a tar")
			}
			return nil, fmt.Errorf("read archive: %w", err)
		}
		name := cleanName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			f, err := spoolFile(tr, filepath.Join(dir, strconv.Itoa(n)))
			if err != nil {
				return nil, err
			}
			files[name] = f
		case tar.TypeSymlink:
			links[name] = cleanName(path.Join(path.Dir(name), hdr.Linkname))
		case tar.TypeLink:
			links[name] = cleanName(hdr.Linkname)
		}
	}
	for name, target := range links {
		for i := 0; i < 8; i++ { // a link to a link, a few deep at most
			if next, ok := links[target]; ok {
				target = next
			}
		}
		if f, ok := files[target]; ok {
			files[name] = f
		}
	}
	return files, nil
}

func spoolFile(r io.Reader, p string) (archiveFile, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return archiveFile{}, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return archiveFile{}, fmt.Errorf("read archive: %w", err)
	}
	return archiveFile{path: p, digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}, nil
}
