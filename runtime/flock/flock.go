// Package flock takes whole-file advisory locks (flock(2)), the one way
// hutch's parallel commands serialise their changes to shared state.
package flock

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Exclusive locks path (creating it) for one writer.
func Exclusive(path string) (unlock func(), err error) { return lock(path, unix.LOCK_EX) }

// Shared locks path (creating it) for any number of holders, excluding an
// exclusive one.
func Shared(path string) (unlock func(), err error) { return lock(path, unix.LOCK_SH) }

// TryExclusive is Exclusive without the wait: ok is false, and nothing is
// held, while someone else holds the lock.
func TryExclusive(path string) (unlock func(), ok bool, err error) {
	unlock, err = lock(path, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, false, nil
	}
	return unlock, err == nil, err
}

// lock opens path CLOEXEC, so that a child never inherits (and silently
// holds) the lock, and waits for it.
func lock(path string, how int) (func(), error) {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}
