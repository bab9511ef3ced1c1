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

// extractor unpacks an untrusted tar into a directory. Every file is created relative to a
// parent directory opened by openat2, and the last component is never followed, so no entry can
// write outside the root whatever symlinks came before it. For an image the parents are
// resolved beneath the root with no symlink followed at all; for cp into a container (inRoot)
// they are resolved in the container's root, following its symlinks as its processes would.
type extractor struct {
	rootFD int
	inRoot bool   // resolve parents in rootFD's root, below dir
	dir    string // with inRoot: where the archive goes, absolute in the root
	// copying is cp's rule (Docker's NoOverwriteDirNonDir): a directory is never replaced by a
	// non-directory or the reverse, and the directory entries met merge with those there.
	copying bool
	owner   *[2]int // if set, the uid and gid of every entry
	layer   bool    // an image layer: OCI whiteouts become overlayfs ones (see whiteout)
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
	n, err := x.run(r)
	if err != nil {
		return 0, err
	}
	if n == 0 && !layer { // an image needs files; a layer may add none
		return 0, errEmpty
	}
	var size int64
	for _, n := range x.files {
		size += n
	}
	return size, nil
}

// CopyOptions say how a copy writes a tar into a directory.
type CopyOptions struct {
	Owner *[2]int // if set, the uid and gid of every file written; else the archive's
}

// ExtractCopy unpacks the tar stream r into the existing directory dir of the host, as cp
// writes what it copied out of a container: below dir, no symlink is followed.
func ExtractCopy(r io.Reader, dir string, opt CopyOptions) error {
	c, err := NewCopier(dir, opt)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err = c.x.run(r); err != nil {
		return err
	}
	return c.Close()
}

// ExtractCopy unpacks the tar stream r into the directory dir of the tree, as cp writes into
// a container: names are resolved in the tree's root.
func (t *Tree) ExtractCopy(r io.Reader, dir string, opt CopyOptions) error {
	_, err := t.NewCopier(dir, opt).x.run(r)
	return err
}

// A Copier writes entries one by one as ExtractCopy does, for a copy that needs no tar
// stream in between (Tree.Walk's entries).
type Copier struct {
	x     *extractor
	close func()
}

// NewCopier writes into the existing directory dir of the host (see ExtractCopy).
func NewCopier(dir string, opt CopyOptions) (*Copier, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	x := &extractor{rootFD: fd, copying: true, owner: opt.Owner, files: map[string]int64{}}
	return &Copier{x: x, close: func() { unix.Close(fd) }}, nil
}

// NewCopier writes into the directory dir of the tree (see Tree.ExtractCopy).
func (t *Tree) NewCopier(dir string, opt CopyOptions) *Copier {
	x := &extractor{rootFD: t.fd, inRoot: true, dir: path.Clean("/" + dir), copying: true, owner: opt.Owner, files: map[string]int64{}}
	return &Copier{x: x, close: func() {}}
}

// Entry writes one entry; body is a regular file's content.
func (c *Copier) Entry(hdr *tar.Header, body io.Reader) error {
	if c.x.owner != nil {
		hdr.Uid, hdr.Gid = c.x.owner[0], c.x.owner[1]
	}
	if body == nil {
		body = strings.NewReader("")
	}
	if err := c.x.entry(hdr, body); err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	return nil
}

// Close sets the directories' times (their entries changed them) and lets the directory go.
// It may be called again: the second call does nothing.
func (c *Copier) Close() error {
	if c.close == nil {
		return nil
	}
	defer func() { c.close(); c.close = nil }()
	return c.x.finish()
}

