package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Docker's rules for cp (docs.docker.com, `docker container cp`), where a copy lands:
//
//	SRC is a file:  DEST missing: a file DEST; DEST missing and ending in "/": an error (the
//	                directory must exist); DEST a file: overwritten; DEST a directory: DEST/base.
//	SRC is a dir:   DEST missing: made, with SRC's content; DEST a file: an error; DEST a
//	                directory: SRC copied into it, or with SRC ending in "/." its content.
//
// A copy is a tar of SRC whose top entry is named so that, extracted into a directory, it lands
// there: PlanCopy says which directory and which name.

// SourceBase is the name SRC's top entry gets before a rename: "." (its content) for a path
// ending in "/." and for the root, else its last component.
func SourceBase(src string) string {
	c := path.Clean("/" + src)
	if c == "/" || strings.HasSuffix(src, "/.") || src == "." {
		return "."
	}
	return path.Base(c)
}

// PlanCopy is where a source whose top entry is named srcBase is extracted (dir) and under
// which name (name), for the destination dst; it fails as Docker's rules say.
func PlanCopy(srcBase string, srcIsDir bool, dst Info) (dir, name string, err error) {
	dstDir, dstBase := path.Split(dst.Path)
	dstDir = path.Clean(dstDir)
	switch {
	case dst.Found && dst.IsDir():
		return strings.TrimSuffix(strings.TrimSuffix(dst.Path, "/."), "/"), srcBase, nil
	case dst.Found && srcIsDir:
		return "", "", fmt.Errorf("cannot copy a directory onto %s, which is not a directory", dst.Path)
	case dst.Found:
		return dstDir, dstBase, nil
	case srcIsDir:
		if dstBase == "" || dstBase == "." { // "new/" or "new/.": the directory to make is new
			dstDir, dstBase = path.Split(path.Clean(dst.Path))
			dstDir = path.Clean(dstDir)
		}
		return dstDir, dstBase, nil
	case dstBase == "" || dstBase == ".":
		return "", "", fmt.Errorf("destination directory %s does not exist", dst.Path)
	}
	return dstDir, dstBase, nil
}

// errTooManyLinks stops a destination whose symlinks go round.
var errTooManyLinks = errors.New("too many symbolic links")

// HostDestination describes the host path p as a destination of a copy out of a container,
// as Docker does: a symlink is followed (the copy goes where it points), and a missing path
// needs an existing parent directory.
func HostDestination(p string) (Info, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return Info{}, err
	}
	if strings.HasSuffix(p, "/.") || p == "." {
		abs += "/."
	} else if strings.HasSuffix(p, "/") && abs != "/" {
		abs += "/"
	}
	info := Info{Path: abs}
	for n := 0; ; n++ {
		fi, err := os.Lstat(info.Path)
		if errors.Is(err, os.ErrNotExist) {
			parent := filepath.Dir(filepath.Clean(info.Path))
			if strings.HasSuffix(info.Path, "/") || strings.HasSuffix(info.Path, "/.") {
				parent = filepath.Dir(strings.TrimSuffix(strings.TrimSuffix(info.Path, "/."), "/"))
			}
			pi, err := os.Stat(parent)
			if err != nil {
				return info, fmt.Errorf("destination %s: %w", p, unwrapPathErr(err))
			}
			if !pi.IsDir() {
				return info, fmt.Errorf("destination %s: %s is not a directory", p, parent)
			}
			return info, nil
		}
		if err != nil {
			return info, fmt.Errorf("destination %s: %w", p, unwrapPathErr(err))
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			info.Found, info.Mode = true, fi.Mode()
			return info, nil
		}
		if n == 10 {
			return info, fmt.Errorf("destination %s: %w", p, errTooManyLinks)
		}
		target, err := os.Readlink(info.Path)
		if err != nil {
			return info, err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(filepath.Clean(info.Path)), target)
		}
		info.Path = target
	}
}

// unwrapPathErr drops the path an *fs.PathError repeats.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
