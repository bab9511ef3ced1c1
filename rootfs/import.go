package rootfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Import adds an image named name from src: a rootfs directory, a tar, or a gzip'd tar (such as
// `docker export` output). The archive is untrusted: see extract.
func (s *Store) Import(name, src string) (Image, error) {
	name = Normalize(name)
	if err := ValidName(name); err != nil {
		return Image{}, err
	}
	img, err := s.importFrom(name, src)
	if err != nil {
		return Image{}, fmt.Errorf("import %q: %w", name, err)
	}
	return img, nil
}

func (s *Store) importFrom(name, src string) (Image, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return Image{}, err
	}
	// Fail fast, before taking the lock or reading anything.
	if s.exists(name) {
		return Image{}, fmt.Errorf("image %q already exists", name)
	}
	rc, err := s.openSource(abs)
	if err != nil {
		return Image{}, err
	}
	defer rc.Close()
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if s.exists(name) {
		return Image{}, fmt.Errorf("image %q already exists", name)
	}
	return s.create(name, abs, func(root string) (int64, error) { return extract(rc, root) })
}

// openSource returns src as a tar stream. A directory is streamed as a tar too, so that it goes
// through the same extraction and the same checks as an archive.
func (s *Store) openSource(src string) (io.ReadCloser, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return s.dirSource(src)
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		return readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}),
		bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}),
		bytes.HasPrefix(magic, []byte("BZh")):
		f.Close()
		return nil, fmt.Errorf("read %s: unsupported compression (want a tar, optionally gzip'd)", src)
	}
	return readCloser{br, f.Close}, nil
}

// dirSource streams the directory src as a tar through a pipe.
func (s *Store) dirSource(src string) (io.ReadCloser, error) {
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return nil, err
	}
	// Walking a tree that holds the store would also walk the image being written into it.
	if store, err := filepath.Abs(s.dir); err == nil {
		if rel, err := filepath.Rel(src, store); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("source %s contains the image store %s", src, store)
		}
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeTar(pw, src))
	}()
	return readCloser{pr, func() error {
		// Unblock the writer if extraction stopped early, and wait so no goroutine outlives us.
		pr.CloseWithError(errors.New("import stopped"))
		<-done
		return nil
	}}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
