package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tree is a container's root filesystem as the host reaches it: a directory fd (a running
// container's /proc/PID/root, or a stopped one's overlay) that every path is resolved in by the
// kernel (openat2 RESOLVE_IN_ROOT): "..", absolute names and symlinks all stay inside it, as
// they would for a process of the container. Below a path, entries are opened relative to
// their parent's fd without following symlinks, never through a path string the host resolves.
type Tree struct {
	fd  int
	mnt uint64 // mount id of the root: what is mounted below is another filesystem
	// Mounts says what a walk does with a filesystem mounted inside the tree.
	Mounts MountPolicy
}

// MountPolicy is what a walk does at a mount point inside the tree.
type MountPolicy int

const (
	// MountsFollowed walks into every mount (the host's own files, for `cp` from the host).
	MountsFollowed MountPolicy = iota
	// MountsOrdinary walks into mounts of ordinary filesystems (bind mounts, volumes, tmpfs), and
	// leaves the kernel's (/proc, /sys, /dev/pts, cgroups, ...) as empty placeholders, as
	// `docker cp` does, which cannot reach them.
	MountsOrdinary
	// MountsPlaceholders leaves every mount an empty placeholder: the container's own
	// filesystem only, as `docker export` writes it.
	MountsPlaceholders
)

var errNoEntry = errors.New("no such file or directory")

const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// NewTree wraps fd, a directory the caller keeps open for as long as it uses the tree.
func NewTree(fd int) (*Tree, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return nil, fmt.Errorf("stat the root: %w", err)
	}
	return &Tree{fd: fd, mnt: stx.Mnt_id}, nil
}

// OpenPath opens p resolved inside the tree (symlinks followed within it) as an O_PATH fd, for
// a mount on it. Its error is the kernel's, unwrapped.
func (t *Tree) OpenPath(p string) (int, error) {
	return t.openInRoot(p, unix.O_PATH)
}

// openInRoot opens p (resolved inside the tree, symlinks followed within it).
func (t *Tree) openInRoot(p string, flags uint64) (int, error) {
	how := &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: inRoot}
	if p == "" {
		p = "/"
	}
	for {
		fd, err := unix.Openat2(t.fd, p, how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue // a rename raced with the lookup
		}
		return fd, err
	}
}

// Info describes a path of a tree.
type Info struct {
	Path  string // as asked, made absolute and cleaned (a trailing "/" or "/." kept)
	Mode  fs.FileMode
	Link  string // a symlink's target
	Found bool
}

// IsDir reports whether the path is a directory.
func (i Info) IsDir() bool { return i.Mode.IsDir() }

