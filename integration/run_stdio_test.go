//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Foreground: -i passes stdin, without -i the container's stdin is empty;
// stdout and stderr stay apart; the exit code is the container's.
func TestRunForegroundStdio(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.runStdin("hello\nworld\n", "run", "--rm", "-i", "busybox", "cat"); r.code != 0 || r.stdout != "hello\nworld\n" || r.stderr != "" {
		t.Errorf("-i cat with stdin hello world: %s", r)
	}
	// A large input arrives whole, and the end of input reaches the container.
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	if r := e.runStdin(big, "run", "--rm", "-i", "busybox", "sh", "-c", "wc -c; echo done"); r.code != 0 || r.stdout != "1048576\ndone\n" {
		t.Errorf("-i with 1 MiB of stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	start := time.Now()
	r := e.runStdin("hello\n", "run", "--rm", "busybox", "cat")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("cat without -i, stdin given: %s, want no input", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cat without -i took %s: stdin must be empty, not open", d)
	}

	// -i to a command that never reads: it ends, and so does hutch.
	start = time.Now()
	if r := e.runStdin("unread\n", "run", "--rm", "-i", "busybox", "true"); r.code != 0 || r.stdout != "" {
		t.Errorf("-i true with stdin: %s", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("-i true took %s", d)
	}
	// Output written just before exit is not lost.
	r = e.run("run", "--rm", "busybox", "sh", "-c", "seq 200000; head -c 3000000 /dev/zero >&2; echo last")
	if r.code != 0 || len(r.stdout) != 1288895+5 || !strings.HasSuffix(r.stdout, "200000\nlast\n") || len(r.stderr) != 3000000 {
		t.Errorf("large output: exit %d, %d bytes out (ends %q), %d bytes err; want all of it", r.code, len(r.stdout), r.stdout[max(0, len(r.stdout)-20):], len(r.stderr))
	}

	r = e.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; echo out2; echo err2 >&2")
	if r.code != 0 || r.stdout != "out\nout2\n" || r.stderr != "err\nerr2\n" {
		t.Errorf("stdout/stderr: %s, want out,out2 on stdout and err,err2 on stderr", r)
	}
	for _, code := range []int{0, 1, 3, 42, 125, 126, 127, 255} {
		r := e.run("run", "--rm", "busybox", "sh", "-c", "exit "+strconv.Itoa(code))
		if r.code != code {
			t.Errorf("exit %d: %s", code, r)
		}
	}
}

// SIGTERM and SIGINT sent to a foreground `hutch run` reach the container.
func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		sig   syscall.Signal
		code  int
		flags []string
	}{
		{"TERM", syscall.SIGTERM, 7, nil},
		{"INT", syscall.SIGINT, 8, nil},
		{"HUP", syscall.SIGHUP, 9, nil},
		{"TERM with --init", syscall.SIGTERM, 7, []string{"--init"}},
		{"INT with --init", syscall.SIGINT, 8, []string{"--init"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			sig := strings.Fields(c.name)[0]
			script := `trap "echo got ` + sig + `; exit ` + strconv.Itoa(c.code) + `" ` + sig + `; echo ready; while :; do sleep 0.1; done`
			args := append(append([]string{"run", "--rm"}, c.flags...), "busybox", "sh", "-c", script)
			cmd := e.command(args...)
			var out, errb syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			cmd.WaitDelay = 2 * time.Second // the container may outlive a killed hutch
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waited := false
			defer func() {
				if !waited {
					cmd.Process.Kill()
					<-done
				}
			}()
			runWaitFor(t, 10*time.Second, "the container to run its trap", func() bool {
				return strings.Contains(out.String(), "ready") && len(e.runPsQ()) == 1
			})
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				waited = true
				ee, _ := err.(*exec.ExitError)
				if err != nil && ee == nil {
					t.Fatal(err)
				}
				code := 0
				if ee != nil {
					code = ee.ExitCode()
				}
				if code != c.code || !strings.Contains(out.String(), "got "+sig) {
					t.Errorf("SIG%s to hutch run: exit %d, stdout %q, stderr %q; want the trap's exit %d", c.name, code, out.String(), errb.String(), c.code)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("SIG%s to hutch run: still running after 5 s (stdout %q)", c.name, out.String())
			}
		})
	}
}

// -it with a stdin that is not a terminal: hutch must not hang once the
// input ends (Docker refuses: "the input device is not a TTY").
func TestRunTtyWithPipedStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// No --rm: killed, it must stay visible for the cleanup's rm -f.
	cmd := e.command("run", "-it", "busybox", "cat")
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "HUTCH_ROOT=")
	cmd.Stdin = strings.NewReader("piped\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("echo piped | hutch run -it busybox cat: still running after 5 s (stdout %q, stderr %q)", out.String(), errb.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(runLines(errb.String())) != 1 {
		t.Errorf("-it with piped stdin: exit %d, stderr %q: want one line", ee.ExitCode(), errb.String())
	}
}

