package runtime

import (
	"errors"
	"path/filepath"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime/events"
)

// Volumes is the volume store of this root. Its lock is always taken
// before the containers' one, never inside it: Create holds it while it
// makes a container that uses volumes, volume rm while it checks that no
// container uses one, so that no container can start using a volume that
// is being removed.
func (s *Store) Volumes() *rootfs.Volumes { return volumeStore(s.Root) }

func volumeStore(root string) *rootfs.Volumes {
	return rootfs.NewVolumes(filepath.Join(root, "volumes"))
}

// usesVolumes reports whether any of mounts is a volume.
func usesVolumes(mounts []MountPoint) bool {
	for _, m := range mounts {
		if m.Type == "volume" {
			return true
		}
	}
	return false
}

// nameVolumes gives each anonymous volume a random 64-hex name, as Docker
// does, and each volume its source, the volume's _data.
func (s *Store) nameVolumes(mounts []MountPoint) {
	vols := s.Volumes()
	for i := range mounts {
		m := &mounts[i]
		if m.Type != "volume" {
			continue
		}
		if m.Anonymous {
			m.Name = newID()
		}
		m.Source = vols.DataPath(m.Name)
	}
}

// makeVolumes creates the volumes mounts name (under the volumes' lock,
// held by the caller) and seeds each empty one from the image's content
// at its target, unless nocopy. It returns the volumes it made, for undo.
func (s *Store) makeVolumes(mounts []MountPoint, imageLayers []string) (made []string, err error) {
	vols := s.Volumes()
	for _, m := range mounts {
		if m.Type != "volume" {
			continue
		}
		var labels map[string]string
		if m.Anonymous {
			labels = map[string]string{rootfs.AnonymousLabel: ""}
		}
		_, created, err := vols.CreateLocked(m.Name, labels)
		if err != nil {
			return made, err
		}
		if created {
			made = append(made, m.Name)
			s.Event(events.Volume, "create", m.Name, "driver", "local")
		}
		if m.noCopy {
			continue
		}
		// Top layer first: the first with something at the path fills the
		// volume, and Seed leaves a volume with content alone. (A directory
		// spread over several layers is seeded from the topmost one only.)
		for _, layer := range imageLayers {
			if err := vols.Seed(m.Name, layer, m.Destination); err != nil {
				return made, err
			}
		}
	}
	return made, nil
}

// removeVolumes removes volumes by name, best effort (rm -v, --rm, and the
// undo of a failed create). Called without the containers' lock.
func (s *Store) removeVolumes(names []string) error {
	if len(names) == 0 {
		return nil
	}
	vols := s.Volumes()
	unlock, err := vols.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, n := range names {
		if err := vols.RemoveLocked(n); err == nil {
			s.Event(events.Volume, "destroy", n, "driver", "local")
		} else if !errors.Is(err, rootfs.ErrNoVolume) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// anonymousVolumes are the names of c's anonymous volumes.
func anonymousVolumes(c *Container) []string {
	var out []string
	for _, m := range c.Mounts {
		if m.Type == "volume" && m.Anonymous {
			out = append(out, m.Name)
		}
	}
	return out
}

// RemoveAnonymousVolumes is `rm -v`: the anonymous volumes of a removed container.
func (s *Store) RemoveAnonymousVolumes(c *Container) error {
	return s.removeVolumes(anonymousVolumes(c))
}

// volumeUsers maps each volume in use to the ids of the containers using it
// (running or not, as Docker counts them).
func volumeUsers(all []*Container) map[string][]string {
	users := map[string][]string{}
	for _, c := range all {
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				users[m.Name] = append(users[m.Name], c.ID)
			}
		}
	}
	return users
}

// WithVolumeUsers calls fn, under the containers' lock (which the caller
// takes after the volumes' one), with each volume in use and the ids of
// the containers using it. The volume verbs need no more of the containers.
func (s *Store) WithVolumeUsers(fn func(users map[string][]string) error) error {
	return s.withAll(func(all []*Container) error { return fn(volumeUsers(all)) })
}
