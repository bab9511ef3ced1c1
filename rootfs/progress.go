package rootfs

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// TTY marks a pull's progress writer as a terminal: each layer keeps one line, rewritten in
// place as its state changes (Docker's display). Any other writer gets a plain line per change.
type TTY struct{ W io.Writer }

func (t TTY) Write(p []byte) (int, error) { return t.W.Write(p) }

// PullStatus is Docker's closing lines of a pull that gave img, whose name
// had the manifest digest before ("" if it had none).
func PullStatus(img Image, before string) string {
	status := "Downloaded newer image for"
	if before != "" && before == img.Digest {
		status = "Image is up to date for"
	}
	return fmt.Sprintf("Digest: %s\nStatus: %s %s\n", img.Digest, status, img.Name)
}

// progress is a pull's display: one row per layer, by its 12-hex id, as Docker shows it.
type progress struct {
	w    io.Writer
	tty  bool
	ids  []string
	text []string
	last time.Time // of the last byte count shown: a terminal gets at most ten a second
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	_, tty := w.(TTY)
	return &progress{w: w, tty: tty}
}

// header is Docker's first line: "TAG: Pulling from REPOSITORY".
func (p *progress) header(tag, repo string) {
	if p != nil {
		fmt.Fprintf(p.w, "%s: Pulling from %s\n", tag, repo)
	}
}

// layers shows one row per layer, each with its first state.
func (p *progress) layers(ids, states []string) {
	if p == nil {
		return
	}
	p.ids, p.text = ids, states
	for i := range ids {
		fmt.Fprintf(p.w, "%s: %s\n", ids[i], states[i])
	}
}

// set changes layer i's state: on a terminal its row is rewritten (the cursor goes up to it,
// the row is cleared and written, the cursor comes back below the last row); elsewhere a line.
func (p *progress) set(i int, state string) {
	if p == nil || i >= len(p.ids) || p.text[i] == state {
		return
	}
	p.text[i] = state
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s\n", p.ids[i], state)
		return
	}
	up := len(p.ids) - i
	fmt.Fprintf(p.w, "\x1b[%dA\r\x1b[2K%s: %s\x1b[%dB\r", up, p.ids[i], state, up)
}

// downloading shows a layer's bytes so far, on a terminal only (a log gets no byte counts).
func (p *progress) downloading(i int, done, total int64) {
	if p == nil || !p.tty {
		return
	}
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.set(i, "Downloading "+bar(done, total))
}

// bar is Docker's "[=====>      ]  1.2MB/3.4MB".
func bar(done, total int64) string {
	const width = 50
	if total <= 0 {
		return humanBytes(done)
	}
	n := int(done * width / total)
	n = max(0, min(n, width))
	arrow := ""
	if n < width {
		arrow = ">"
	}
	fill := strings.Repeat("=", max(0, n-len(arrow)))
	return fmt.Sprintf("[%s%s%s] %8s/%s", fill, arrow, strings.Repeat(" ", width-len(fill)-len(arrow)), humanBytes(done), humanBytes(total))
}

// counter passes reads through and shows their count.
type counter struct {
	r     io.Reader
	p     *progress
	i     int
	done  int64
	total int64
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.done += int64(n)
	c.p.downloading(c.i, c.done, c.total)
	return n, err
}
