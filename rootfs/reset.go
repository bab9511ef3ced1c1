package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Reset removes every image and the store's directory. It does not know
// about containers: the caller removes them first. It returns the names of
// the images it removed.
func (s *Store) Reset() ([]string, error) {
	if _, err := os.Stat(s.dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	imgs, err := s.List()
	if err != nil {
		return nil, err
	}
	// Under the lock, so that no import or busybox build is half-way; the
	// lock file goes with the directory, which is fine: the store is gone.
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := os.RemoveAll(s.dir); err != nil {
		return nil, fmt.Errorf("remove images: %w", err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	return names, nil
}