// Lstat describes p. Every component but the last is resolved in the tree, following symlinks;
// the last is followed too when p ends in "/" or "/." (Docker's ResolvePath). A missing path is
// Found false, not an error, when its parent exists.
func (t *Tree) Lstat(p string) (Info, error) {
	info := Info{Path: CleanKeepDot(p)}
	dirfd, base, err := t.parent(info.Path)
	if errors.Is(err, errNoEntry) && info.Path != "/" && (strings.HasSuffix(info.Path, "/") || strings.HasSuffix(info.Path, "/.")) {
		// "new/": missing like "new", if its parent is there.
		if bare, berr := t.Lstat(strings.TrimSuffix(strings.TrimSuffix(info.Path, "/."), "/")); berr == nil && !bare.Found {
			return info, nil
		}
	}
	if err != nil {
		return info, err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if base == "." {
		err = unix.Fstat(dirfd, &st)
	} else {
		err = unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if errors.Is(err, unix.ENOENT) {
		return info, nil
	}
	if err != nil {
		return info, fmt.Errorf("%s: %w", info.Path, err)
	}
	info.Found, info.Mode = true, fileMode(st.Mode)
	if info.Mode&fs.ModeSymlink != 0 {
		info.Link, err = readlinkat(dirfd, base)
	}
	return info, err
}

// parent opens the directory holding p's last component, and names that component ("." when
// p itself is to be followed: a trailing "/" or "/.", or the root).
func (t *Tree) parent(p string) (int, string, error) {
	dir, base := path.Split(p)
	if base == "" || base == "." || p == "/" {
		fd, err := t.openInRoot(p, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return -1, "", fmt.Errorf("%s: %w", p, pathErr(err))
		}
		return fd, ".", nil
	}
	fd, err := t.openInRoot(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, "", fmt.Errorf("%s: %w", dir, pathErr(err))
	}
	return fd, base, nil
}

// pathErr words the errors a user meets in a path.
func pathErr(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return errNoEntry
	case errors.Is(err, unix.ENOTDIR):
		return errors.New("not a directory")
	case errors.Is(err, unix.ELOOP):
		return errors.New("too many levels of symbolic links")
	}
	return err
}

// CleanKeepDot makes p absolute and clean, but keeps a trailing "/" or "/." (they mean "the
// directory itself" and "its content" to cp).
func CleanKeepDot(p string) string {
	c := path.Clean("/" + p)
	switch {
	case c == "/":
	case strings.HasSuffix(p, "/.") || p == ".":
		c += "/."
	case strings.HasSuffix(p, "/"):
		c += "/"
	}
	return c
}

// TarOptions say how WriteTar writes entries.
type TarOptions struct {
	// Owner, if set, replaces every entry's uid and gid.
	Owner *[2]int
}

// WriteTar writes p (resolved as Lstat does) to tw under the name name and, for a directory,
// everything below it as name/...; a name of "." writes a directory's content only. Sockets are
// left out: only the process that bound one can use it.
func (t *Tree) WriteTar(tw *tar.Writer, p, name string, opt TarOptions) error {
	return t.Walk(p, name, opt, func(hdr *tar.Header, body io.Reader) error {
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if body != nil {
			_, err := io.Copy(tw, body)
			return err
		}
		return nil
	})
}

// Walk is WriteTar handing each entry to emit instead of a tar writer: a regular file's body
// is read from the file itself, so that a copy can go from file to file in the kernel
// (copy_file_range), not through a tar stream.
func (t *Tree) Walk(p, name string, opt TarOptions, emit func(hdr *tar.Header, body io.Reader) error) error {
	dirfd, base, err := t.parent(CleanKeepDot(p))
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	w := &treeWriter{t: t, emit: emit, opt: opt, links: map[[2]uint64]string{}}
	return w.add(dirfd, base, strings.TrimSuffix(name, "/"), true)
}

type treeWriter struct {
	t     *Tree
	emit  func(hdr *tar.Header, body io.Reader) error
	opt   TarOptions
	links map[[2]uint64]string // (dev, ino) of files with several links → first name written
}

// add writes the entry base of dirfd as name, and what is below it. The top entry is what
// was asked for: it is read even where something is mounted on it.
func (w *treeWriter) add(dirfd int, base, name string, top bool) error {
	var stx unix.Statx_t
	err := unix.Statx(dirfd, base, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &stx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	mode := uint32(stx.Mode)
	if top && (name == "." || name == "") { // the content alone, with no entry of its own
		if mode&unix.S_IFMT != unix.S_IFDIR {
			return errors.New("not a directory")
		}
		return w.addChildren(dirfd, base, "")
	}
	if mode&unix.S_IFMT == unix.S_IFSOCK {
		return nil
	}
	placeholder := false
	if stx.Mnt_id != w.t.mnt && !top {
		placeholder, err = w.placeholder(dirfd, base)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	hdr := &tar.Header{
		Name: name, Mode: int64(mode & 0o7777), Uid: int(stx.Uid), Gid: int(stx.Gid),
		ModTime: time.Unix(stx.Mtime.Sec, int64(stx.Mtime.Nsec)),
	}
	if w.opt.Owner != nil {
		hdr.Uid, hdr.Gid = w.opt.Owner[0], w.opt.Owner[1]
	}
	var file *os.File
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = readlinkat(dirfd, base); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = map[uint32]byte{unix.S_IFCHR: tar.TypeChar, unix.S_IFBLK: tar.TypeBlock}[mode&unix.S_IFMT]
		hdr.Devmajor, hdr.Devminor = int64(stx.Rdev_major), int64(stx.Rdev_minor)
	default:
		hdr.Typeflag = tar.TypeReg
		if placeholder {
			break // a file mounted over another (/etc/hosts): an empty file stands for it
		}
		key := [2]uint64{unix.Mkdev(stx.Dev_major, stx.Dev_minor), stx.Ino}
		if stx.Nlink > 1 {
			if first, ok := w.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				break
			}
			w.links[key] = name
		}
		// O_NONBLOCK: if a fifo took the file's place meanwhile, the open must not hang.
		fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		file = os.NewFile(uintptr(fd), name)
		defer file.Close()
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("%s: changed while it was read", name)
		}
		hdr.Size = st.Size
		if err := xattrsFrom(fd, hdr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir && !placeholder {
		if err := dirXattrs(dirfd, base, hdr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	var body *io.LimitedReader
	if file != nil {
		body = &io.LimitedReader{R: file, N: hdr.Size}
	}
	if body == nil {
		err = w.emit(hdr, nil)
	} else {
		err = w.emit(hdr, body)
	}
	if err == nil && body != nil && body.N > 0 {
		err = errors.New("changed while it was read")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeDir || placeholder {
		return nil
	}
	return w.addChildren(dirfd, base, name)
}

// dirXattrs adds the kept extended attributes of the directory base of dirfd to hdr.
func dirXattrs(dirfd int, base string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return xattrsFrom(fd, hdr)
}

func (w *treeWriter) addChildren(dirfd int, base, name string) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	slices.Sort(names) // the same tree gives the same archive
	for _, n := range names {
		child := n
		if name != "." && name != "" {
			child = name + "/" + n
		}
		if err := w.add(fd, n, child, false); err != nil {
			return err
		}
	}
	return nil
}

// placeholder decides whether the mount point base of dirfd stands in for what is mounted
// there (written empty) rather than being walked.
func (w *treeWriter) placeholder(dirfd int, base string) (bool, error) {
	switch w.t.Mounts {
	case MountsFollowed:
		return false, nil
	case MountsPlaceholders:
		return true, nil
	}
	var sfs unix.Statfs_t
	fd, err := unix.Openat(dirfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return false, err
	}
	return KernelFS(sfs.Type), nil
}

// KernelFS reports whether a filesystem type (statfs f_type) is one of the kernel's views
// (procfs, sysfs, ...) rather than files someone stored: cp neither reads nor writes those.
func KernelFS(typ int64) bool {
	switch typ {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.DEVPTS_SUPER_MAGIC, mqueueMagic,
		unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC, unix.SECURITYFS_MAGIC, unix.DEBUGFS_MAGIC,
		unix.TRACEFS_MAGIC, unix.BPF_FS_MAGIC, unix.PSTOREFS_MAGIC, configfsMagic, unix.NSFS_MAGIC:
		return true
	}
	return false
}

// FSType is the filesystem type (statfs f_type) of p, resolved as Lstat does but followed.
func (t *Tree) FSType(p string) (int64, error) {
	fd, err := t.openInRoot(CleanKeepDot(p), unix.O_PATH)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, pathErr(err))
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return 0, err
	}
	return sfs.Type, nil
}

func readlinkat(dirfd int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// fileMode turns a stat mode into an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	return mode
}

// Not in x/sys/unix (linux/magic.h has them).
const (
	mqueueMagic   = 0x19800202
	configfsMagic = 0x62656570
)
