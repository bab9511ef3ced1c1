package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func TestVolumesCreateGetListRemove(t *testing.T) {
	s := NewVolumes(filepath.Join(t.TempDir(), "volumes"))
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List of a store never written: %v %v", l, err)
	}
	v, created, err := s.Create("data", map[string]string{"a": "b"})
	if err != nil || !created {
		t.Fatalf("Create: %v %v", created, err)
	}
	if v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != s.DataPath("data") || v.Labels["a"] != "b" || v.CreatedAt.IsZero() {
		t.Errorf("Create returned %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Errorf("_data: %v %v", st, err)
	}
	again, created, err := s.Create("data", nil)
	if err != nil || created || again.Labels["a"] != "b" {
		t.Errorf("a second Create: %+v %v %v, want the first volume, not made again", again, created, err)
	}
	if _, _, err := s.Create("anon", map[string]string{AnonymousLabel: ""}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("anon")
	if err != nil || !got.Anonymous() {
		t.Errorf("Get anon: %+v %v", got, err)
	}
	l, err := s.List()
	if err != nil || len(l) != 2 || l[0].Name != "anon" || l[1].Name != "data" {
		t.Errorf("List: %+v %v", l, err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveLocked("data"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveLocked("data"); !errors.Is(err, ErrNoVolume) {
		t.Errorf("removing twice: %v, want ErrNoVolume", err)
	}
	unlock()
	if _, err := s.Get("data"); !errors.Is(err, ErrNoVolume) {
		t.Errorf("Get after remove: %v", err)
	}
	ents, _ := os.ReadDir(s.dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{lockName, "anon"}) {
		t.Errorf("store holds %v, want the lock and anon", names)
	}
}

func TestVolumesBadNames(t *testing.T) {
	s := NewVolumes(filepath.Join(t.TempDir(), "volumes"))
	for _, n := range []string{"", "a", ".a", "..", "a/b", "-a", "_a", "a b", "a$"} {
		if _, _, err := s.Create(n, nil); err == nil {
			t.Errorf("Create %q: no error", n)
		}
		if _, err := s.Get(n); !errors.Is(err, ErrNoVolume) {
			t.Errorf("Get %q: %v, want ErrNoVolume", n, err)
		}
	}
	if ents, _ := os.ReadDir(s.dir); len(ents) > 1 {
		t.Errorf("bad names left %v", ents)
	}
}

// Seed copies the image's directory (found inside the image root, through
// its symlinks) with modes, owners and links, and nothing from outside.
func TestVolumesSeed(t *testing.T) {
	tmp := t.TempDir()
	img := filepath.Join(tmp, "img")
	outside := filepath.Join(tmp, "outside")
	for _, d := range []string{img + "/srv/app/sub", img + "/etc", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, body string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	write(img+"/srv/app/run.sh", "#!/bin/sh\n", 0o750)
	write(img+"/srv/app/sub/conf", "k=v\n", 0o600)
	write(img+"/etc/image-etc", "image\n", 0o644)
	write(outside+"/secret", "host\n", 0o644)
	os.Chown(img+"/srv/app/sub/conf", 1000, 1001)
	os.Chmod(img+"/srv/app/sub", 0o711)
	if err := os.Symlink("/etc/passwd", img+"/srv/app/link"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", img+"/data"); err != nil { // in the container: the image's /etc
		t.Fatal(err)
	}
	if err := os.Symlink(outside, img+"/out"); err != nil { // the host's path, not the image's
		t.Fatal(err)
	}
	s := NewVolumes(filepath.Join(tmp, "volumes"))
	for _, n := range []string{"app", "data", "out", "none"} {
		if _, _, err := s.Create(n, nil); err != nil {
			t.Fatal(err)
		}
	}
	for n, p := range map[string]string{"app": "/srv/app", "data": "/data", "out": "/out", "none": "/no/such"} {
		if err := s.Seed(n, img, p); err != nil {
			t.Fatalf("Seed %s from %s: %v", n, p, err)
		}
	}
	app := s.DataPath("app")
	check := func(p string, mode os.FileMode, body string) {
		t.Helper()
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&(os.ModePerm|os.ModeType) != mode {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), mode)
		}
		if body != "" {
			if b, _ := os.ReadFile(p); string(b) != body {
				t.Errorf("%s: %q, want %q", p, b, body)
			}
		}
	}
	check(app+"/run.sh", 0o750, "#!/bin/sh\n")
	check(app+"/sub", os.ModeDir|0o711, "")
	check(app+"/sub/conf", 0o600, "k=v\n")
	if l, err := os.Readlink(app + "/link"); err != nil || l != "/etc/passwd" {
		t.Errorf("link: %q %v, want a copy of the symlink", l, err)
	}
	if fi, err := os.Stat(app + "/sub/conf"); err != nil {
		t.Fatal(err)
	} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("sub/conf: owner %d:%d, want 1000:1001", st.Uid, st.Gid)
	}
	check(s.DataPath("data")+"/image-etc", 0o644, "image\n")
	if ents, _ := os.ReadDir(s.DataPath("out")); len(ents) != 0 {
		t.Errorf("seeding through a symlink out of the image copied the host's %v", ents)
	}
	if ents, _ := os.ReadDir(s.DataPath("none")); len(ents) != 0 {
		t.Errorf("nothing at the path: the volume got %v", ents)
	}

	// A volume with content is left as it is.
	write(s.DataPath("none")+"/mine", "keep\n", 0o644)
	if err := s.Seed("none", img, "/srv/app"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s.DataPath("none")); len(ents) != 1 {
		t.Errorf("a volume with content was seeded: %v", ents)
	}
}
