package runtime

import (
	"io/fs"
	"path/filepath"
)

// Size is ps -s's: the bytes the container wrote (its overlay's upper
// directory) and those plus its image's.
func (s *Store) Size(c *Container) (rw, virtual int64) {
	filepath.WalkDir(filepath.Join(s.Dir(c.ID), "upper"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				rw += info.Size()
			}
		}
		return nil // what cannot be read counts as nothing
	})
	virtual = rw
	if img, err := s.Images().Find(c.Image); err == nil {
		virtual += img.Size
	}
	return rw, virtual
}
