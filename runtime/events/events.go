// Package events is hutch's event journal: with no daemon to keep a stream,
// the process that does an action appends one JSON line to ROOT/events.log
// (O_APPEND, one write, so lines from parallel processes never mix), and
// `hutch events` reads and follows that file.
package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Event is one line of the journal, in Docker's shape (events.Message),
// legacy status/id/from included.
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is what the event is about: an ID and its attributes.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Event types, as Docker names them.
const (
	Container = "container"
	Network   = "network"
	Image     = "image"
	Volume    = "volume"
)

// MaxSize is the journal's size past which it rotates (one old file kept).
var MaxSize int64 = 4 << 20

// Path is the journal under root; Path(root)+".1" is the rotated one.
func Path(root string) string { return filepath.Join(root, "events.log") }

// New makes an event of typ/action about id, now; container events carry
// Docker's legacy status/id/from.
func New(typ, action, id string, attrs map[string]string) Event {
	t := time.Now()
	if attrs == nil {
		attrs = map[string]string{}
	}
	e := Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local", Time: t.Unix(), TimeNano: t.UnixNano()}
	if typ == Container || typ == Image {
		e.Status, e.ID = action, id
		if typ == Container {
			e.From = attrs["image"]
		}
	}
	return e
}

// Append writes e to root's journal. Best effort: an event must never fail
// the action that it records, so errors are dropped.
func Append(root string, e Event) {
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	p := Path(root)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxSize {
		// Only the writer whose file is still the journal rotates it: a
		// parallel writer that rotated first leaves a new, small file.
		if cur, err := os.Stat(p); err == nil && os.SameFile(fi, cur) {
			os.Rename(p, p+".1")
		}
	}
}

func inRange(e Event, since, until time.Time) bool {
	t := time.Unix(0, e.TimeNano)
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || !t.After(until))
}

// readLines decodes whole lines from r; a torn last line (a write in
// progress) stays unread: it returns how many bytes it consumed.
func readLines(r io.Reader, fn func(Event)) int64 {
	br := bufio.NewReader(r)
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return n
		}
		n += int64(len(line))
		var e Event
		if json.Unmarshal(bytes.TrimSpace(line), &e) == nil {
			fn(e)
		}
	}
}

// pollEvery is how often Follow looks for new lines.
const pollEvery = 100 * time.Millisecond

// Follow calls fn for each event appended to root's journal from now on,
// until ctx ends or until passes (if not zero). With past, the journal's
// events in [since, until] come first, read from the same open file that
// is then followed, so that no event falls between the two. It follows the
// journal across rotation.
func Follow(ctx context.Context, root string, past bool, since, until time.Time, fn func(Event)) error {
	p := Path(root)
	f, off, err := openAtEnd(p)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if past {
		if old, err := os.Open(p + ".1"); err == nil {
			readLines(old, func(e Event) {
				if inRange(e, since, until) {
					fn(e)
				}
			})
			old.Close()
		}
		if f != nil {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			off = readLines(f, func(e Event) {
				if inRange(e, since, until) {
					fn(e)
				}
			})
		}
	}
	if !until.IsZero() && !until.After(time.Now()) {
		return nil // nothing new can be before until
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if !until.IsZero() && time.Now().After(until) {
			return nil
		}
		if f != nil {
			if _, err := f.Seek(off, io.SeekStart); err == nil {
				off += readLines(f, func(e Event) {
					if inRange(e, time.Time{}, until) {
						fn(e)
					}
				})
			}
		}
		// Rotated (or created): finish the old file, then take the new one.
		if cur, err := os.Stat(p); err == nil {
			fi, ferr := statOf(f)
			if ferr != nil || !os.SameFile(fi, cur) {
				if f != nil {
					f.Seek(off, io.SeekStart)
					readLines(f, fn)
					f.Close()
				}
				if f, err = os.Open(p); err != nil {
					f = nil
				}
				off = 0
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func statOf(f *os.File) (os.FileInfo, error) {
	if f == nil {
		return nil, os.ErrNotExist
	}
	return f.Stat()
}

// openAtEnd opens the journal positioned at its end (nil if there is none yet).
func openAtEnd(p string) (*os.File, int64, error) {
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, off, nil
}
