package topology

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// golden compares got with testdata/name; HUTCH_UPDATE_GOLDEN=1 rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if os.Getenv("HUTCH_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (HUTCH_UPDATE_GOLDEN=1 makes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the drawing:\n%s", p, got)
	}
}

func TestTextGolden(t *testing.T) {
	k, rec := fixture()
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		st   Style
	}{{"fixture.txt", Style{}}, {"fixture.ascii", Style{ASCII: true}}} {
		var b bytes.Buffer
		if err := Text(&b, top, c.st); err != nil {
			t.Fatal(err)
		}
		golden(t, c.name, b.Bytes())
	}
}
