package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

var (
	errEscape     = errors.New("path escapes the image root")
	errViaSymlink = errors.New("path goes through a symbolic link")
	errEmpty      = errors.New("empty image")
)

// extractor unpacks an untrusted tar into a fresh directory. Every file is created relative to a
// parent directory opened with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, and the last component is
// never followed, so no entry can write outside root whatever symlinks came before it.
type extractor struct {
	rootFD int
	layer  bool // an image layer: OCI whiteouts become overlayfs ones (see whiteout)
	// files maps each non-directory extracted so far (the only valid hard link targets) to the
	// bytes it adds to the image: a later entry of the same name replaces it, and with it its size.
	files map[string]int64
	dirs  []dirTime // applied last: creating children changes a directory's mtime
}

type dirTime struct {
	name  string
	mtime time.Time
}

// extract unpacks the tar stream r into the existing empty directory root and returns the bytes
// of regular files written.
func extract(r io.Reader, root string) (int64, error) { return extractTar(r, root, false) }

func extractTar(r io.Reader, root string, layer bool) (int64, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(fd)
	x := &extractor{rootFD: fd, layer: layer, files: map[string]int64{}}
	tr := tar.NewReader(r)
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read archive: %w", err)
		}
		if p, _ := entryPath(hdr.Name); p != "." {
			n++ // the root entry alone ("./") is still an empty image
		}
		if err := x.entry(hdr, tr); err != nil {
			return 0, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	if n == 0 {
		return 0, errEmpty
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := x.setMtime(d.name, d.mtime); err != nil {
			return 0, fmt.Errorf("entry %q: %w", d.name, err)
		}
	}
	var size int64
	for _, n := range x.files {
		size += n
	}
	return size, nil
}

// entryPath turns an archive name into a path relative to the root. "./bin/sh" and "/bin/sh"
// both mean bin/sh; anything that climbs out of the root is refused rather than clamped.
func entryPath(name string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errEscape
	}
	return p, nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := entryPath(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root itself: keep our own 0755 root-owned directory
	}
	if x.layer && strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return x.whiteout(name)
	}
	if err := checkEntry(name, hdr); err != nil {
		return err
	}
	dirfd, err := x.openDir(path.Dir(name), true)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	base := path.Base(name)

	if hdr.Typeflag == tar.TypeDir {
		if err := x.mkdir(dirfd, base, hdr); err != nil {
			return err
		}
		delete(x.files, name)
		x.dirs = append(x.dirs, dirTime{name, hdr.ModTime})
		return nil
	}
	if err := x.replace(dirfd, base, name); err != nil {
		return err
	}
	n, err := x.create(dirfd, base, hdr, r)
	if err != nil {
		return err
	}
	x.files[name] = n
	if hdr.Typeflag == tar.TypeLink {
		return nil // the mtime belongs to the shared inode, already set
	}
	return setMtimeAt(dirfd, base, hdr.ModTime)
}

// checkEntry refuses entry types and link targets that no image needs and that would let it
// reach outside itself.
func checkEntry(name string, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeLink, tar.TypeFifo:
		return nil
	case tar.TypeSymlink:
		return checkSymlink(name, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return errors.New("device files are not allowed in an image")
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
}

// create makes the non-directory base in dirfd and returns the bytes it adds to the image.
func (x *extractor) create(dirfd int, base string, hdr *tar.Header, r io.Reader) (int64, error) {
	switch hdr.Typeflag {
	case tar.TypeLink:
		return 0, x.hardlink(dirfd, base, hdr.Linkname)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, dirfd, base); err != nil {
			return 0, fmt.Errorf("create symlink: %w", err)
		}
		if err := unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, fmt.Errorf("chown: %w", err)
		}
		return 0, nil
	case tar.TypeFifo:
		if err := unix.Mknodat(dirfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return 0, fmt.Errorf("create fifo: %w", err)
		}
		if err := unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, fmt.Errorf("chown: %w", err)
		}
		// Fchmodat follows a final symlink, but base is the fifo just made in a directory that
		// only we write to.
		if err := unix.Fchmodat(dirfd, base, modeOf(hdr), 0); err != nil {
			return 0, fmt.Errorf("chmod: %w", err)
		}
		return 0, nil
	default:
		return x.writeFile(dirfd, base, hdr, r)
	}
}

