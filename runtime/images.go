package runtime

import (
	"fmt"

	"github.com/hutchrt/hutch/rootfs"
)

// ImportImage imports a root filesystem as an image. It takes the store's
// lock so that no run can start on a half-made name.
func (s *Store) ImportImage(name, src string) (rootfs.Image, error) {
	if err := rootfs.ValidName(name); err != nil {
		return rootfs.Image{}, err
	}
	return s.Images().Import(rootfs.Normalize(name), src)
}

// RemoveImage removes an image that no container uses.
func (s *Store) RemoveImage(name string) error {
	img, err := s.Images().Find(name)
	if err != nil {
		return err
	}
	name = img.Name // what containers record
	return s.withAll(func(all []*Container) error {
		for _, c := range all {
			if c.Image == name {
				return fmt.Errorf("image %s is in use by container %s (%s): remove the container first", name, c.Name, c.ShortID())
			}
		}
		return s.Images().Remove(name)
	})
}
