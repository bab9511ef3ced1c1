// Package atomicfile replaces files whole: the one way hutch's stores write
// records that other processes read without a lock.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write writes data to path through a temp file and a rename, so a reader
// sees the old content or the new, never a mix. On ext4 a rename over an
// existing file also gets the new content to disk first (auto_da_alloc), so
// a crash does not leave the file empty.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, os.Rename)
}

// WriteVolatile is Write for a file that goes with what it describes (a
// --rm container's record): it need not survive a crash, and it should not
// reach the disk at all if it can help it. It exchanges the new file with
// the old (RENAME_EXCHANGE) and removes the old one, instead of renaming
// over it: ext4 writes out a file renamed over another at once, and on a
// filesystem mounted with discard, freeing those blocks later waits on the
// disk (0.3 ms for a short-lived container's state.json here).
func WriteVolatile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, exchange)
}

func write(path string, data []byte, perm os.FileMode, replace func(tmp, path string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = replace(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// exchange moves tmp to path; when path existed, tmp ends up with its old
// content, and is removed.
func exchange(tmp, path string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
	if err == nil {
		os.Remove(tmp) // a leftover would only take space: path is written
		return nil
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return os.Rename(tmp, path) // a new file, or a filesystem that cannot exchange
	}
	return err
}
