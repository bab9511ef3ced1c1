package runtime

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime/events"
)

// Images is the image verbs of a root beyond the image store's own: import
// under a checked name, rm (refused while a container uses the image),
// run's pull policy, and the events they journal.
type Images struct {
	root  string
	Store *rootfs.Store // the images themselves
}

// NewImages gives the image verbs of root.
func NewImages(root string) *Images { return &Images{root: root, Store: imageStore(root)} }

func imageStore(root string) *rootfs.Store { return rootfs.NewStore(filepath.Join(root, "images")) }

// ImageUsers is what image rm asks of the containers: under their lock
// (so that no container is made on the image meanwhile), the in-use error
// if one uses the image, else fn's. *Store is one.
type ImageUsers interface {
	UnlessImageUsed(name string, fn func() error) error
}

// Import imports a root filesystem as an image.
func (im *Images) Import(name, src string) (rootfs.Image, error) {
	if err := rootfs.ValidName(name); err != nil {
		return rootfs.Image{}, err
	}
	return im.Store.Import(rootfs.Normalize(name), src)
}

// Remove removes an image that no container of users uses.
func (im *Images) Remove(name string, users ImageUsers) error {
	img, err := im.Store.Find(name)
	if err != nil {
		return err
	}
	if ref := strings.TrimPrefix(name, "sha256:"); ref != img.Name && strings.HasPrefix(img.ID, ref) {
		// Reached by its ID: with several names that is ambiguous, as in Docker.
		if names, err := im.Store.NamesOf(img.ID); err != nil {
			return err
		} else if len(names) > 1 {
			return fmt.Errorf("conflict: unable to delete %s - image is referenced in multiple repositories (%s): remove them by name", name, strings.Join(names, ", "))
		}
	}
	name = img.Name // what containers record
	return users.UnlessImageUsed(name, func() error {
		if err := im.Store.Remove(name); err != nil {
			return err
		}
		im.Event("untag", "sha256:"+img.ID, "name", name)
		im.Event("delete", "sha256:"+img.ID, "name", name)
		return nil
	})
}

// UnlessImageUsed runs fn under the containers' lock unless a container
// uses the image name (then that is the error).
func (s *Store) UnlessImageUsed(name string, fn func() error) error {
	return s.withAll(func(all []*Container) error {
		for _, c := range all {
			if c.Image == name {
				return fmt.Errorf("image %s is in use by container %s (%s): remove the container first", name, c.Name, c.ShortID())
			}
		}
		return fn()
	})
}

// Event journals an image event about id (best effort).
func (im *Images) Event(action, id string, attrs ...string) {
	event(im.root, events.Image, action, id, attrs...)
}

// PullEvent journals an image pull: Docker's actor is the reference, its
// name attribute the repository (no tag or digest).
func (im *Images) PullEvent(ref string) {
	repo, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	im.Event("pull", ref, "name", repo)
}
