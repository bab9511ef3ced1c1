package logs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		driver string
		opts   []string
		want   Config
	}{
		{"", nil, Config{Driver: JSONFile, MaxFile: 1}},
		{"json-file", []string{"max-size=10m", "max-file=3"}, Config{JSONFile, 10 << 20, 3}},
		{"", []string{"max-size=10m,max-file=3"}, Config{JSONFile, 10 << 20, 3}},
		{"", []string{"max-size=1k"}, Config{JSONFile, 1024, 1}},
		{"", []string{"max-size=512"}, Config{JSONFile, 512, 1}},
		{"", []string{"max-size=-1"}, Config{JSONFile, 0, 1}},
		{"", []string{"max-size=1.5g"}, Config{JSONFile, 3 << 29, 1}},
		{"none", nil, Config{Driver: None, MaxFile: 1}},
	} {
		if got, err := ParseConfig(tc.driver, tc.opts); err != nil || got != tc.want {
			t.Errorf("ParseConfig(%q, %q) = %+v, %v, want %+v", tc.driver, tc.opts, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		driver string
		opts   []string
	}{
		{"syslog", nil}, {"", []string{"max-size=x"}}, {"", []string{"max-size=0"}}, {"", []string{"max-file=0"}},
		{"", []string{"max-file=3"}}, {"", []string{"compress=true"}}, {"", []string{"foo"}},
		{"none", []string{"max-size=1m"}}, {"", []string{"max-size=1m,max-file=-2"}},
	} {
		if _, err := ParseConfig(tc.driver, tc.opts); err == nil {
			t.Errorf("ParseConfig(%q, %q): no error", tc.driver, tc.opts)
		}
	}
}

// Rotation keeps max-file files, none larger than max-size (but for an
// entry larger on its own), and Read gives the kept entries in order,
// across the files, with --tail too.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, err := CreateRotating(path, Config{Driver: JSONFile, MaxSize: 1024, MaxFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&all, "line-%d\n", i)
	}
	write(t, w, "stdout", all.String()) // one chunk: still rotated per entry
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := Files(path)
	if len(files) != 3 || files[0] != path+".2" || files[1] != path+".1" || files[2] != path {
		t.Fatalf("files = %q, want ctr.log.2, ctr.log.1, ctr.log", files)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() > 1024 || st.Size() == 0 {
			t.Errorf("%s: %v, size %d, want 1..1024 bytes", f, err, st.Size())
		}
	}
	var out, errb bytes.Buffer
	if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	first := 0
	fmt.Sscanf(lines[0], "line-%d", &first)
	if len(lines) < 30 || lines[len(lines)-1] != "line-100" {
		t.Fatalf("read %d lines, %q ... %q: want the last lines of all three files", len(lines), lines[0], lines[len(lines)-1])
	}
	for i, l := range lines {
		if l != fmt.Sprintf("line-%d", first+i) {
			t.Fatalf("line %d: %q, want line-%d (in order, none missing)", i, l, first+i)
		}
	}
	for _, n := range []int{0, 3, 20, len(lines), len(lines) + 50} {
		out.Reset()
		if err := Read(context.Background(), path, ReadOptions{Tail: n}, &out, &errb); err != nil {
			t.Fatal(err)
		}
		want := strings.Join(lines[max(len(lines)-n, 0):], "\n")
		if want != "" {
			want += "\n"
		}
		if out.String() != want {
			t.Errorf("tail %d: %q, want %q", n, out.String(), want)
		}
	}
}

// max-file=1: the file is started over, never kept beside.
func TestRotationOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, err := CreateRotating(path, Config{Driver: JSONFile, MaxSize: 200, MaxFile: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		write(t, w, "stderr", fmt.Sprintf("entry %d\n", i))
	}
	w.Close()
	if files := Files(path); len(files) != 1 {
		t.Errorf("files = %q, want only ctr.log", files)
	}
	if st, err := os.Stat(path); err != nil || st.Size() > 200 {
		t.Errorf("ctr.log: %v, want at most 200 bytes", err)
	}
}

// A follower reads on across rotations, also when several passed between
// two of its polls (nothing is dropped while max-file keeps it): bursts of
// writes that rotate several times each, the follower catching up between.
func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, err := CreateRotating(path, Config{Driver: JSONFile, MaxSize: 300, MaxFile: 100}) // 200 entries of ~75 bytes: 50 files, none dropped
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, "stdout", "first\n")
	var stopped atomic.Bool
	out := &syncBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Stopped: stopped.Load}, out, &bytes.Buffer{})
	}()
	var want strings.Builder
	want.WriteString("first\n")
	for burst := 0; burst < 10; burst++ {
		for i := 0; i < 20; i++ { // about 5 rotations
			l := fmt.Sprintf("line-%d\n", burst*20+i)
			want.WriteString(l)
			write(t, w, "stdout", l)
		}
		deadline := time.Now().Add(30 * time.Second) // a guard against hanging, not a speed check
		for !strings.HasSuffix(out.String(), fmt.Sprintf("line-%d\n", burst*20+19)) {
			if time.Now().After(deadline) {
				t.Fatalf("burst %d: the follower did not catch up: %q", burst, out.String())
			}
			select {
			case <-done:
				t.Fatalf("the follower ended early: %q", out.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	w.Close()
	stopped.Store(true)
	<-done
	if got := out.String(); got != want.String() {
		t.Errorf("followed %d bytes, want all %d, in order:\n%s", len(got), want.Len(), got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
