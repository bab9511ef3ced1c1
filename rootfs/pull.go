package rootfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"

	"github.com/hutchrt/hutch/runtime/flock"
)

// Pull fetches ref (NAME[:TAG|@DIGEST], Docker's naming rules) from its registry and stores it
// under its canonical name, for linux/amd64 when the name is an index. go-containerregistry
// speaks the distribution protocol and checks every digest: the manifest's against a
// by-digest name, and each blob's (config and layers) as it is read to its end, which addLayer
// always does. Layers already in the store are not fetched again. progress, if not nil, gets a
// line per layer.
func (s *Store) Pull(ctx context.Context, refStr string, progress io.Writer) (Image, error) {
	ref, canon, err := ParseReference(refStr)
	if err != nil {
		return Image{}, err
	}
	img, err := s.pull(ctx, ref, canon, progress)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", canon, err)
	}
	return img, nil
}

// dialTimeout bounds connecting to a registry, and headerTimeout a TLS handshake and the wait
// for a response's headers: a registry that takes the connection and never answers fails the
// pull in seconds (about 6: HTTPS, then plain HTTP on loopback). The body of a large layer may take longer, so it is not bounded.
const (
	dialTimeout   = 5 * time.Second
	headerTimeout = 3 * time.Second
)

func (s *Store) pull(ctx context.Context, ref name.Reference, canon string, progress io.Writer) (Image, error) {
	desc, err := remote.Get(ref,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}),
		remote.WithTransport(transport()),
		// Two quick tries: a registry that does not answer must fail in seconds.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 2}),
	)
	if err != nil {
		return Image{}, err
	}
	rimg, err := desc.Image() // an index: the linux/amd64 image in it
	if err != nil {
		return Image{}, err
	}
	manifest, err := rimg.Manifest()
	if err != nil {
		return Image{}, err
	}
	rawConfig, err := rimg.RawConfigFile()
	if err != nil {
		return Image{}, err
	}
	var config v1.ConfigFile
	if err := json.Unmarshal(rawConfig, &config); err != nil {
		return Image{}, fmt.Errorf("image config: %w", err)
	}
	configDigest, err := rimg.ConfigName()
	if err != nil {
		return Image{}, err
	}
	layers, err := rimg.Layers()
	if err != nil {
		return Image{}, err
	}
	if len(layers) != len(config.RootFS.DiffIDs) || len(layers) != len(manifest.Layers) {
		return Image{}, fmt.Errorf("manifest has %d layers, config %d", len(manifest.Layers), len(config.RootFS.DiffIDs))
	}
	if len(layers) == 0 {
		return Image{}, errors.New("image has no layers")
	}

	// Blobs are downloaded without the store's lock (a long pull must not hold up imports and
	// removals), each layer extracted under it as soon as it is in, so a pull killed half-way
	// keeps its complete layers for the next one.
	dl, release, err := s.downloadDir()
	if err != nil {
		return Image{}, err
	}
	defer release()
	diffIDs := make([]string, len(layers))
	for i := range layers {
		diffIDs[i] = config.RootFS.DiffIDs[i].String()
	}
	created := config.Created.Time.UTC()
	if created.IsZero() {
		created = time.Now().UTC()
	}
	img := Image{
		Name: canon, ID: configDigest.Hex, Created: created, Source: "pull",
		Layers: diffIDs, Config: rawConfig, Digest: desc.Digest.String(),
	}
	p := newProgress(progress)
	p.header(ref.Identifier(), ref.Context().RepositoryStr())
	ids, states := make([]string, len(layers)), make([]string, len(layers))
	for i := range layers {
		ids[i], states[i] = short(manifest.Layers[i].Digest.String()), "Pulling fs layer"
		if s.hasLayer(diffIDs[i]) {
			states[i] = "Already exists"
		}
	}
	p.layers(ids, states)
	// An image removal meanwhile may take layers no image names yet: fetch those again.
	for attempt := 0; attempt < 3; attempt++ {
		for i, layer := range layers {
			blob := manifest.Layers[i].Digest.String()
			if s.hasLayer(diffIDs[i]) {
				continue
			}
			if err := s.fetchLayer(layer, diffIDs[i], blob, dl, p, i, manifest.Layers[i].Size); err != nil {
				return Image{}, fmt.Errorf("layer %s: %w", blob, err)
			}
			p.set(i, "Pull complete")
		}
		done, err := s.installPulled(img)
		if err != nil || done {
			return img, err
		}
	}
	return Image{}, errors.New("its layers were removed while it was pulled: pull again")
}

// installPulled writes the image's record if all its layers are in the store, under the lock.
func (s *Store) installPulled(img Image) (done bool, err error) {
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	img.Size = 0
	for _, diffID := range img.Layers {
		if !s.hasLayer(diffID) {
			return false, nil
		}
		l, err := s.readLayer(diffID)
		if err != nil {
			return false, err
		}
		img.Size += l.Size
	}
	return true, s.writeRecord(refKey(img.Name), img)
}

