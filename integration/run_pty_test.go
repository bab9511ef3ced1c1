//go:build integration

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runPty is hutch running on the slave side of a real pseudo-terminal.
type runPty struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	out  strings.Builder
	done chan error
	// drained is closed once the terminal has nothing more to read (every
	// process holding its slave is gone).
	drained chan struct{}
}

func (e *env) runStartPty(rows, cols uint16, args ...string) *runPty {
	t := e.t
	t.Helper()
	cmd := e.command(args...)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	s := &runPty{t: t, cmd: cmd, ptmx: ptmx, done: make(chan error, 1), drained: make(chan struct{})}
	go func() {
		defer close(s.drained)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
		ptmx.Close()
	})
	return s
}

func (s *runPty) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.ReplaceAll(s.out.String(), "\r", "")
}

// waitOutput waits until the terminal has shown a match of re.
func (s *runPty) waitOutput(re *regexp.Regexp, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if re.MatchString(s.output()) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// wait returns hutch's exit code, once what it wrote has been read; -1 if
// it did not end in time.
func (s *runPty) wait(timeout time.Duration) int {
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		// Its last output may still be on its way through the terminal (a
		// process it left, a detached container, may hold the slave: then
		// not for long).
		select {
		case <-s.drained:
		case <-time.After(2 * time.Second):
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		return -1
	}
}

var (
	runTTYLine    = regexp.MustCompile(`(?m)^/dev/(pts/[0-9]+|console|tty)$`)
	runSize40x100 = regexp.MustCompile(`(?m)^40 100$`)
)

// waitCount waits until the terminal has shown sub at least n times.
func (s *runPty) waitCount(sub string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Count(s.output(), sub) >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// runHasChild tells whether process ppid has a child named comm.
func runHasChild(ppid int, comm string) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(b[end+1:]))
		if string(b[open+1:end]) == comm && len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			return true
		}
	}
	return false
}

// busybox sh's prompt for root. The shell's line editor turns the
// terminal's echo off before it shows the prompt: a line typed before
// that is echoed by the terminal and again by the editor, so every line
// below is typed at a prompt.
const runPrompt = "/ # "

// run -it gives a usable shell on a pty with the terminal's size, follows
// resizes, and its exit code is the shell's.
func TestRunPtyInteractive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.runStartPty(40, 100, "run", "--rm", "-it", "--name", "pty", "busybox", "sh")
	prompts := 0
	atPrompt := func(what string) {
		t.Helper()
		prompts++
		if !s.waitCount(runPrompt, prompts, 10*time.Second) {
			t.Fatalf("%s: no prompt %d from the shell; terminal shows %q", what, prompts, s.output())
		}
	}
	atPrompt("start")
	if _, err := io.WriteString(s.ptmx, "stty size; tty; echo marker-$((6*7))\n"); err != nil {
		t.Fatal(err)
	}
	if !s.waitOutput(regexp.MustCompile(`(?m)^marker-42$`), 10*time.Second) {
		t.Fatalf("no answer from the shell; terminal shows %q", s.output())
	}
	out := s.output()
	if !runSize40x100.MatchString(out) {
		t.Errorf("stty size inside: want 40 100; terminal shows %q", out)
	}
	if !runTTYLine.MatchString(out) {
		t.Errorf("tty inside: want a terminal device; terminal shows %q", out)
	}
	// The shell echoes what is typed (the container's pty does it, once).
	if n := strings.Count(out, "echo marker-"); n != 1 {
		t.Errorf("typed line shown %d times, want once (raw mode outside, echo inside): %q", n, out)
	}
	atPrompt("after marker")

	t.Run("resize", func(t *testing.T) {
		if err := pty.Setsize(s.ptmx, &pty.Winsize{Rows: 50, Cols: 120}); err != nil {
			t.Fatal(err)
		}
		// SIGWINCH reaches hutch in its own time: ask until the size inside
		// follows, or for 10 s.
		deadline := time.Now().Add(10 * time.Second)
		for i := 1; ; i++ {
			fmt.Fprintf(s.ptmx, "stty size; echo resized-$((%d+0))\n", i)
			size := regexp.MustCompile(fmt.Sprintf(`(?m)^([0-9]+ [0-9]+)\nresized-%d$`, i))
			if !s.waitOutput(size, 10*time.Second) {
				t.Fatalf("no answer from the shell; terminal shows %q", s.output())
			}
			atPrompt("after resized-" + strconv.Itoa(i))
			got := size.FindStringSubmatch(s.output())[1]
			if got == "50 120" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after resizing the terminal to 50x120, stty size inside: %s; terminal shows %q", got, s.output())
			}
		}
	})

	t.Run("ctrl-c", func(t *testing.T) {
		// ^C is a byte for the container's terminal, which interrupts the
		// shell's foreground job, not hutch. It is typed once sleep runs:
		// before, the shell's line editor would take it for itself.
		io.WriteString(s.ptmx, "sleep 30; echo slept\n")
		shell := e.runPid("pty")
		runWaitFor(t, 10*time.Second, "sleep to run in the container", func() bool { return runHasChild(shell, "sleep") })
		io.WriteString(s.ptmx, "\x03")
		atPrompt("after ^C")
		io.WriteString(s.ptmx, "echo after-$((2+2))\n")
		if !s.waitOutput(regexp.MustCompile(`(?m)^after-4$`), 10*time.Second) {
			t.Fatalf("^C did not interrupt sleep in the container; terminal shows %q", s.output())
		}
		if strings.Contains(s.output(), "\nslept") {
			t.Errorf("sleep was not interrupted: %q", s.output())
		}
		atPrompt("after after-4")
	})

	if _, err := io.WriteString(s.ptmx, "exit 3\n"); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(15 * time.Second); code != 3 {
		t.Errorf("exit 3 in the shell: hutch exit %d, want 3; terminal shows %q", code, s.output())
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("--rm left %v", ids)
	}
}

// run -t without -i: a pty for output, the terminal's size, and no input.
func TestRunPtyNoStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.runStartPty(40, 100, "run", "--rm", "-t", "busybox", "sh", "-c", `stty size; tty; read -t 2 x; echo "got=[$x]"; exit 4`)
	// Typed input must not reach the container.
	io.WriteString(s.ptmx, "typed\n")
	if code := s.wait(15 * time.Second); code != 4 {
		t.Fatalf("run -t: exit %d, want 4; terminal shows %q", code, s.output())
	}
	out := s.output()
	if !runSize40x100.MatchString(out) || !runTTYLine.MatchString(out) {
		t.Errorf("run -t: want 40 100 and a terminal device; terminal shows %q", out)
	}
	if !strings.Contains(out, "got=[]") {
		t.Errorf("run -t without -i: typed input reached the container; terminal shows %q", out)
	}
}
