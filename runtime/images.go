package runtime

import (
	"fmt"
	"strings"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime/events"
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
	if ref := strings.TrimPrefix(name, "sha256:"); ref != img.Name && strings.HasPrefix(img.ID, ref) {
		// Reached by its ID: with several names that is ambiguous, as in Docker.
		if names, err := s.Images().NamesOf(img.ID); err != nil {
			return err
		} else if len(names) > 1 {
			return fmt.Errorf("conflict: unable to delete %s - image is referenced in multiple repositories (%s): remove them by name", name, strings.Join(names, ", "))
		}
	}
	name = img.Name // what containers record
	return s.withAll(func(all []*Container) error {
		for _, c := range all {
			if c.Image == name {
				return fmt.Errorf("image %s is in use by container %s (%s): remove the container first", name, c.Name, c.ShortID())
			}
		}
		if err := s.Images().Remove(name); err != nil {
			return err
		}
		s.Event(events.Image, "untag", "sha256:"+img.ID, "name", name)
		s.Event(events.Image, "delete", "sha256:"+img.ID, "name", name)
		return nil
	})
}