// downloadDir makes this pull's own directory for blobs, under the store's lock so that no
// sweep sees it half made, and holds <dir>.lock until release: a sweep removes a download
// directory only when that lock is free, that is when its pull died.
func (s *Store) downloadDir() (dir string, release func(), err error) {
	unlock, err := s.lock()
	if err != nil {
		return "", nil, err
	}
	defer unlock()
	parent := filepath.Join(s.dir, layersDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, fmt.Errorf("create layer store: %w", err)
	}
	dir, err = os.MkdirTemp(parent, pullPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("create download dir: %w", err)
	}
	unlockDir, err := flock.Exclusive(dir + ".lock") // a fresh name: nobody else holds it
	if err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, func() {
		os.RemoveAll(dir)
		os.Remove(dir + ".lock")
		unlockDir()
	}, nil
}

// sweepDownloads removes the download directories of pulls that died. The caller holds the
// store's lock.
func (s *Store) sweepDownloads() {
	parent := filepath.Join(s.dir, layersDir)
	dirs, _ := filepath.Glob(filepath.Join(parent, pullPrefix+"*"))
	for _, p := range dirs {
		if strings.HasSuffix(p, ".lock") {
			continue
		}
		unlock, ok, err := flock.TryExclusive(p + ".lock")
		if err != nil || !ok {
			continue // its pull is running
		}
		os.RemoveAll(p)
		os.Remove(p + ".lock")
		unlock()
	}
	// A lock file alone: its pull died after removing its directory.
	locks, _ := filepath.Glob(filepath.Join(parent, pullPrefix+"*.lock"))
	for _, l := range locks {
		if _, err := os.Stat(strings.TrimSuffix(l, ".lock")); err == nil {
			continue
		}
		if unlock, ok, err := flock.TryExclusive(l); err == nil && ok {
			os.Remove(l)
			unlock()
		}
	}
}

// fetchLayer downloads the layer's blob into the pull's own directory, reading it to its end
// so that the library checks its digest, and only then extracts it under the store's lock: no
// byte that fails the digest reaches the tar reader.
func (s *Store) fetchLayer(layer v1.Layer, diffID, blob, dl string, p *progress, i int, size int64) error {
	f, err := os.CreateTemp(dl, "blob-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	var body io.Reader = rc
	if p != nil {
		body = &counter{r: rc, p: p, i: i, total: size}
	}
	_, err = io.Copy(f, body)
	rc.Close()
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	p.set(i, "Download complete") // read to its end: its digest is checked
	if p != nil && p.tty {        // a log gets no line for it, as Docker's
		p.set(i, "Extracting")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if s.hasLayer(diffID) {
		return nil // another pull brought it in meanwhile
	}
	r, err := decompress(f)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = s.addLayer(diffID, blob, f.Name(), r)
	return err
}

// decompress reads a layer blob: gzip, zstd or a plain tar, told apart by their magic bytes as
// the OCI image spec allows.
func decompress(f io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// rawConfig returns the config of a pulled or loaded image as it came, if its record has it
// (records written before it was kept have not).
func (s *Store) rawConfig(img Image) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(s.dir, refKey(img.Name), configName))
	if err != nil {
		return nil, false
	}
	return data, true
}

func (s *Store) readLayer(diffID string) (Layer, error) {
	d, err := s.layerDir(diffID)
	if err != nil {
		return Layer{}, err
	}
	data, err := os.ReadFile(filepath.Join(d, layerMeta))
	if err != nil {
		return Layer{}, fmt.Errorf("read layer: %w", err)
	}
	var l Layer
	if err := json.Unmarshal(data, &l); err != nil {
		return Layer{}, fmt.Errorf("read layer %s: %w", diffID, err)
	}
	return l, nil
}

// writeRecord installs (or replaces, for a name pulled again) an image record: written to a
// temp dir, then renamed over the old one. The caller holds the lock.
func (s *Store) writeRecord(key string, img Image) (err error) {
	tmp, err := os.MkdirTemp(s.dir, tmpPrefix)
	if err != nil {
		return fmt.Errorf("create image dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, key)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := writeMeta(filepath.Join(dir, metaName), img); err != nil {
		return err
	}
	// image.json holds the config re-encoded; save needs its bytes, which its digest names.
	if len(img.Config) > 0 {
		if err := os.WriteFile(filepath.Join(dir, configName), img.Config, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", configName, err)
		}
	}
	final := filepath.Join(s.dir, key)
	if s.exists(key) {
		// Move the old record aside into the temp dir, which goes with it.
		if err := os.Rename(final, filepath.Join(tmp, "old")); err != nil {
			return fmt.Errorf("replace image %q: %w", img.Name, err)
		}
	}
	if err := os.Rename(dir, final); err != nil {
		return fmt.Errorf("install image %q: %w", img.Name, err)
	}
	return syncDir(s.dir)
}

// transport bounds connecting to a registry, and allows plain HTTP only to a loopback one:
// go-containerregistry would also fall back to it for RFC 1918 addresses, Docker does not.
func transport() http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = headerTimeout
	t.ResponseHeaderTimeout = headerTimeout
	return loopbackOnlyHTTP{t}
}

type loopbackOnlyHTTP struct{ next http.RoundTripper }

func (l loopbackOnlyHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !loopbackRegistry(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only registries on loopback are used without TLS", req.URL.Host)
	}
	return l.next.RoundTrip(req)
}

// short is Docker's 12-hex layer id in progress lines.
func short(digest string) string {
	if h, err := digestHex(digest); err == nil {
		return h[:12]
	}
	return digest
}

func humanBytes(n int64) string {
	units := []string{"B", "kB", "MB", "GB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
