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
	"slices"
	"syscall"
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
	older := openRotated(path) // max-file's older files, oldest first
	defer func() {
		for _, f := range older {
			f.Close()
		}
	}()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if len(older) == 0 {
			return nil
		}
		f, err = os.Open(os.DevNull) // between a rotation's rename and the new file
	}
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	defer func() { f.Close() }()
	all := append(slices.Clone(older), f)
	first, off := 0, int64(0)
	if opt.Tail >= 0 {
		if first, off, err = tailStart(all, opt.Tail); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
	r := &reader{stdout: stdout, stderr: stderr, timestamps: opt.Timestamps, chunk: make([]byte, 32<<10), since: opt.Since, until: opt.Until}
	for i, rf := range all {
		if i < first {
			if st, err := rf.Stat(); err == nil {
				r.markDone(st) // skipped by --tail
			}
			continue
		}
		if _, err := rf.Seek(map[bool]int64{true: off}[i == first], io.SeekStart); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if rf == f {
			break // the current file: read below, followed
		}
		if err := r.drain(rf); err != nil {
			return err
		}
		r.pending = r.pending[:0]
		if st, err := rf.Stat(); err == nil {
			r.markDone(st)
		}
	}
	if err := r.catchUp(path, f); err != nil { // rotated since the listing
		return err
	}
	if opt.Positioned != nil {
		opt.Positioned()
	}
	for {
		// Asked before reading: whatever was written before the
		// container stopped is then surely read by this pass.
		stopped := opt.Stopped != nil && opt.Stopped()
		if err := r.drain(f); err != nil {
			return err
		}
		if opt.Follow && rotated(f, path) {
			// The writer moved on to a new file: this one is complete.
			if err := r.drain(f); err != nil {
				return err
			}
			if st, err := f.Stat(); err == nil {
				r.markDone(st)
			}
			nf, err := os.Open(path)
			if err == nil {
				f.Close()
				f = nf
				r.pending = r.pending[:0]
				if err := r.catchUp(path, f); err != nil {
					return err
				}
				continue
			}
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

// catchUp reads, oldest first, the rotated files this reader has not read
// that are older than cur, the file it goes on with: more than one
// rotation may have passed since it last looked. Rotated files no longer
// change, so a file is known by its inode, whatever its name is by now.
func (r *reader) catchUp(path string, cur *os.File) error {
	curSt, err := cur.Stat()
	if err != nil {
		return nil
	}
	files := openRotated(path)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, f := range files {
		st, err := f.Stat()
		if err != nil || r.done.has(st) {
			continue
		}
		if os.SameFile(st, curSt) {
			return nil // cur itself was rotated: it is read as cur
		}
		saved := r.pending
		r.pending = nil
		err = r.drain(f)
		r.pending = saved
		if err != nil {
			return err
		}
		r.markDone(st)
	}
	return nil
}

// openRotated opens the rotated files of path, oldest first, as one
// consistent set: a rotation while they are opened renames them all, so
// the names are checked again and the set taken anew if they moved.
func openRotated(path string) []*os.File {
	var files []*os.File
	for try := 0; try < 50; try++ {
		names := Files(path)
		names = names[:len(names)-1]
		files = files[:0]
		ok := true
		for _, n := range names {
			f, err := os.Open(n)
			if err != nil {
				ok = false // renamed under us
				break
			}
			files = append(files, f)
		}
		if ok && stillNamed(files) && slices.Equal(names, withoutLast(Files(path))) || try == 49 {
			return files // the last try's, if rotations never paused: maybe out of order, none lost
		}
		for _, f := range files {
			f.Close()
		}
	}
	return nil
}

// stillNamed reports whether every file is still what its name opens.
func stillNamed(files []*os.File) bool {
	for _, f := range files {
		st, err1 := f.Stat()
		now, err2 := os.Stat(f.Name())
		if err1 != nil || err2 != nil || !os.SameFile(st, now) {
			return false
		}
	}
	return true
}

// rotated reports whether path is now another file than f.
func rotated(f *os.File, path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false // between the rename and the new file
	}
	cur, err := f.Stat()
	return err == nil && !os.SameFile(st, cur)
}

// tailStart finds where the last n entries of files (oldest first) start:
// the file's index and the offset in it.
func tailStart(files []*os.File, n int) (int, int64, error) {
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, 0, err
		}
		count, err := countEntries(f)
		if err != nil {
			return 0, 0, err
		}
		if count >= n || i == 0 {
			off, err := tailOffset(f, n)
			return i, off, err
		}
		n -= count
	}
	return 0, 0, nil
}

func countEntries(f *os.File) (int, error) {
	buf := make([]byte, 32<<10)
	count := 0
	for {
		n, err := f.Read(buf)
		count += bytes.Count(buf[:n], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return count, nil
		}
		if err != nil {
			return count, err
		}
	}
}

type reader struct {
	done           doneFiles // files read to their end, or skipped (tail)
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

// doneFiles are files by identity (device and inode).
type doneFiles map[[2]uint64]bool

func fileID(st os.FileInfo) ([2]uint64, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(sys.Dev), sys.Ino}, true
}

func (r *reader) markDone(st os.FileInfo) {
	if id, ok := fileID(st); ok {
		if r.done == nil {
			r.done = doneFiles{}
		}
		r.done[id] = true
	}
}

func (d doneFiles) has(st os.FileInfo) bool {
	id, ok := fileID(st)
	return ok && d[id]
}

func withoutLast(s []string) []string { return s[:len(s)-1] }
