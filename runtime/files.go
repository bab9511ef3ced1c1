package runtime

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/rootfs"
)

// A container's files, for export and cp, are reached from the host without entering it:
//
//   - running: through /proc/PID/root, the root its processes see, with their mounts;
//   - stopped: its overlay (the image below, its upper directory) is mounted by a thread of
//     ours in a mount namespace of its own, opened, and detached at once: the open directory
//     keeps it alive, nobody else sees it, and closing it (or our death, however it comes)
//     unmounts it. A start waits while such a mount is open (lockFiles), since two overlays
//     must not share an upper directory.
//
// Either way the result is a directory fd in which every path is resolved by the kernel
// inside the container's root (rootfs.Tree).

// Files is cp and export: a container's files from the host. What they need of the
// containers is fileContainers.
type Files struct{ ctrs fileContainers }

// fileContainers is what cp and export ask of the containers: a record, its directory, and
// the lock a start waits on while a stopped container's overlay is mounted. *Store is one.
type fileContainers interface {
	Get(ref string) (*Container, error)
	Dir(id string) string
	lockFiles(id string) (unlock func(), err error)
}

// NewFiles gives cp and export of the containers of s.
func NewFiles(s *Store) *Files { return &Files{ctrs: s} }

// containerFiles is a container's root filesystem, open.
type containerFiles struct {
	tree     *rootfs.Tree
	c        *Container
	running  bool
	readOnly bool // --read-only: a stopped one's overlay is writable here, but not to cp
	close    func()
}

// openFiles opens the root filesystem of the container ref.
func (fs *Files) open(ref string) (*containerFiles, error) {
	c, err := fs.ctrs.Get(ref)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		if c.Running() && c.Pid != 0 {
			if f, err := openRunning(c); err == nil || !errors.Is(err, errStopped) {
				return f, err
			}
		} else if c.MonitorPid == 0 {
			if f, err := fs.openStopped(c.ID); err == nil || !errors.Is(err, errStarted) {
				return f, err
			}
		}
		// Starting or stopping just now: its monitor records it in a moment.
		if try == 250 {
			return nil, fmt.Errorf("container %s is starting or stopping: try again", c.Name)
		}
		time.Sleep(20 * time.Millisecond)
		if c, err = fs.ctrs.Get(c.ID); err != nil {
			return nil, err
		}
	}
}

var (
	errStopped = errors.New("stopped meanwhile")
	errStarted = errors.New("started meanwhile")
)

