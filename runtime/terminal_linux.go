package runtime

import (
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal is a container's pty master wired to the user's side: output to
// out, input from stdin, and, when stdin is a terminal, raw mode and its size
// (following SIGWINCH).
type terminal struct {
	ptmx    *os.File
	drained chan struct{} // closed when the output copy ends (EIO: no slave left)
	undo    []func()
}

func attachTerminal(ptmx, stdin *os.File, out io.Writer, interactive bool) *terminal {
	t := &terminal{ptmx: ptmx, drained: make(chan struct{})}
	if stdin != nil && term.IsTerminal(int(stdin.Fd())) {
		fd := int(stdin.Fd())
		pty.InheritSize(stdin, ptmx)
		if state, err := term.MakeRaw(fd); err == nil {
			t.undo = append(t.undo, func() { term.Restore(fd, state) })
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		t.undo = append(t.undo, func() { signal.Stop(winch) })
		go func() {
			for range winch {
				pty.InheritSize(stdin, ptmx)
			}
		}()
	} else {
		pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80})
	}
	go func() { io.Copy(out, ptmx); close(t.drained) }()
	if interactive && stdin != nil {
		go func() {
			io.Copy(ptmx, stdin)
			// stdin ended (a pipe, not a terminal): a terminal's end of input
			// is the EOF character, which cat and friends read as EOF.
			ptmx.Write([]byte{4})
		}()
	}
	return t
}

// close waits up to wait for the output to drain (a process left in the
// background may hold the pty open forever), then restores the user's
// terminal and closes the master.
func (t *terminal) close(wait time.Duration) {
	select {
	case <-t.drained:
	case <-time.After(wait):
	}
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.ptmx.Close()
}
