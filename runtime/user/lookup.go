package user

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxFileSize caps how much of an image's passwd or group file is read.
const maxFileSize = 4 << 20

// Lookup resolves spec against root/etc/passwd and root/etc/group, where
// root is an image or container rootfs. The image is untrusted: its
// etc/passwd may be a symlink to /etc/shadow, so every path is resolved as
// if root were "/" (RESOLVE_IN_ROOT), never reaching the host's files.
// Missing files count as empty, so numeric specs work on any image.
func Lookup(root, spec string) (User, error) {
	dir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return User{}, fmt.Errorf("open rootfs: %w", err)
	}
	defer dir.Close()
	passwd, err := openInRoot(dir, "etc/passwd")
	if err != nil {
		return User{}, err
	}
	if passwd != nil {
		defer passwd.Close()
	}
	group, err := openInRoot(dir, "etc/group")
	if err != nil {
		return User{}, err
	}
	if group != nil {
		defer group.Close()
	}
	return Parse(spec, limit(passwd), limit(group))
}

// openInRoot opens name below dir for reading, or returns nil if it does
// not exist. Only regular files are accepted: a FIFO would block forever
// and a device could be endless.
func openInRoot(dir *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat2(int(dir.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in rootfs: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s in rootfs: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s in rootfs: not a regular file", name)
	}
	return f, nil
}

// limit returns a reader for f capped at maxFileSize; nil for a nil f, so
// that Parse sees an empty file.
func limit(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	return io.LimitReader(f, maxFileSize)
}
