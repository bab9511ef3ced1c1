package rootfs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	return NewStore(filepath.Join(t.TempDir(), "images"))
}

// storeEntries lists what is in the store dir apart from the lock file.
func storeEntries(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != lockName {
			names = append(names, e.Name())
		}
	}
	return names
}

// wantStore fails unless the store holds exactly the named entries: no temp dir, nothing else.
func wantStore(t *testing.T, s *Store, want ...string) {
	t.Helper()
	if got := storeEntries(t, s); !slices.Equal(got, want) {
		t.Errorf("store holds %q, want %q", got, want)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"busybox", true},
		{"a", true},
		{"My_image-1.0", true},
		{"0x", true},
		{"", false},
		{".hidden", false},
		{"-x", false},
		{"_x", false},
		{"..", false},
		{"a/b", false},
		{"../etc", false},
		{"busybox:latest", false},
		{"a b", false},
		{"a\x00", false},
		{"caf\u00e9", false},
		{"a..b", true},
		{string(make([]byte, 129)), false},
	}
	for _, tt := range tests {
		if err := ValidName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"busybox", "busybox"},
		{"busybox:latest", "busybox"},
		{"busybox:1.36", "busybox:1.36"},
		{"latest", "latest"},
		{":latest", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGetMissing(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(nope) = %v, want ErrNotFound", err)
	}
	if _, err := s.Get("../etc"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(../etc) = %v, want an invalid name error", err)
	}
	wantStore(t, s)
}

func TestListRemove(t *testing.T) {
	s := newTestStore(t)
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Fatalf("List() on a new store = %v, %v; want none", imgs, err)
	}
	src := writeTree(t, []testEntry{{name: "hello", body: "hi"}})
	for _, n := range []string{"zeta", "alpha:latest", "mid"} {
		if _, err := s.Import(n, src); err != nil {
			t.Fatal(err)
		}
	}
	// A stray directory without image.json is not an image.
	if err := os.Mkdir(filepath.Join(s.dir, "stray"), 0o755); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	if want := []string{"alpha", "mid", "zeta"}; !slices.Equal(names, want) {
		t.Fatalf("List() names = %q, want %q", names, want)
	}

	if err := s.Remove("alpha:latest"); err != nil {
		t.Fatalf("Remove(alpha:latest) = %v", err)
	}
	if _, err := s.Get("alpha"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Remove = %v, want ErrNotFound", err)
	}
	if err := s.Remove("alpha"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	if err := s.Remove("stray"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove(stray) = %v, want ErrNotFound", err)
	}
	wantStore(t, s, "mid", "stray", "zeta")
}

func TestStaleTempSwept(t *testing.T) {
	s := newTestStore(t)
	stale := filepath.Join(s.dir, tmpPrefix+"dead", "rootfs")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import("x", writeTree(t, []testEntry{{name: "f", body: "1"}})); err != nil {
		t.Fatal(err)
	}
	wantStore(t, s, "x")
}

// An image is found by its ID or a prefix of it, as `image ls` prints it,
// when no image has that name; two IDs sharing the prefix are an error.
func TestFindByIDPrefix(t *testing.T) {
	s := newTestStore(t)
	src := writeTree(t, []testEntry{{name: "hello", body: "hi"}})
	setID := func(name, id string) {
		t.Helper()
		p := filepath.Join(s.dir, name, "image.json")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var img Image
		if err := json.Unmarshal(b, &img); err != nil {
			t.Fatal(err)
		}
		img.ID = id
		if b, err = json.Marshal(img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idA := "aaaa1111" + strings.Repeat("0", 56)
	idB := "aaaa2222" + strings.Repeat("0", 56)
	for name, id := range map[string]string{"one": idA, "two": idB, "aaaa2": idA} {
		if _, err := s.Import(name, src); err != nil {
			t.Fatal(err)
		}
		setID(name, id)
	}
	for _, c := range []struct{ ref, want string }{
		{"aaaa1111", "aaaa2"}, // two names of one ID: the first by name
		{"sha256:" + idB, "two"},
		{idB[:12], "two"},
		{"sha256:" + idB[:12], "two"},
		{"aaaa2", "aaaa2"}, // a name wins over an ID prefix
	} {
		img, err := s.Find(c.ref)
		if err != nil || img.Name != c.want {
			t.Errorf("Find(%q) = %q, %v; want %q", c.ref, img.Name, err, c.want)
		}
	}
	if _, err := s.Find("aaaa"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("Find(aaaa), a prefix of two IDs: %v, want ambiguous", err)
	}
	for _, ref := range []string{"bbbb", "sha256:" + strings.Repeat("b", 64)} {
		if _, err := s.Find(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q) = %v, want ErrNotFound", ref, err)
		}
	}
}
