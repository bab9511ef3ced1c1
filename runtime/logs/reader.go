package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// pollInterval is how often Read looks for new entries when following.
const pollInterval = 50 * time.Millisecond

// timestampFormat is Docker's `logs -t` prefix: fixed-width nanoseconds.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// ReadOptions selects what Read writes.
type ReadOptions struct {
	Tail       int  // last N entries only; -1 for all
	Timestamps bool // prefix each entry with its time
	Follow     bool // keep writing entries as they are appended
	// Stopped, when set, ends Follow: once it returns true and everything
	// written until then has been read, Read returns.
	Stopped func() bool
	// Positioned, when set, is called once Read knows where it starts (attach
	// sends input only then, so no answer to it is missed).
	Positioned func()
	// Since and Until, when not zero, keep only the entries written from
	// Since and before Until (logs --since/--until).
	Since, Until time.Time
}

// Read writes the text of the entries of the log at path to stdout or
// stderr, depending on their stream. A missing log is an empty one. With
// Follow it keeps polling for new entries until ctx is done or Stopped
// reports true; both end Read without error.
func Read(ctx context.Context, path string, opt ReadOptions, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	if opt.Tail >= 0 {
		off, err := tailOffset(f, opt.Tail)
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
	if opt.Positioned != nil {
		opt.Positioned()
	}
	r := &reader{stdout: stdout, stderr: stderr, timestamps: opt.Timestamps, chunk: make([]byte, 32<<10), since: opt.Since, until: opt.Until}
	for {
		// Asked before reading: whatever was written before the
		// container stopped is then surely read by this pass.
		stopped := opt.Stopped != nil && opt.Stopped()
		if err := r.drain(f); err != nil {
			return err
		}
		if !opt.Follow || stopped {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollInterval):
		}
	}
}

type reader struct {
	stdout, stderr io.Writer
	timestamps     bool
	since, until   time.Time
	chunk          []byte
	pending        []byte // an entry not yet complete in the file
}

// drain writes every complete entry up to the end of the file.
func (r *reader) drain(f io.Reader) error {
	for {
		n, err := f.Read(r.chunk)
		r.pending = append(r.pending, r.chunk[:n]...)
		line := r.pending
		for {
			i := bytes.IndexByte(line, '\n')
			if i < 0 {
				break
			}
			if err := r.emit(line[:i]); err != nil {
				return err
			}
			line = line[i+1:]
		}
		r.pending = append(r.pending[:0], line...)
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

func (r *reader) emit(line []byte) error {
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		// A torn or foreign line must not make the whole log unreadable.
		return nil
	}
	w := r.stdout
	if e.Stream == "stderr" {
		w = r.stderr
	}
	if !r.since.IsZero() || !r.until.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil || !r.since.IsZero() && t.Before(r.since) || !r.until.IsZero() && !t.Before(r.until) {
			return nil
		}
	}
	out := e.Log
	if r.timestamps {
		ts := e.Time
		if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
			ts = t.UTC().Format(timestampFormat)
		}
		out = ts + " " + out
	}
	if _, err := io.WriteString(w, out); err != nil {
		return fmt.Errorf("write log output: %w", err)
	}
	return nil
}

// tailOffset returns where the last n complete entries of f start,
// scanning backwards from the end.
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 32<<10)
	end := st.Size()
	seen := 0
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' {
				continue
			}
			// The newline ending entry k from the end; the one after
			// n entries marks where they start.
			if seen == n {
				return start + int64(i) + 1, nil
			}
			seen++
		}
		end = start
	}
	return 0, nil
}
