package runtime

import (
	"errors"
	"fmt"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime/events"
)

// Volumes is the volume verbs of a root: create, rm and prune (inspect and
// ls are rootfs.Volumes' own). What rm and prune need of the containers,
// which volumes are in use, comes through VolumeUsers.
type Volumes struct {
	root string
	vols *rootfs.Volumes
	ctrs VolumeUsers
}

// VolumeUsers is what the volume verbs ask of the containers: every record
// (listing them first removes a dead --rm container, which frees its
// volumes), and the volumes in use under the containers' lock. *Store is one.
type VolumeUsers interface {
	List() ([]*Container, error)
	WithVolumeUsers(fn func(users map[string][]string) error) error
}

// NewVolumes gives the volume verbs of root, whose containers are ctrs.
func NewVolumes(root string, ctrs VolumeUsers) *Volumes {
	return &Volumes{root: root, vols: volumeStore(root), ctrs: ctrs}
}

func (v *Volumes) event(action, name string) {
	event(v.root, events.Volume, action, name, "driver", "local")
}

// Create is `volume create`: a new volume, or the one of that name.
func (v *Volumes) Create(name string, labels map[string]string) (rootfs.Volume, error) {
	if name == "" {
		name = newID()
	}
	if err := ValidateVolumeName(name); err != nil {
		return rootfs.Volume{}, err
	}
	vol, created, err := v.vols.Create(name, labels)
	if created {
		v.event("create", vol.Name)
	}
	return vol, err
}

// Remove is `volume rm`: refused while any container uses the volume.
func (v *Volumes) Remove(name string) error {
	v.ctrs.List() // first: a --rm container whose monitor died is removed, and frees its volumes
	vols := v.vols
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
	return v.ctrs.WithVolumeUsers(func(users map[string][]string) error {
		if ids := users[name]; len(ids) > 0 {
			return fmt.Errorf("remove %s: volume is in use - %v", name, ids)
		}
		if err := vols.RemoveLocked(name); err != nil {
			return err
		}
		v.event("destroy", name)
		return nil
	})
}

// Prune is `volume prune`: every volume no container uses, only the
// anonymous ones unless all (Docker's since 23.0). It returns the names
// removed and the bytes freed.
func (v *Volumes) Prune(all bool) (removed []string, reclaimed int64, err error) {
	v.ctrs.List() // as in Remove
	vols := v.vols
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
	err = v.ctrs.WithVolumeUsers(func(users map[string][]string) error {
		var errs []error
		for _, vol := range list {
			if len(users[vol.Name]) > 0 || (!all && !vol.Anonymous()) {
				continue
			}
			size := diskUsage(vol.Mountpoint)
			if err := vols.RemoveLocked(vol.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed, reclaimed = append(removed, vol.Name), reclaimed+size
			v.event("destroy", vol.Name)
		}
		return errors.Join(errs...)
	})
	return removed, reclaimed, err
}