// openDir opens dir (relative to the root) without following any symlink and without leaving
// the root; with create, missing directories are made on the way, as tar(1) does.
func (x *extractor) openDir(dir string, create bool) (int, error) {
	fd, err := openBeneath(x.rootFD, dir)
	if err == nil || !create || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	fd, err = unix.Dup(x.rootFD)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(dir, "/") {
		err := unix.Mkdirat(fd, c, 0o755)
		if err == nil {
			err = unix.Fchmodat(fd, c, 0o755, 0) // just made, so not a symlink; beat the umask
		} else if errors.Is(err, unix.EEXIST) {
			err = nil
		}
		var next int
		if err == nil {
			next, err = openBeneath(fd, c)
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// openBeneath opens directory p relative to dirfd; the kernel refuses symlinks and escapes.
func openBeneath(dirfd int, p string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(dirfd, p, how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // openat2 asks for a retry when a rename raced with the lookup
		case errors.Is(err, unix.ELOOP):
			return -1, errViaSymlink
		case errors.Is(err, unix.EXDEV):
			return -1, errEscape
		case errors.Is(err, unix.ENOTDIR):
			return -1, fmt.Errorf("open %s: a parent is not a directory", p)
		default:
			return -1, fmt.Errorf("open %s: %w", p, err)
		}
	}
}

// replace removes what an earlier entry of the same name made: in a tar the last entry wins.
func (x *extractor) replace(dirfd int, base, name string) error {
	delete(x.files, name)
	err := unix.Unlinkat(dirfd, base, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replace earlier entry: %w", err)
	}
	return nil
}

func (x *extractor) mkdir(dirfd int, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(dirfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err = unix.Unlinkat(dirfd, base, 0); err == nil {
				err = unix.Mkdirat(dirfd, base, 0o700)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer unix.Close(fd)
	return chownChmod(fd, hdr)
}

func (x *extractor) writeFile(dirfd int, base string, hdr *tar.Header, r io.Reader) (int64, error) {
	fd, err := unix.Openat(dirfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("write file: %w", err)
	}
	err = chownChmod(int(f.Fd()), hdr)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write file: %w", cerr)
	}
	return n, err
}

// hardlink links base to target, an earlier entry: a link to anything else could reach a file
// the image does not own.
func (x *extractor) hardlink(dirfd int, base, target string) error {
	t, err := entryPath(target)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", target, err)
	}
	if _, ok := x.files[t]; !ok {
		return fmt.Errorf("hard link target %q is not a file extracted before it", target)
	}
	tfd, err := x.openDir(path.Dir(t), false)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", target, err)
	}
	defer unix.Close(tfd)
	if err := unix.Linkat(tfd, path.Base(t), dirfd, base, 0); err != nil {
		return fmt.Errorf("create hard link: %w", err)
	}
	return nil
}

// checkSymlink refuses a relative target that climbs above the root from the link's directory.
// Absolute targets are fine: they are resolved inside the container's root at run time.
func checkSymlink(name, target string) error {
	if target == "" {
		return errors.New("symlink has an empty target")
	}
	if path.IsAbs(target) {
		return nil
	}
	if p := path.Join(path.Dir(name), target); p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("symlink target %q: %w", target, errEscape)
	}
	return nil
}

// chownChmod sets owner then mode: chown clears setuid/setgid bits, so the mode must come last.
func chownChmod(fd int, hdr *tar.Header) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(fd, modeOf(hdr)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

func (x *extractor) setMtime(name string, t time.Time) error {
	dirfd, err := x.openDir(path.Dir(name), false)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	return setMtimeAt(dirfd, path.Base(name), t)
}

func setMtimeAt(dirfd int, base string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.UtimesNanoAt(dirfd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// modeOf keeps the permission bits with setuid, setgid and sticky; tar may add file type bits.
func modeOf(hdr *tar.Header) uint32 {
	return uint32(hdr.Mode) & 0o7777
}
