package rootfs

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.header("1", "test/app")
	p.layers([]string{"aaaaaaaaaaaa", "bbbbbbbbbbbb"}, []string{"Already exists", "Pulling fs layer"})
	p.downloading(1, 10, 100) // a log gets no byte counts
	p.set(1, "Download complete")
	p.set(1, "Download complete") // no change, no line
	p.set(1, "Pull complete")
	want := "1: Pulling from test/app\naaaaaaaaaaaa: Already exists\nbbbbbbbbbbbb: Pulling fs layer\n" +
		"bbbbbbbbbbbb: Download complete\nbbbbbbbbbbbb: Pull complete\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(TTY{&b})
	p.layers([]string{"aaaaaaaaaaaa", "bbbbbbbbbbbb"}, []string{"Pulling fs layer", "Pulling fs layer"})
	b.Reset()
	p.set(0, "Pull complete") // two rows up, rewritten, two rows down
	if want := "\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Pull complete\x1b[2B\r"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	p.downloading(1, 50, 100)
	if !strings.HasPrefix(b.String(), "\x1b[1A\r\x1b[2Kbbbbbbbbbbbb: Downloading [========================>") ||
		!strings.Contains(b.String(), "50B/100B") {
		t.Fatalf("got %q", b.String())
	}
	b.Reset()
	p.downloading(1, 60, 100) // within 100 ms of the last: not shown
	if b.Len() != 0 {
		t.Fatalf("a second count at once was shown: %q", b.String())
	}
	p.downloading(1, 100, 100) // the last is always shown
	if !strings.Contains(b.String(), "[==================================================]") {
		t.Fatalf("got %q", b.String())
	}
}

func TestProgressNil(t *testing.T) {
	p := newProgress(nil)
	p.header("1", "x")
	p.layers([]string{"a"}, []string{"b"})
	p.set(0, "c")
	p.downloading(0, 1, 2)
}
