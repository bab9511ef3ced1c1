package network

import (
	"errors"
	"strings"
	"testing"
)

// The default network before its first use: listed and found as it will
// be, with an id that depends on the root alone, and nothing made.
func TestDefaultBeforeFirstUse(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAll()
	if err != nil || len(all) != 1 {
		t.Fatalf("ListAll = %v, %v; want the default network alone", all, err)
	}
	def := all[0]
	if def.Name != DefaultName || def.Made() || len(def.ID) != 64 || def.Bridge != s.defaultBridge {
		t.Errorf("default network before use: %+v", def)
	}
	again, _ := Open(root)
	other, _ := Open(t.TempDir())
	if again.defaultID() != def.ID || other.defaultID() == def.ID {
		t.Errorf("default id: %s, again %s, another root %s; want the same for the same root only", def.ID, again.defaultID(), other.defaultID())
	}
	for _, ref := range []string{DefaultName, def.ID, def.ID[:12]} {
		if n, err := s.Find(ref); err != nil || n.ID != def.ID || n.Made() {
			t.Errorf("Find(%q) = %+v, %v; want the default network, not made", ref, n, err)
		}
	}
	if _, err := s.Find("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(nosuch) = %v, want ErrNotFound", err)
	}
	long := strings.Repeat("x", 10000)
	if _, err := s.Find(long); !errors.Is(err, ErrNotFound) || len(err.Error()) > 120 {
		t.Errorf("Find(10000 x) = %v, want a short not-found error", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("List after ListAll and Find = %v, want none made", list)
	}
}

func TestCreateNameTooLong(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(strings.Repeat("n", MaxNameLen+1), CreateOptions{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "at most 128") || len(err.Error()) > 150 {
		t.Errorf("Create(129 characters) = %v, want one short invalid-name error", err)
	}
}
