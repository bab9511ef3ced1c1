package runtime

import "path/filepath"

// DiskUsage is one row of `system df`.
type DiskUsage struct {
	Type              string
	Total, Active     int
	Size, Reclaimable int64
}

// DiskUsage is Docker's `system df`: images (active: used by a container;
// reclaimable: the unused ones' size), containers (their own files, the
// overlay's upper dir among them; active: running; reclaimable: the
// stopped ones'), local volumes (active: used by a container).
func (sys *System) DiskUsage() ([]DiskUsage, error) {
	s := sys.ctrs
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	images, err := sys.images.Store.List()
	if err != nil {
		return nil, err
	}
	vols, err := s.Volumes().List()
	if err != nil {
		return nil, err
	}
	usedImages, usedVols := map[string]bool{}, map[string]bool{}
	ctr := DiskUsage{Type: "Containers", Total: len(all)}
	for _, c := range all {
		usedImages[c.Image] = true
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				usedVols[m.Name] = true
			}
		}
		size := diskUsage(s.Dir(c.ID))
		ctr.Size += size
		if c.Running() {
			ctr.Active++
		} else {
			ctr.Reclaimable += size
		}
	}
	img := DiskUsage{Type: "Images", Total: len(images)}
	for _, i := range images {
		img.Size += i.Size
		if usedImages[i.Name] {
			img.Active++
		} else {
			img.Reclaimable += i.Size
		}
	}
	vol := DiskUsage{Type: "Local Volumes", Total: len(vols)}
	for _, v := range vols {
		size := diskUsage(filepath.Clean(v.Mountpoint))
		vol.Size += size
		if usedVols[v.Name] {
			vol.Active++
		} else {
			vol.Reclaimable += size
		}
	}
	return []DiskUsage{img, ctr, vol}, nil
}