func openRunning(c *Container) (*containerFiles, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(c.Pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil && !alive(c.Pid, c.PidStart) { // checked after the open: the fd is of this container
		unix.Close(fd)
		err = errStopped
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			err = errStopped
		}
		return nil, err
	}
	tree, err := rootfs.NewTree(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &containerFiles{tree: tree, c: c, running: true, close: func() { unix.Close(fd) }}, nil
}

func (fs *Files) openStopped(id string) (*containerFiles, error) {
	unlock, err := fs.ctrs.lockFiles(id)
	if err != nil {
		return nil, err
	}
	c, err := fs.ctrs.Get(id) // again, under the lock: a start waits for it now
	if err == nil && c.MonitorPid != 0 {
		err = errStarted
	}
	var lower string
	var readOnly bool
	if err == nil {
		lower, readOnly, err = lowerDir(fs.ctrs.Dir(id))
	}
	var fd int
	if err == nil {
		fd, err = mountDetached(fs.ctrs.Dir(id), lower, c.Mounts)
	}
	if err != nil {
		unlock()
		return nil, err
	}
	tree, err := rootfs.NewTree(fd)
	if err != nil {
		unix.Close(fd)
		unlock()
		return nil, err
	}
	return &containerFiles{tree: tree, c: c, readOnly: readOnly, close: func() { unix.Close(fd); unlock() }}, nil
}

// lockFiles takes the lock on the container's directory that a cp or export holds while the
// stopped container's overlay is mounted, and that claim takes before a start.
func (s *Store) lockFiles(id string) (unlock func(), err error) {
	fd, err := unix.Open(s.Dir(id), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, err
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", id, err)
	}
	return func() { unix.Close(fd) }, nil
}

// lowerDir is the image layer the overlay of the container in dir has below, from its
// config.json, and whether its root is read-only.
func lowerDir(dir string) (string, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", false, err
	}
	var spec struct {
		Root *struct {
			Readonly bool `json:"readonly"`
		} `json:"root"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return "", false, fmt.Errorf("read config.json: %w", err)
	}
	lower := spec.Annotations[annotLowerDir]
	if lower == "" {
		return "", false, errors.New("config.json names no image layer")
	}
	return lower, spec.Root != nil && spec.Root.Readonly, nil
}

// mountDetached mounts the overlay of the stopped container in dir where nobody else sees it and returns an
// fd of its root. The mount is made in a mount namespace of one locked thread, which ends with
// its goroutine (a locked thread is never reused), and detached from that namespace at once:
// the fd alone keeps it.
//
// With bind mounts or volumes, they are bound on the overlay there too (cp reaches into them,
// as Docker's does through a stopped container's mounts), and the fd is of a detached copy of
// that whole tree (open_tree OPEN_TREE_CLONE|AT_RECURSIVE): a detached overlay alone would
// lose the mounts on it.
func mountDetached(dir, lower string, mounts []MountPoint) (int, error) {
	for _, d := range []string{"upper", "work", "rootfs"} { // a container never started has none
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return -1, fmt.Errorf("create %s: %w", d, err)
		}
	}
	target := filepath.Join(dir, "rootfs")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread and its namespace die with us
		fd, err := func() (int, error) {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return -1, fmt.Errorf("unshare the mount namespace: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return -1, fmt.Errorf("make mounts private: %w", err)
			}
			if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
				return -1, fmt.Errorf("mount the container's filesystem: %w", err)
			}
			if binds := hostMounts(mounts); len(binds) > 0 {
				if err := bindInto(target, binds); err != nil {
					return -1, err
				}
				fd, err := unix.OpenTree(unix.AT_FDCWD, target, unix.OPEN_TREE_CLONE|unix.AT_RECURSIVE|unix.OPEN_TREE_CLOEXEC)
				if err != nil {
					return -1, fmt.Errorf("open the container's filesystem: %w", err)
				}
				return fd, nil // the namespace goes with this thread; the clone stays with fd
			}
			fd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if uerr := unix.Unmount(target, unix.MNT_DETACH); err == nil && uerr != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("detach the container's filesystem: %w", uerr)
			}
			return fd, err
		}()
		done <- result{fd, err}
	}()
	r := <-done
	return r.fd, r.err
}

// hostMounts are the mounts of a host directory or file (binds and volumes), parents first.
func hostMounts(mounts []MountPoint) []MountPoint {
	var out []MountPoint
	for _, m := range mounts {
		if (m.Type == "bind" || m.Type == "volume") && m.Source != "" {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].Destination, "/") < strings.Count(out[j].Destination, "/")
	})
	return out
}

// bindInto binds each mount's source on its destination in the container's root at root, in
// this thread's private mount namespace. A destination is resolved inside the root (never
// following a symlink out of it) and bound through its fd, as runc does; one that is not
// there (a container never started has made none) is left out: there is nothing to reach.
func bindInto(root string, mounts []MountPoint) error {
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's filesystem: %w", err)
	}
	defer unix.Close(rootFD)
	tree, err := rootfs.NewTree(rootFD)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		fd, err := tree.OpenPath(m.Destination)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mount point %s: %w", m.Destination, err)
		}
		err = unix.Mount(m.Source, "/proc/self/fd/"+strconv.Itoa(fd), "", unix.MS_BIND|unix.MS_REC, "")
		unix.Close(fd)
		if err == nil && m.ReadOnly { // on the new mount: the old fd is of what is below it
			if fd, err = tree.OpenPath(m.Destination); err == nil {
				err = unix.Mount("", "/proc/self/fd/"+strconv.Itoa(fd), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
				unix.Close(fd)
			}
		}
		if err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
		}
	}
	return nil
}

// Export writes the container's filesystem to w as a tar, as `docker export`: its root as its
// processes see it, without what is mounted on it (/proc, /sys, /dev, bind mounts), each mount
// point written as an empty directory or file.
func (fs *Files) Export(ref string, w io.Writer) error {
	f, err := fs.open(ref)
	if err != nil {
		return err
	}
	defer f.close()
	f.tree.Mounts = rootfs.MountsPlaceholders
	tw := tar.NewWriter(w)
	if err := f.tree.WriteTar(tw, "/", ".", rootfs.TarOptions{}); err != nil {
		return fmt.Errorf("export %s: %w", f.c.Name, err)
	}
	return tw.Close()
}

// CopyOptions are cp's flags.
type CopyOptions struct {
	Archive    bool // -a: keep the source's owners (else root in a container, the caller on the host)
	FollowLink bool // -L: a source that is a symlink is copied as what it points to
}

// CopyFrom copies src of the container ref to the host path dst, or as a tar to
// stdout when dst is "-", with Docker's rules (rootfs.PlanCopy).
func (fs *Files) CopyFrom(ref, src, dst string, opt CopyOptions, stdout io.Writer) error {
	f, err := fs.open(ref)
	if err != nil {
		return err
	}
	defer f.close()
	f.tree.Mounts = rootfs.MountsOrdinary
	info, err := f.tree.Lstat(src)
	if err != nil {
		return fmt.Errorf("%s:%s: %w", f.c.Name, src, err)
	}
	if !info.Found {
		return fmt.Errorf("no such file or directory in container %s: %s", f.c.Name, src)
	}
	name := rootfs.SourceBase(info.Path)
	if opt.FollowLink && info.Mode&os.ModeSymlink != 0 {
		target := info.Link
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(info.Path), target)
		}
		if info, err = f.tree.Lstat(target + "/."); err != nil || !info.Found { // "/." follows it
			if info, err = f.tree.Lstat(target); err != nil || !info.Found {
				return fmt.Errorf("%s:%s: the link's target %s does not exist", f.c.Name, src, target)
			}
		}
		info.Path = path.Clean(info.Path) // its name stays src's
	}
	if err := f.kernelFS(info.Path); err != nil {
		return err
	}
	owner := &[2]int{os.Getuid(), os.Getgid()}
	if opt.Archive {
		owner = nil
	}
	if dst == "-" {
		tw := tar.NewWriter(stdout)
		if err := f.tree.WriteTar(tw, info.Path, name, rootfs.TarOptions{}); err != nil {
			return fmt.Errorf("copy %s:%s: %w", f.c.Name, src, err)
		}
		return tw.Close()
	}
	dstInfo, err := rootfs.HostDestination(dst)
	if err != nil {
		return err
	}
	dir, name, err := rootfs.PlanCopy(name, info.IsDir(), dstInfo)
	if err != nil {
		return err
	}
	cw, err := rootfs.NewCopier(dir, rootfs.CopyOptions{Owner: owner})
	if err != nil {
		return err
	}
	defer cw.Close()
	if err := f.tree.Walk(info.Path, name, rootfs.TarOptions{}, cw.Entry); err != nil {
		return fmt.Errorf("copy %s:%s: %w", f.c.Name, src, err)
	}
	return cw.Close()
}

// CopyTo copies the host path src (or a tar on stdin when src is "-") to dst in the
// container ref, with Docker's rules (rootfs.PlanCopy).
func (fs *Files) CopyTo(ref, src, dst string, opt CopyOptions, stdin io.Reader) error {
	f, err := fs.open(ref)
	if err != nil {
		return err
	}
	defer f.close()
	f.tree.Mounts = rootfs.MountsOrdinary
	dstInfo, err := f.tree.Lstat(dst)
	if err != nil {
		return fmt.Errorf("%s:%s: %w", f.c.Name, dst, err)
	}
	if dstInfo.Found && dstInfo.Mode&os.ModeSymlink != 0 { // the copy goes where it points
		target := dstInfo.Link
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(dstInfo.Path), target)
		}
		if dstInfo, err = f.tree.Lstat(target); err != nil {
			return fmt.Errorf("%s:%s: %w", f.c.Name, dst, err)
		}
	}
	if dstInfo.Found && !dstInfo.IsDir() && !dstInfo.Mode.IsRegular() {
		return fmt.Errorf("destination %s:%s must be a directory or a regular file", f.c.Name, dst)
	}
	owner := &[2]int{0, 0}
	if opt.Archive {
		owner = nil
	}
	if src == "-" {
		if !dstInfo.IsDir() {
			return fmt.Errorf("destination %s:%s must be a directory", f.c.Name, dst)
		}
		if err := f.kernelFS(dstInfo.Path); err != nil {
			return err
		}
		return f.extractIn(stdin, dstInfo.Path, owner)
	}
	host, err := hostTree()
	if err != nil {
		return err
	}
	defer host.close()
	srcInfo, err := host.tree.Lstat(absPath(src))
	if err != nil {
		return fmt.Errorf("source %s: %w", src, err)
	}
	if !srcInfo.Found {
		return fmt.Errorf("source %s: no such file or directory", src)
	}
	name := rootfs.SourceBase(srcInfo.Path)
	if opt.FollowLink && srcInfo.Mode&os.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(srcInfo.Path)
		if err != nil {
			return fmt.Errorf("source %s: %w", src, err)
		}
		if srcInfo, err = host.tree.Lstat(resolved); err != nil {
			return err
		}
	}
	dir, name, err := rootfs.PlanCopy(name, srcInfo.IsDir(), dstInfo)
	if err != nil {
		return err
	}
	if err := f.kernelFS(dir); err != nil {
		return err
	}
	if f.readOnly {
		return fmt.Errorf("copy into %s: its root filesystem is read-only", f.c.Name)
	}
	cw := f.tree.NewCopier(dir, rootfs.CopyOptions{Owner: owner})
	err = host.tree.Walk(srcInfo.Path, name, rootfs.TarOptions{}, cw.Entry)
	if err == nil {
		err = cw.Close()
	}
	return f.copyInErr(dir, err)
}

func (f *containerFiles) extractIn(r io.Reader, dir string, owner *[2]int) error {
	if f.readOnly {
		return fmt.Errorf("copy into %s: its root filesystem is read-only", f.c.Name)
	}
	return f.copyInErr(dir, f.tree.ExtractCopy(r, dir, rootfs.CopyOptions{Owner: owner}))
}

func (f *containerFiles) copyInErr(dir string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EROFS):
		if m := mountOf(f.c.Mounts, dir); m != nil && m.ReadOnly {
			return fmt.Errorf("copy into %s:%s: mounted volume is marked read-only", f.c.Name, m.Destination) // Docker's words
		}
		return fmt.Errorf("copy into %s: its root filesystem is read-only", f.c.Name)
	}
	return fmt.Errorf("copy into %s:%s: %w", f.c.Name, dir, err)
}

// mountOf is the mount of mounts that p is in (the deepest), or nil.
func mountOf(mounts []MountPoint, p string) *MountPoint {
	var best *MountPoint
	for i, m := range mounts {
		if p == m.Destination || strings.HasPrefix(p, m.Destination+"/") {
			if best == nil || len(m.Destination) > len(best.Destination) {
				best = &mounts[i]
			}
		}
	}
	return best
}

// kernelFS refuses a path of a running container on one of the kernel's filesystems (/proc,
// /sys, ...): Docker's cp cannot reach them either, and writing there as the host's root
// would be more than the container itself may do.
func (f *containerFiles) kernelFS(p string) error {
	if !f.running {
		return nil
	}
	typ, err := f.tree.FSType(p)
	if err != nil {
		return fmt.Errorf("%s:%s: %w", f.c.Name, p, err)
	}
	if rootfs.KernelFS(typ) {
		return fmt.Errorf("%s:%s is on a kernel filesystem (such as /proc or /sys): cp does not copy those", f.c.Name, p)
	}
	return nil
}

// hostTree is the host's own filesystem, as a source of cp.
func hostTree() (*containerFiles, error) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	tree, err := rootfs.NewTree(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	tree.Mounts = rootfs.MountsFollowed
	return &containerFiles{tree: tree, close: func() { unix.Close(fd) }}, nil
}

// absPath makes a host path absolute, keeping a trailing "/" or "/.".
func absPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return wd + "/" + p
}
