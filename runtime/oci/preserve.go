package oci

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// inheritedFiles are the n descriptors from 3 on that hutch-runc's caller
// passed it (runc's --preserve-fds, for create and exec alike).
func inheritedFiles(n int) ([]*os.File, error) {
	if n < 0 || n > 256 {
		return nil, fmt.Errorf("--preserve-fds %d: not between 0 and 256", n)
	}
	var files []*os.File
	for i := 0; i < n; i++ {
		// One the caller passed has no close-on-exec (it came through an
		// exec); one with it is hutch's own (Go's runtime keeps some open).
		if flags, err := unix.FcntlInt(uintptr(3+i), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC != 0 {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d was not passed to hutch-runc", n, 3+i)
		}
		files = append(files, os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-%d", 3+i)))
	}
	return files, nil
}
