// Package logs keeps a container's stdout and stderr in Docker's json-file
// format (one JSON object per line: {"log":...,"stream":...,"time":...}) and
// reads them back for `hutch logs`.
package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLine is the longest text one entry holds; longer lines are split into
// several entries, the last carrying the newline (Docker's 16 KiB).
const maxLine = 16 << 10

// entry is one line of the log file, with Docker's field names and order.
type entry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// Writer appends entries to a log file. It is safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	partial map[string][]byte // unfinished line of each stream
	err     error             // first write error, reported by Close
	closed  bool
	now     func() time.Time // replaced in tests

	path string
	cfg  Config // max-size and max-file: rotation
	size int64  // of the current file
}

// Create opens the log file at path for appending, creating it if needed,
// so a restarted container keeps its earlier lines.
func Create(path string) (*Writer, error) { return CreateRotating(path, Config{}) }

// CreateRotating is Create with cfg's rotation (json-file's max-size and
// max-file); the none driver writes nothing.
func CreateRotating(path string, cfg Config) (*Writer, error) {
	if cfg.Driver == None {
		path = os.DevNull
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	w := &Writer{f: f, partial: map[string][]byte{}, now: time.Now, path: path, cfg: cfg}
	if st, err := f.Stat(); err == nil {
		w.size = st.Size()
	}
	return w, nil
}

// Stream returns the writer for one stream, "stdout" or "stderr". It splits
// what it gets into lines, one entry per line; an unfinished line waits for
// its newline (or for Close).
//
// Its Write reports success even when the file cannot be written (disk
// full): a copier that stopped on the error would stop draining the
// container's pipe and block the container. Close reports the first such
// error.
func (w *Writer) Stream(name string) io.Writer {
	return &stream{w: w, name: name}
}

type stream struct {
	w    *Writer
	name string
}

func (s *stream) Write(p []byte) (int, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	rest, out := splitLines(append(w.partial[s.name], p...), s.name, w.now())
	w.partial[s.name] = slices.Clone(rest)
	w.write(out)
	return len(p), nil
}

// Close writes out unfinished lines (without adding a newline) and closes
// the file. It returns the first error met while writing, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var out bytes.Buffer
	now := w.now()
	for _, name := range slices.Sorted(maps.Keys(w.partial)) {
		if p := w.partial[name]; len(p) > 0 {
			appendEntry(&out, p, name, now)
		}
	}
	w.write(out.Bytes())
	w.partial = nil
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("close log: %w", err)
	}
	return w.err
}

func (w *Writer) write(b []byte) {
	if len(b) == 0 {
		return
	}
	for w.cfg.MaxSize > 0 && w.size+int64(len(b)) > w.cfg.MaxSize {
		// Rotation is per entry: write the entries that still fit, then
		// start a new file (an entry alone larger than max-size gets one).
		fit := 0
		for fit < len(b) {
			i := bytes.IndexByte(b[fit:], '\n')
			if i < 0 || w.size+int64(fit+i+1) > w.cfg.MaxSize {
				break
			}
			fit += i + 1
		}
		if fit == 0 && w.size == 0 { // one entry larger than max-size
			fit = bytes.IndexByte(b, '\n') + 1
			if fit == 0 {
				fit = len(b)
			}
		}
		w.writeOnce(b[:fit])
		b = b[fit:]
		if len(b) == 0 {
			return
		}
		w.rotate()
	}
	w.writeOnce(b)
}

func (w *Writer) writeOnce(b []byte) {
	if len(b) == 0 {
		return
	}
	// One write per call: with O_APPEND, entries from the two streams
	// never interleave inside a line.
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("write log: %w", err)
	}
}

// rotate starts a new file; on error it keeps writing to the old one.
func (w *Writer) rotate() {
	if err := rotate(w.path, w.cfg.MaxFile); err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("rotate log: %w", err)
		}
		return
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("rotate log: %w", err)
		}
		return
	}
	w.f.Close()
	w.f, w.size = f, 0
}

// splitLines encodes every complete line of buf, and pieces of maxLine
// bytes of an overlong one, as entries; it returns what is left over.
func splitLines(buf []byte, name string, now time.Time) (rest, out []byte) {
	var b bytes.Buffer
	for len(buf) > 0 {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 && i <= maxLine {
			appendEntry(&b, buf[:i+1], name, now)
			buf = buf[i+1:]
			continue
		}
		if len(buf) <= maxLine {
			break
		}
		cut := maxLine
		// Do not split a UTF-8 sequence: JSON would turn both halves into
		// U+FFFD.
		for k := maxLine; k > maxLine-utf8.UTFMax; k-- {
			if utf8.RuneStart(buf[k]) {
				cut = k
				break
			}
		}
		appendEntry(&b, buf[:cut], name, now)
		buf = buf[cut:]
	}
	return buf, b.Bytes()
}

func appendEntry(b *bytes.Buffer, text []byte, name string, now time.Time) {
	enc := json.NewEncoder(b) // Encode adds the newline ending the entry
	enc.SetEscapeHTML(false)
	e := entry{Log: string(text), Stream: name, Time: now.UTC().Format(time.RFC3339Nano)}
	_ = enc.Encode(e) // a struct of strings always encodes; b.Write never fails
}