// run extracts every entry and returns how many there were besides the root.
func (x *extractor) run(r io.Reader) (int, error) {
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
		if x.owner != nil {
			hdr.Uid, hdr.Gid = x.owner[0], x.owner[1]
		}
		if err := x.entry(hdr, tr); err != nil {
			return 0, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	return n, x.finish()
}

// finish gives the directories their times, last: creating their children changed them.
func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := x.setMtime(d.name, d.mtime); err != nil {
			return fmt.Errorf("entry %q: %w", d.name, err)
		}
	}
	x.dirs = nil
	return nil
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
	if name == "." || hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // the root itself (keep our own 0755 root-owned directory), or pax metadata
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
		if err := x.mkdir(dirfd, base, name, hdr); err != nil {
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

// checkEntry refuses entry types and link targets that would let the image reach outside
// itself. Device nodes are made, as Docker makes them when it applies a layer as root: a real
// root filesystem (mmdebstrap, debootstrap) has /dev/null and friends; a container never sees
// the image's /dev (it gets a tmpfs of its own there). A node elsewhere is like one the container
// could mknod itself with CAP_MKNOD. (tar has no type for sockets: its writers skip them.)
func checkEntry(name string, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeLink, tar.TypeFifo, tar.TypeChar, tar.TypeBlock:
		return nil
	case tar.TypeSymlink:
		return checkSymlink(name, hdr.Linkname)
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
		return 0, mknod(dirfd, base, hdr, unix.S_IFIFO, 0)
	case tar.TypeChar:
		return 0, mknod(dirfd, base, hdr, unix.S_IFCHR, unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	case tar.TypeBlock:
		return 0, mknod(dirfd, base, hdr, unix.S_IFBLK, unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	default:
		return x.writeFile(dirfd, base, hdr, r)
	}
}

// mknod makes a fifo or a device node with the entry's owner and mode. The node is made 0600
// and only then given its mode, so that it is never open to others before its owner is set.
func mknod(dirfd int, base string, hdr *tar.Header, typ uint32, dev uint64) error {
	if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > 0xfff || hdr.Devminor > 0xfffff {
		return fmt.Errorf("device number %d:%d out of range", hdr.Devmajor, hdr.Devminor)
	}
	if err := unix.Mknodat(dirfd, base, typ|0o600, int(dev)); err != nil {
		return fmt.Errorf("create %s: %w", nodeKind(typ), err)
	}
	if err := unix.Fchownat(dirfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// Fchmodat follows a final symlink, but base is the node just made in a directory that
	// only we write to.
	if err := unix.Fchmodat(dirfd, base, modeOf(hdr), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

func nodeKind(typ uint32) string {
	switch typ {
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFCHR:
		return "character device"
	}
	return "block device"
}

// openDir opens dir (relative to the root) without following any symlink and without leaving
// the root; with create, missing directories are made on the way, as tar(1) does.
func (x *extractor) openDir(dir string, create bool) (int, error) {
	if x.inRoot {
		fd, err := openInRootDir(x.rootFD, path.Join(x.dir, dir), create)
		if err != nil {
			return fd, err
		}
		// A link in the container may lead into its /proc or /sys: the host's root writes
		// none of those (the container itself may not).
		var sfs unix.Statfs_t
		if err := unix.Fstatfs(fd, &sfs); err != nil || KernelFS(sfs.Type) {
			unix.Close(fd)
			if err == nil {
				err = fmt.Errorf("%s is on a kernel filesystem (such as /proc or /sys): cp does not write there", path.Join(x.dir, dir))
			}
			return -1, err
		}
		return fd, nil
	}
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

// openInRootDir opens the directory p resolved in rootFD's root, symlinks followed within it;
// with create, missing directories are made on the way (0755, as Docker makes them).
func openInRootDir(rootFD int, p string, create bool) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: inRoot}
	for {
		fd, err := unix.Openat2(rootFD, p, how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case create && errors.Is(err, unix.ENOENT) && p != "/":
			parent, err := openInRootDir(rootFD, path.Dir(p), true)
			if err != nil {
				return -1, err
			}
			err = unix.Mkdirat(parent, path.Base(p), 0o755)
			if err == nil {
				err = unix.Fchmodat(parent, path.Base(p), 0o755, 0) // just made: beat the umask
			}
			unix.Close(parent)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, fmt.Errorf("create %s: %w", p, err)
			}
			if errors.Is(err, unix.EEXIST) {
				create = false // a dangling symlink: the retry names the error
			}
		default:
			return -1, fmt.Errorf("open %s: %w", p, pathErr(err))
		}
	}
}

// replace removes what an earlier entry of the same name made: in a tar the last entry wins.
// A copy replaces what is there, but never a directory by a non-directory.
func (x *extractor) replace(dirfd int, base, name string) error {
	if x.copying {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("cannot overwrite directory %q with a non-directory", x.shown(name))
		}
	}
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

// shown is an entry's path as the user knows it: in the container for a copy into one.
func (x *extractor) shown(name string) string {
	if x.inRoot {
		return path.Join(x.dir, name)
	}
	return name
}

func (x *extractor) mkdir(dirfd int, base, name string, hdr *tar.Header) error {
	err := unix.Mkdirat(dirfd, base, 0o700)
	if errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err = unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if x.copying {
				return fmt.Errorf("cannot overwrite non-directory %q with a directory", x.shown(name))
			}
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
	n, err := copyBody(f, r)
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

// copyBody copies a file's body. From a file (cp's walk hands one, limited to its size) it goes
// in the kernel: io.Copy's copy_file_range fails across filesystems (the host's into a
// container's overlay), and its fallback reads and writes 32 KiB at a time, twice as slow as the
// host's cp for a large file; sendfile copies file to file across them.
func copyBody(dst *os.File, r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		return io.Copy(dst, r)
	}
	src, ok := lr.R.(*os.File)
	if !ok {
		return io.Copy(dst, r)
	}
	var n int64
	for lr.N > 0 {
		chunk := min(lr.N, 1<<30)
		w, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), nil, int(chunk))
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			if n == 0 && (err == unix.EINVAL || err == unix.ENOSYS) { // a file sendfile cannot read
				return io.Copy(dst, r)
			}
			return n, err
		}
		if w == 0 {
			break // the source is shorter than said: the caller sees lr.N > 0
		}
		n += int64(w)
		lr.N -= int64(w)
	}
	return n, nil
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
	return setXattrs(fd, hdr)
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
