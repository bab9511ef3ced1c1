package rootfs

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// writeTar writes the tree under dir (not dir itself) to w as a tar, keeping owners, modes and
// hard links. Symlinks are written as links, never followed.
func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	inodes := map[[2]uint64]string{} // (dev, ino) of multiply-linked files → first name written
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil // a socket is only meaningful to the process that bound it
		}
		hdr, err := tarHeader(p, filepath.ToSlash(rel), fi, inodes)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		return copyInto(tw, p)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func tarHeader(p, name string, fi fs.FileInfo, inodes map[[2]uint64]string) (*tar.Header, error) {
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(p); err != nil {
			return nil, err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", p, err)
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", "" // the image's own /etc/passwd decides names, not the host's
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), uint64(st.Ino)} // widths differ by arch
		if first, ok := inodes[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			inodes[key] = name
		}
	}
	return hdr, nil
}

func copyInto(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("archive %s: %w", p, err)
	}
	return nil
}
