package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
)

// An image archive is read into a set of named files (archiveFiles), then planned: which images
// it holds, each as its config and layer files. Three shapes are read: docker-archive (a
// manifest.json, as `docker save` before 25 and skopeo write it), an OCI image layout (index.json,
// as podman's and skopeo's oci-archive), and the two at once (Docker 25+, and hutch save), where
// manifest.json is read as it names the tags.

const (
	mediaOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mediaOCILayer    = "application/vnd.oci.image.layer.v1.tar"
	mediaDockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDockerMan   = "application/vnd.docker.distribution.manifest.v2+json"

	annotRefName   = "org.opencontainers.image.ref.name"
	annotImageName = "io.containerd.image.name"
)

// archiveFile is one regular file of an archive: where it was spooled, and its sha256.
type archiveFile struct {
	path   string
	digest string
}

// archiveFiles maps a cleaned name in the archive to its file.
type archiveFiles map[string]archiveFile

// archiveImage is an image found in an archive: its raw config, and its layers bottom first,
// each as a file and (for an OCI layout) the digest its descriptor promised.
type archiveImage struct {
	Tags    []string // as written: "busybox:latest", "127.0.0.1:5000/x:1"
	Config  string   // name of the config file
	Layers  []string // names of the layer files
	Digests []string // for each layer, the digest the manifest names ("" in a docker-archive)
}

type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform,omitempty"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType,omitempty"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	Config        ociDescriptor     `json:"config"`
	Layers        []ociDescriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// planArchive reads what the archive holds. read returns a file's content (for the small JSON
// files only).
func planArchive(files archiveFiles, read func(name string) ([]byte, error)) ([]archiveImage, error) {
	if _, ok := files["manifest.json"]; ok {
		data, err := read("manifest.json")
		if err != nil {
			return nil, err
		}
		return planDocker(files, data)
	}
	if _, ok := files["index.json"]; ok {
		return planOCI(files, read)
	}
	return nil, errors.New("not an image archive: no manifest.json or index.json")
}

func planDocker(files archiveFiles, data []byte) ([]archiveImage, error) {
	var entries []dockerManifestEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(entries) == 0 {
		return nil, errors.New("manifest.json: no images")
	}
	var imgs []archiveImage
	for _, e := range entries {
		img := archiveImage{Tags: e.RepoTags, Config: cleanName(e.Config)}
		if _, ok := files[img.Config]; !ok || e.Config == "" {
			return nil, fmt.Errorf("manifest.json: config %q is not in the archive", e.Config)
		}
		for _, l := range e.Layers {
			n := cleanName(l)
			if _, ok := files[n]; !ok {
				return nil, fmt.Errorf("manifest.json: layer %q is not in the archive", l)
			}
			img.Layers = append(img.Layers, n)
			img.Digests = append(img.Digests, "")
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// blobName is where an OCI layout keeps the blob with digest d.
func blobName(d string) (string, error) {
	h, err := digestHex(d)
	if err != nil {
		return "", err
	}
	return "blobs/sha256/" + h, nil
}

// ociBlob reads the blob of desc, checking its digest.
func ociBlob(files archiveFiles, read func(string) ([]byte, error), desc ociDescriptor) ([]byte, error) {
	n, err := blobName(desc.Digest)
	if err != nil {
		return nil, err
	}
	f, ok := files[n]
	if !ok {
		return nil, fmt.Errorf("blob %s is not in the archive", desc.Digest)
	}
	if f.digest != desc.Digest {
		return nil, fmt.Errorf("blob %s has digest %s", desc.Digest, f.digest)
	}
	return read(n)
}

func planOCI(files archiveFiles, read func(string) ([]byte, error)) ([]archiveImage, error) {
	data, err := read("index.json")
	if err != nil {
		return nil, err
	}
	var idx ociIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	var imgs []archiveImage
	var walk func(descs []ociDescriptor, name string, depth int) error
	walk = func(descs []ociDescriptor, name string, depth int) error {
		if depth > 4 {
			return errors.New("index.json: indexes nested too deep")
		}
		for _, d := range descs {
			n := ociName(d.Annotations, name)
			data, err := ociBlob(files, read, d)
			if err != nil {
				return err
			}
			switch d.MediaType {
			case mediaOCIIndex, mediaDockerList:
				var sub ociIndex
				if err := json.Unmarshal(data, &sub); err != nil {
					return fmt.Errorf("index %s: %w", d.Digest, err)
				}
				var amd64 []ociDescriptor // an index of platforms: the one this host runs
				for _, m := range sub.Manifests {
					if p := m.Platform; p == nil || p.OS == "linux" && p.Architecture == "amd64" {
						amd64 = append(amd64, m)
					}
				}
				if len(amd64) > 1 {
					amd64 = amd64[:1]
				}
				if err := walk(amd64, n, depth+1); err != nil {
					return err
				}
			case mediaOCIManifest, mediaDockerMan:
				var m ociManifest
				if err := json.Unmarshal(data, &m); err != nil {
					return fmt.Errorf("manifest %s: %w", d.Digest, err)
				}
				img, err := ociImage(files, m)
				if err != nil {
					return err
				}
				if n != "" {
					img.Tags = []string{n}
				}
				imgs = append(imgs, img)
			default:
				return fmt.Errorf("index.json: unsupported media type %q", d.MediaType)
			}
		}
		return nil
	}
	if err := walk(idx.Manifests, "", 0); err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errors.New("index.json: no images")
	}
	return imgs, nil
}

func ociImage(files archiveFiles, m ociManifest) (archiveImage, error) {
	cfg, err := blobName(m.Config.Digest)
	if err != nil {
		return archiveImage{}, fmt.Errorf("manifest config: %w", err)
	}
	if f, ok := files[cfg]; !ok || f.digest != m.Config.Digest {
		return archiveImage{}, fmt.Errorf("config blob %s is missing or does not match", m.Config.Digest)
	}
	img := archiveImage{Config: cfg}
	for _, l := range m.Layers {
		n, err := blobName(l.Digest)
		if err != nil {
			return archiveImage{}, fmt.Errorf("manifest layer: %w", err)
		}
		if _, ok := files[n]; !ok {
			return archiveImage{}, fmt.Errorf("layer blob %s is not in the archive", l.Digest)
		}
		img.Layers = append(img.Layers, n)
		img.Digests = append(img.Digests, l.Digest)
	}
	return img, nil
}

// ociName is the image name an OCI layout gives a manifest: containerd's full name if there,
// else the ref.name annotation when it is a name with a tag (skopeo writes "x:tag", podman the
// full name); a bare tag names nothing loadable.
func ociName(a map[string]string, inherited string) string {
	if n := a[annotImageName]; n != "" {
		return n
	}
	if n := a[annotRefName]; n != "" && (strings.Contains(n, ":") || strings.Contains(n, "/")) {
		return n
	}
	return inherited
}

// cleanName is an archive member's name as the archive map keys it.
func cleanName(n string) string {
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}
