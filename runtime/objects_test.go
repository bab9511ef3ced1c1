package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/hutchrt/hutch/rootfs"
)

// The verbs about volumes, images and networks ask the containers, through
// their small interfaces, which of them are in use: these run them against
// a real store's records.

func TestVolumesInUseStay(t *testing.T) {
	s := newTestStore(t)
	c := testContainer("bbbb1111", "web")
	c.Mounts = []MountPoint{{Type: "volume", Name: "data", Destination: "/data"}}
	if err := s.create(c, nil, nil); err != nil {
		t.Fatal(err)
	}
	vols := NewVolumes(s.Root, s)
	for name, labels := range map[string]map[string]string{"data": nil, "spare": nil, "anon": {rootfs.AnonymousLabel: ""}} {
		if _, err := vols.Create(name, labels); err != nil {
			t.Fatal(err)
		}
	}
	if err := vols.Remove("data"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("volume rm of a used volume: %v, want in use", err)
	}
	names := func() []string {
		list, err := s.Volumes().List()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range list {
			out = append(out, v.Name)
		}
		return out
	}
	if removed, _, err := vols.Prune(false); err != nil || !slices.Equal(removed, []string{"anon"}) {
		t.Errorf("prune = %q, %v; want the unused anonymous one", removed, err)
	}
	if removed, _, err := vols.Prune(true); err != nil || !slices.Equal(removed, []string{"spare"}) {
		t.Errorf("prune --all = %q, %v; want the unused named one", removed, err)
	}
	if got := names(); !slices.Equal(got, []string{"data"}) {
		t.Errorf("left %q, want the used one", got)
	}
	if err := s.remove(c.ID); err != nil {
		t.Fatal(err)
	}
	if err := vols.Remove("data"); err != nil {
		t.Errorf("volume rm once unused: %v", err)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("left %q, want none", got)
	}
}

func TestImageInUseStays(t *testing.T) {
	s := newTestStore(t)
	c := testContainer("cccc1111", "web")
	if err := s.create(c, nil, nil); err != nil {
		t.Fatal(err)
	}
	images := NewImages(s.Root)
	if err := images.Remove("busybox", s); err == nil || !strings.Contains(err.Error(), "in use by container web") {
		t.Errorf("image rm of a used image: %v, want in use by web", err)
	}
	if _, err := images.Store.Find("busybox"); err != nil {
		t.Errorf("the used image went: %v", err)
	}
	if err := s.remove(c.ID); err != nil {
		t.Fatal(err)
	}
	if err := images.Remove("busybox", s); err != nil {
		t.Errorf("image rm once unused: %v", err)
	}
	if _, err := images.Store.Find("busybox"); err == nil {
		t.Error("the image is still there")
	}
}

func TestNetworksPseudo(t *testing.T) {
	s := newTestStore(t)
	up := testContainer("dddd1111", "up")
	up.Network, up.Status = "host", StatusRunning
	down := testContainer("dddd2222", "down")
	down.Network = "host"
	other := testContainer("dddd3333", "other")
	other.Network, other.Status = "none", StatusRunning
	for _, c := range []*Container{up, down, other} {
		if err := s.create(c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	nets := NewNetworks(s.Root, s)
	d, err := nets.Inspect("host")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Containers) != 1 || d.Containers[up.ID].Name != "up" {
		t.Errorf("host's containers = %v, want the running one on it", d.Containers)
	}
	if byID, err := nets.Inspect(d.ID[:12]); err != nil || byID.Name != "host" {
		t.Errorf("inspect by id prefix: %v, %v", byID, err)
	}
	for ref, want := range map[string]bool{"host": true, "none": true, d.ID: true, "nosuch": false} {
		if got := nets.Exists(ref); got != want {
			t.Errorf("Exists(%q) = %v, want %v", ref, got, want)
		}
	}
	rows, err := nets.Rows()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range rows {
		names = append(names, n.Name)
	}
	if !slices.Contains(names, "host") || !slices.Contains(names, "none") || !slices.IsSorted(names) {
		t.Errorf("ls rows %q: want host and none among them, sorted", names)
	}
}
