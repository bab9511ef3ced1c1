package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func newWriter(t *testing.T) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctr.log")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return w, path
}

func write(t *testing.T, w *Writer, stream string, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		if n, err := w.Stream(stream).Write([]byte(c)); err != nil || n != len(c) {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
}

// entries reads the log file back as raw entries, failing on invalid JSON.
func entries(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var e entry
		if err := json.Unmarshal(s.Bytes(), &e); err != nil {
			t.Fatalf("invalid JSON line %q: %v", s.Text(), err)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil || !strings.HasSuffix(e.Time, "Z") {
			t.Fatalf("time %q is not RFC3339Nano UTC", e.Time)
		}
		out = append(out, e)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readAll(t *testing.T, path string, opt ReadOptions) (stdout, stderr string) {
	t.Helper()
	var o, e strings.Builder
	if err := Read(context.Background(), path, opt, &o, &e); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return o.String(), e.String()
}

func TestConcurrentStreams(t *testing.T) {
	w, path := newWriter(t)
	const lines = 500
	var wg sync.WaitGroup
	for _, stream := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := w.Stream(stream)
			var all strings.Builder
			for i := range lines {
				fmt.Fprintf(&all, "%s line %d <&>\n", stream, i)
			}
			// Odd chunk sizes so lines arrive in pieces.
			b := []byte(all.String())
			for len(b) > 0 {
				n := min(len(b), 7+len(b)%13)
				if _, err := out.Write(b[:n]); err != nil {
					t.Error(err)
					return
				}
				b = b[n:]
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for _, e := range entries(t, path) {
		want := fmt.Sprintf("%s line %d <&>\n", e.Stream, next[e.Stream])
		if e.Log != want {
			t.Fatalf("entry %+v, want log %q", e, want)
		}
		next[e.Stream]++
	}
	if next["stdout"] != lines || next["stderr"] != lines {
		t.Errorf("got %v entries, want %d per stream", next, lines)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `{"log":"stdout line 0 <&>\n","stream":"stdout","time":"`) {
		t.Errorf("entry not in Docker's shape: %.120s", raw)
	}
}

func TestPartialLines(t *testing.T) {
	w, path := newWriter(t)
	write(t, w, "stdout", "hel", "lo\nwor", "ld\n", "no newline")
	write(t, w, "stderr", "err", "or\n", "half")
	if got := len(entries(t, path)); got != 3 {
		t.Errorf("before Close: %d entries, want 3 (partial lines held back)", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries(t, path) {
		got = append(got, e.Stream+":"+e.Log)
	}
	want := []string{"stdout:hello\n", "stdout:world\n", "stderr:error\n", "stderr:half", "stdout:no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries = %q, want %q", got, want)
	}
	if _, err := w.Stream("stdout").Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close error = %v, want os.ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLongLines(t *testing.T) {
	w, path := newWriter(t)
	long := strings.Repeat("x", 40000) + "\n"
	wide := "a" + strings.Repeat("é", 10000) + "\n" // odd offset: byte 16384 is mid-rune
	write(t, w, "stdout", long[:100], long[100:], wide)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var joined strings.Builder
	es := entries(t, path)
	for _, e := range es {
		if len(e.Log) > maxLine+1 {
			t.Errorf("entry of %d bytes, want at most %d", len(e.Log), maxLine+1)
		}
		if !utf8.ValidString(e.Log) || strings.ContainsRune(e.Log, utf8.RuneError) {
			t.Errorf("entry split inside a UTF-8 sequence")
		}
		joined.WriteString(e.Log)
	}
	if joined.String() != long+wide {
		t.Errorf("pieces do not add up to the input")
	}
	if len(es) != 5 || strings.HasSuffix(es[0].Log, "\n") || !strings.HasSuffix(es[2].Log, "\n") {
		t.Errorf("got %d entries, want 3 for the long line (last with newline) and 2 for the wide one", len(es))
	}
}

func TestAppendAcrossRestarts(t *testing.T) {
	w, path := newWriter(t)
	write(t, w, "stdout", "first run\n")
	w.Close()
	w2, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w2, "stdout", "second run\n")
	w2.Close()
	if out, _ := readAll(t, path, ReadOptions{Tail: -1}); out != "first run\nsecond run\n" {
		t.Errorf("Read = %q, want both runs", out)
	}
}

func TestReadTail(t *testing.T) {
	w, path := newWriter(t)
	const n = 5000 // large enough to span several 32 KiB scan chunks
	for i := range n {
		stream := "stdout"
		if i%10 == 9 {
			stream = "stderr"
		}
		write(t, w, stream, fmt.Sprintf("line %d\n", i))
	}
	w.Close()
	lines := func(from, to int, stderr bool) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			if (i%10 == 9) == stderr {
				fmt.Fprintf(&b, "line %d\n", i)
			}
		}
		return b.String()
	}
	for _, tail := range []int{-1, 0, 1, 3, 4000, n, n + 10} {
		from := 0
		if tail >= 0 {
			from = max(n-tail, 0)
		}
		out, errOut := readAll(t, path, ReadOptions{Tail: tail})
		if out != lines(from, n, false) || errOut != lines(from, n, true) {
			t.Errorf("Tail %d: got %d/%d bytes, want %d/%d", tail, len(out), len(errOut), len(lines(from, n, false)), len(lines(from, n, true)))
		}
	}
}

func TestReadTimestamps(t *testing.T) {
	w, path := newWriter(t)
	w.now = func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 120000000, time.FixedZone("X", 3600)) }
	write(t, w, "stdout", "hello\n")
	write(t, w, "stderr", "oops\n")
	w.Close()
	out, errOut := readAll(t, path, ReadOptions{Tail: -1, Timestamps: true})
	if want := "2024-01-02T02:04:05.120000000Z hello\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if want := "2024-01-02T02:04:05.120000000Z oops\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	if e := entries(t, path); e[0].Time != "2024-01-02T02:04:05.12Z" {
		t.Errorf("stored time = %q, want RFC3339Nano UTC", e[0].Time)
	}
}

func TestReadMissing(t *testing.T) {
	out, errOut := readAll(t, filepath.Join(t.TempDir(), "none.log"), ReadOptions{Tail: -1, Follow: true})
	if out != "" || errOut != "" {
		t.Errorf("Read(missing) wrote %q %q", out, errOut)
	}
}

// syncBuilder is a strings.Builder safe to read while Read writes to it.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFollow(t *testing.T) {
	w, path := newWriter(t)
	write(t, w, "stdout", "before\n")
	var stopped atomic.Bool
	var out, errOut syncBuilder
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, ReadOptions{Tail: -1, Follow: true, Stopped: stopped.Load}, &out, &errOut)
	}()

	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); out.String() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("stdout = %q, want %q", out.String(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("before\n")
	write(t, w, "stdout", "during 1\n")
	waitFor("before\nduring 1\n")
	select {
	case err := <-done:
		t.Fatalf("Read returned early: %v", err)
	default:
	}
	// The last lines, including a partial one flushed by Close, land just
	// before the container is marked stopped: Read must still print them.
	write(t, w, "stderr", "last err\n")
	write(t, w, "stdout", "during 2\n", "tail")
	w.Close()
	stopped.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not end after Stopped")
	}
	if got, want := out.String(), "before\nduring 1\nduring 2\ntail"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := errOut.String(); got != "last err\n" {
		t.Errorf("stderr = %q, want %q", got, "last err\n")
	}
}

func TestFollowContext(t *testing.T) {
	w, path := newWriter(t)
	write(t, w, "stdout", "one\n", "two\n")
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuilder
	done := make(chan error, 1)
	go func() { done <- Read(ctx, path, ReadOptions{Tail: 1, Follow: true}, &out, &out) }()
	time.Sleep(150 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Read after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not end after cancel")
	}
	if out.String() != "two\n" {
		t.Errorf("output = %q, want %q", out.String(), "two\n")
	}
}

func TestReadSkipsBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.log")
	content := `{"log":"ok 1\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}` + "\n" +
		"garbage\n" +
		`{"log":"ok 2\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}` + "\n" +
		`{"log":"torn`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := readAll(t, path, ReadOptions{Tail: -1}); out != "ok 1\nok 2\n" {
		t.Errorf("Read = %q", out)
	}
	if out, _ := readAll(t, path, ReadOptions{Tail: 1}); out != "ok 2\n" {
		t.Errorf("Read tail 1 = %q", out)
	}
}
