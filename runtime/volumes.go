package runtime

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime/events"
)

// Volumes is the volume store of this root. Its lock is always taken
// before the containers' one, never inside it: Create holds it while it
// makes a container that uses volumes, volume rm while it checks that no
// container uses one, so that no container can start using a volume that
// is being removed.
func (s *Store) Volumes() *rootfs.Volumes { return rootfs.NewVolumes(filepath.Join(s.Root, "volumes")) }

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

// VolumeCreate is `volume create`: a new volume, or the one of that name.
func (s *Store) VolumeCreate(name string, labels map[string]string) (rootfs.Volume, error) {
	if name == "" {
		name = newID()
	}
	if err := ValidateVolumeName(name); err != nil {
		return rootfs.Volume{}, err
	}
	v, created, err := s.Volumes().Create(name, labels)
	if created {
		s.Event(events.Volume, "create", v.Name, "driver", "local")
	}
	return v, err
}

// VolumeInspect returns the volume name.
func (s *Store) VolumeInspect(name string) (rootfs.Volume, error) {
	return s.Volumes().Get(name)
}

// VolumeList returns every volume, by name.
func (s *Store) VolumeList() ([]rootfs.Volume, error) { return s.Volumes().List() }

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

// VolumeRemove is `volume rm`: refused while any container uses the volume.
func (s *Store) VolumeRemove(name string) error {
	s.List() // first: a --rm container whose monitor died is removed, and frees its volumes
	vols := s.Volumes()
	if _, err := vols.Get(name); err != nil {
		return err // before the lock, which would make the store
	}
	unlock, err := vols.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := vols.Get(name); err != nil {
		return err
	}
	return s.withAll(func(all []*Container) error {
		if ids := volumeUsers(all)[name]; len(ids) > 0 {
			return fmt.Errorf("remove %s: volume is in use - %v", name, ids)
		}
		if err := vols.RemoveLocked(name); err != nil {
			return err
		}
		s.Event(events.Volume, "destroy", name, "driver", "local")
		return nil
	})
}

// VolumePrune is `volume prune`: every volume no container uses, only the
// anonymous ones unless all (Docker's since 23.0). It returns the names
// removed and the bytes freed.
func (s *Store) VolumePrune(all bool) (removed []string, reclaimed int64, err error) {
	s.List() // as in VolumeRemove
	vols := s.Volumes()
	if list, err := vols.List(); err != nil || len(list) == 0 {
		return nil, 0, err // nothing to do: the lock would make the store
	}
	unlock, err := vols.Lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	list, err := vols.List()
	if err != nil {
		return nil, 0, err
	}
	err = s.withAll(func(ctrs []*Container) error {
		users := volumeUsers(ctrs)
		var errs []error
		for _, v := range list {
			if len(users[v.Name]) > 0 || (!all && !v.Anonymous()) {
				continue
			}
			size := diskUsage(v.Mountpoint)
			if err := vols.RemoveLocked(v.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed, reclaimed = append(removed, v.Name), reclaimed+size
			s.Event(events.Volume, "destroy", v.Name, "driver", "local")
		}
		return errors.Join(errs...)
	})
	return removed, reclaimed, err
}
