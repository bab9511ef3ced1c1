package topology

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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

// Boxes are rectangles whatever their text: colour codes take no columns.
func TestFrameWidths(t *testing.T) {
	d := drawer{st: Style{Color: true}}
	box := d.frame(d.bold("title"), []string{"short", d.red("a longer line, in red"), "x"})
	for _, l := range box {
		if width(l) != width(box[0]) {
			t.Errorf("line %q is %d wide, the top %d:\n%s", l, width(l), width(box[0]), strings.Join(box, "\n"))
		}
	}
	if width(box[0]) != width("│ a longer line, in red │") {
		t.Errorf("width %d", width(box[0]))
	}
	// A title wider than the lines widens the box.
	box = d.frame("a title wider than its lines", []string{"x"})
	if width(box[1]) != width(box[0]) || !strings.HasPrefix(box[0], "┌─ a title wider than its lines ─┐") {
		t.Errorf("%q", box)
	}
}

// Every line of a drawing of the same width as its box, in both styles,
// and the ASCII one is ASCII.
func TestTextShapes(t *testing.T) {
	top := driftFixture(t)
	for _, st := range []Style{{}, {ASCII: true}, {Color: true}} {
		var b bytes.Buffer
		Text(&b, top, st)
		if st.ASCII {
			for _, r := range b.String() {
				if r > 127 {
					t.Fatalf("%q in the ASCII drawing", r)
				}
			}
		}
		var open int // the width of the box being drawn
		for _, l := range strings.Split(b.String(), "\n") {
			plain := ansi.ReplaceAllString(l, "")
			switch {
			case strings.HasPrefix(plain, "┌") || strings.HasPrefix(plain, "+-"):
				open = width(l)
			case open != 0 && width(l) != open:
				t.Errorf("style %+v: line %q is %d wide in a box %d wide", st, plain, width(l), open)
			}
			if strings.HasPrefix(plain, "└") || (st.ASCII && strings.HasPrefix(plain, "+-") && strings.HasSuffix(plain, "-+") && !strings.Contains(plain, " ")) {
				open = 0
			}
		}
	}
}

// Containers without a namespace of their own are named where they are:
// on the host's stack, or in the box of the container whose they share.
func TestSharedNamespaces(t *testing.T) {
	k, rec := fixture()
	rec.HostNetwork = []string{"onhost"}
	rec.Joined = map[string][]string{rec.Containers[0].ID: {"sidecar"}}
	top, err := Build(k, rec)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	Text(&b, top, Style{ASCII: true})
	for _, w := range []string{"| on the host's own network stack (--network host): onhost ", "| shared with sidecar (--network container:) "} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("no %q in:\n%s", w, b.String())
		}
	}
}