// A foreground container killed from outside: hutch run exits 128+9.
func TestRunExitCodeWhenKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmd := e.command("run", "--name", "victim", "busybox", "sleep", "30")
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	runWaitFor(t, 10*time.Second, "the container to run", func() bool { return len(e.runPsQ()) == 1 })
	e.ok("kill", "victim")
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 137 {
			t.Errorf("hutch run of a container killed with SIGKILL: %v, want exit 137", err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("hutch run still running 15 s after its container was killed")
	}
}

// A signal that reaches `hutch run` before the container's command runs
// (here: while it waits for the store's lock) cancels the start: exit 128+n,
// one line on stderr, the command never runs and nothing is left behind.
func TestRunSignalBeforeStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sig  syscall.Signal
		code int
		rm   bool
	}{{syscall.SIGINT, 130, true}, {syscall.SIGTERM, 143, false}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if r := e.run("ps"); r.code != 0 { // makes the store
				t.Fatal(r)
			}
			// -o: only flock holds the lock (not its child), so killing it frees the lock.
			lock := exec.Command("flock", "-o", filepath.Join(e.root, "containers", ".lock"), "-c", "echo locked; exec sleep 30")
			lockOut, err := lock.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			lock.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := lock.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { syscall.Kill(-lock.Process.Pid, syscall.SIGKILL); lock.Wait() }() // flock and its sleep
			if line, _ := bufio.NewReader(lockOut).ReadString('\n'); line != "locked\n" {
				t.Fatalf("flock: %q", line)
			}
			args := []string{"run", "busybox", "sh", "-c", "echo ran"}
			if c.rm {
				args = []string{"run", "--rm", "busybox", "sh", "-c", "echo ran"}
			}
			cmd := e.command(args...)
			var out, errb syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			runWaitFor(t, 10*time.Second, "hutch run to wait for the store's lock", func() bool {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", cmd.Process.Pid))
				return strings.Contains(string(b), "lock")
			})
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the signal is caught, not fatal: hutch still waits
			lock.Process.Kill()
			var err2 error
			select {
			case err2 = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("hutch run still running 20 s after the lock was freed")
			}
			var ee *exec.ExitError
			if !errors.As(err2, &ee) || ee.ExitCode() != c.code {
				t.Fatalf("hutch run: %v (stderr %q), want exit %d", err2, errb.String(), c.code)
			}
			if strings.Contains(out.String(), "ran") {
				t.Errorf("the command ran: stdout %q", out.String())
			}
			if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "interrupted") {
				t.Errorf("stderr %q, want one line saying it was interrupted", errb.String())
			}
			ps := strings.Split(strings.TrimSpace(e.run("ps", "-a").stdout), "\n")[1:]
			if c.rm && len(ps) != 0 {
				t.Errorf("--rm container left after a cancelled start: %q", ps)
			}
			if !c.rm && (len(ps) != 1 || !strings.Contains(ps[0], "Created")) {
				t.Errorf("containers after a cancelled start: %q, want one, Created (as Docker keeps it)", ps)
			}
		})
	}
}
