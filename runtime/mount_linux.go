package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupRootfs runs in the init, inside the container's fresh mount
// namespace: it mounts the overlay root and everything under it, then makes
// it the root with pivot_root. Mount targets are resolved inside the root
// (openat2 RESOLVE_IN_ROOT), because the image is untrusted: a symlink such as
// etc/resolv.conf -> /etc/shadow must not lead a mount out of the container.
func setupRootfs(spec *specs.Spec, upper, work string) error {
	// Before anything else: nothing mounted from here on may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	root := spec.Root.Path
	lower := spec.Annotations[annotLowerDir]
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if spec.Annotations[annotVolatile] == "true" {
		// The upper layer dies with the container (--rm): skip the syncs
		// overlayfs would do, above all the one at unmount (as Podman does).
		opts += ",volatile"
	}
	if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay root: %w", err)
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open root: %w", err)
	}
	defer unix.Close(rootFd)

	for _, m := range spec.Mounts {
		if err := mountInRoot(rootFd, m); err != nil {
			return fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		if m.Destination == "/dev" {
			if err := populateDev(rootFd); err != nil {
				return err
			}
		}
	}
	for _, p := range spec.Linux.MaskedPaths {
		if err := maskPath(rootFd, p); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		if err := readonlyPath(rootFd, p); err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	// Made here, as root and inside the root, before it may turn read-only.
	if cwd, err := openInRoot(rootFd, spec.Process.Cwd, false); err != nil {
		return fmt.Errorf("working directory %s: %w", spec.Process.Cwd, err)
	} else {
		unix.Close(cwd)
	}
	if spec.Root.Readonly {
		if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	return pivotRoot(root)
}

// pivotRoot makes root the root and drops the old one. pivot_root(".", ".")
// stacks the old root under the new one, so a lazy unmount of "." removes it
// without needing a directory to put it in.
func pivotRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// openInRoot opens path inside the root as an O_PATH fd, creating missing
// directories (and the last component as a file when asFile) on the way.
func openInRoot(rootFd int, path string, asFile bool) (int, error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(rootFd, rel, how)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, last := filepath.Split(rel)
	pfd := rootFd
	if parent != "" {
		if pfd, err = openInRoot(rootFd, parent, false); err != nil {
			return -1, err
		}
		defer unix.Close(pfd)
	}
	if asFile {
		f, err := unix.Openat(pfd, last, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		if err == nil {
			unix.Close(f)
		}
	} else if err := unix.Mkdirat(pfd, last, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return unix.Openat2(rootFd, rel, how)
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

func mountInRoot(rootFd int, m specs.Mount) error {
	flags, data := mountOptions(m.Options)
	isBind := m.Type == "bind" || flags&unix.MS_BIND != 0
	asFile := false
	if isBind {
		st, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		asFile = !st.IsDir()
		flags |= unix.MS_BIND
	}
	fd, err := openInRoot(rootFd, m.Destination, asFile)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	typ := m.Type
	if isBind {
		typ = ""
	}
	// Propagation flags cannot be combined with others in one mount call.
	prop := flags & (unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_SHARED | unix.MS_UNBINDABLE)
	flags &^= prop
	if err := unix.Mount(m.Source, fdPath(fd), typ, uintptr(flags), data); err != nil {
		return err
	}
	if isBind && flags&unix.MS_RDONLY != 0 {
		// A bind ignores MS_RDONLY: remount the new mount, reached by a fresh fd.
		nfd, err := openInRoot(rootFd, m.Destination, asFile)
		if err != nil {
			return err
		}
		defer unix.Close(nfd)
		if err := unix.Mount("", fdPath(nfd), "", uintptr(flags|unix.MS_REMOUNT), ""); err != nil {
			return err
		}
	}
	return nil
}

var mountFlagOf = map[string]int{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC, "strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME,
	"noatime": unix.MS_NOATIME, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
}

// mountOptions splits OCI mount options into mount(2) flags and fs data.
func mountOptions(opts []string) (flags int, data string) {
	var d []string
	for _, o := range opts {
		if f, ok := mountFlagOf[o]; ok {
			flags |= f
		} else if o != "rw" {
			d = append(d, o)
		}
	}
	return flags, strings.Join(d, ",")
}

type devNode struct {
	name         string
	major, minor uint32
}

var devNodes = []devNode{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devLinks = [][2]string{
	{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
}

// populateDev fills the fresh /dev tmpfs with Docker's device nodes and links.
func populateDev(rootFd int) error {
	dev, err := openInRoot(rootFd, "/dev", false)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer unix.Close(dev)
	// mknodat needs a real directory fd, not O_PATH.
	dfd, err := unix.Openat(dev, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer unix.Close(dfd)
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, n := range devNodes {
		if err := unix.Mknodat(dfd, n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", n.name, err)
		}
	}
	for _, l := range devLinks {
		if err := unix.Symlinkat(l[0], dfd, l[1]); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// maskPath hides a path: /dev/null over a file, an empty read-only tmpfs over a directory.
func maskPath(rootFd int, p string) error {
	fd, err := unix.Openat2(rootFd, strings.TrimPrefix(p, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY, "size=0")
	}
	return unix.Mount("/dev/null", fdPath(fd), "", unix.MS_BIND, "")
}

// readonlyPath bind-mounts a path onto itself and remounts the bind read-only.
func readonlyPath(rootFd int, p string) error {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	rel := strings.TrimPrefix(p, "/")
	fd, err := unix.Openat2(rootFd, rel, how)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	err = unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, "")
	unix.Close(fd)
	if err != nil {
		return err
	}
	if fd, err = unix.Openat2(rootFd, rel, how); err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Mount("", fdPath(fd), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}
