package runtime

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/runtime/logs"
)

// attach says where a container's standard streams go.
type attach struct {
	detached    bool
	interactive bool
	tty         bool
	stdin       *os.File  // foreground: the user's stdin
	stdout      io.Writer // foreground: the user's terminal; detached: nil
	stderr      io.Writer
	signals     *signalCatcher // what reaches hutch, for the container
}

// running is a started container as its monitor sees it.
type running struct {
	pid       int
	cmd       *exec.Cmd
	outputs   []output              // the container's output streams, until copied
	stdinHold *os.File              // -di: the write end of stdin, held open
	onPty     func(master *os.File) // set with -t: takes the container's pty
	copiers   sync.WaitGroup
	cleanup   []func()
	net       *network.Attachment // its networks, with the host ports held while it runs
}

// output is one of the container's output streams and where it goes.
type output struct {
	r *os.File
	w io.Writer
}

func (r *running) kill() { unix.Kill(r.pid, unix.SIGKILL) }

// copyOutputs starts copying every output stream in this process.
func (r *running) copyOutputs() {
	for _, o := range r.outputs {
		r.copiers.Add(1)
		go func() { defer r.copiers.Done(); io.Copy(o.w, o.r); o.r.Close() }()
	}
	r.outputs = nil
}

// wait returns the container's exit code once it and its output are done.
func (r *running) wait() int {
	err := r.cmd.Wait()
	r.copiers.Wait()
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus)))
	}
	if err != nil {
		return 125
	}
	return 0
}

// wireStdio makes the init's stdio (nil: /dev/null) and readies the
// copiers. It returns the child's ends, which the caller closes once the
// child has them.
func (r *running) wireStdio(a attach, log *logs.Writer) (stdio [3]*os.File, childEnds []*os.File, err error) {
	out := log.Stream("stdout")
	errw := log.Stream("stderr")
	if a.stdout != nil {
		out = io.MultiWriter(a.stdout, out)
		errw = io.MultiWriter(a.stderr, errw)
	}
	if a.tty {
		r.wirePty(a, out)
		return stdio, nil, nil
	}
	for _, w := range []io.Writer{out, errw} {
		pr, pw, err := os.Pipe()
		if err != nil {
			return stdio, childEnds, err
		}
		childEnds = append(childEnds, pw)
		r.outputs = append(r.outputs, output{pr, w})
	}
	stdio[1], stdio[2] = childEnds[0], childEnds[1]
	switch {
	case a.interactive && !a.detached:
		stdio[0] = a.stdin // passed straight through: EOF and all
	case a.interactive:
		// -di: keep stdin open (like Docker) with a pipe nobody writes to.
		pr, pw, err := os.Pipe()
		if err != nil {
			return stdio, childEnds, err
		}
		stdio[0] = pr
		childEnds = append(childEnds, pr)
		r.stdinHold = pw
		r.cleanup = append(r.cleanup, func() { pw.Close() })
	}
	return stdio, childEnds, nil
}

// wirePty prepares for the pty the init opens inside the container: once
// its master arrives, it is attached to the log (and, in the foreground, to
// the user's terminal).
func (r *running) wirePty(a attach, out io.Writer) {
	r.onPty = func(ptmx *os.File) {
		if a.detached { // nobody types into it: copy it like a pipe
			r.outputs = append(r.outputs, output{ptmx, out})
			r.cleanup = append(r.cleanup, func() { ptmx.Close() })
			return
		}
		var stdin *os.File
		if !a.detached {
			stdin = a.stdin
		}
		t := attachTerminal(ptmx, stdin, out, a.interactive)
		r.copiers.Add(1)
		go func() { <-t.drained; r.copiers.Done() }()
		r.cleanup = append(r.cleanup, func() { t.close(0) })
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
