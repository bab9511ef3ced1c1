//go:build integration

package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each bad run exits 125 with one stderr line naming the problem, and
// leaves nothing behind; a missing image is a usage error, exit 1, as
// Docker's run (cli.RequiresMinArgs).
func TestRunBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want []string // every one must be in the stderr line
		code int
	}{
		{"unknown image, --pull never", []string{"--pull", "never", "nosuchimage", "true"}, []string{"nosuchimage"}, 125},
		{"bad pull policy", []string{"--pull", "sometimes", "busybox", "true"}, []string{"pull", "sometimes"}, 125},
		{"invalid name", []string{"--name", "bad/name", "busybox", "true"}, []string{"bad/name"}, 125},
		{"invalid name start", []string{"--name", "_x", "busybox", "true"}, []string{"_x"}, 125},
		{"env without name", []string{"-e", "=x", "busybox", "true"}, []string{"=x"}, 125},
		{"unknown user", []string{"-u", "nosuchuser", "busybox", "true"}, []string{"nosuchuser"}, 125},
		{"unknown group", []string{"-u", "user:nosuchgroup", "busybox", "true"}, []string{"nosuchgroup"}, 125},
		{"relative workdir", []string{"-w", "rel/dir", "busybox", "true"}, []string{"rel/dir", "absolute"}, 125},
		{"bad memory unit", []string{"-m", "12q", "busybox", "true"}, []string{"12q", "memory"}, 125},
		{"memory too small", []string{"-m", "1k", "busybox", "true"}, []string{"1k", "memory"}, 125},
		{"cpus negative", []string{"--cpus", "-1", "busybox", "true"}, []string{"cpus", `"-1"`}, 125}, // 0 is no limit, as in Docker
		{"cpus too many", []string{"--cpus", "99", "busybox", "true"}, []string{"cpus", "99"}, 125},
		{"cpus not a number", []string{"--cpus", "abc", "busybox", "true"}, []string{"cpus", "abc"}, 125},
		{"unknown network", []string{"--network", "nosuchnet", "busybox", "true"}, []string{"nosuchnet"}, 125},
		{"unknown capability", []string{"--cap-add", "NOSUCHCAP", "busybox", "true"}, []string{"NOSUCHCAP"}, 125},
		{"missing env file", []string{"--env-file", "/nonexistent/envfile", "busybox", "true"}, []string{"/nonexistent/envfile"}, 125},
		{"unknown stop signal", []string{"--stop-signal", "SIGNOPE", "busybox", "true"}, []string{"stop signal", "SIGNOPE"}, 125},
		{"negative stop timeout", []string{"--stop-timeout", "-5", "busybox", "true"}, []string{"stop timeout", "-5"}, 125},
		{"expose bad protocol", []string{"--expose", "80/sctp", "busybox", "true"}, []string{"--expose", "sctp"}, 125},
		{"expose port zero", []string{"--expose", "0", "-P", "busybox", "true"}, []string{"--expose", `"0"`}, 125},
		{"unknown flag", []string{"--nope", "busybox", "true"}, []string{"nope"}, 125},
		{"no image", nil, []string{"image"}, 1},
		{"only flags", []string{"-d", "--rm"}, []string{"image"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			args := append([]string{"run", "--rm"}, c.args...)
			r := e.fails(c.code, c.want[0], args...)
			for _, w := range c.want[1:] {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("hutch %v: stderr %q, want %q in it", args, r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("hutch %v: stdout %q, want nothing", args, r.stdout)
			}
			// The same without --rm, detached: still nothing made.
			args = append([]string{"run", "-d"}, c.args...)
			e.fails(c.code, c.want[0], args...)
			if ids := e.ids(); len(ids) != 0 {
				t.Errorf("containers left after bad runs: %v", ids)
			}
			if out := e.ok("ps", "-aq"); out != "" {
				t.Errorf("ps -aq after bad runs: %q", out)
			}
		})
	}
}

// A name in use: the second run fails and only the first container exists.
func TestRunDuplicateName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.ok("run", "-d", "--name", "dup", "busybox", "sleep", "30")
	e.fails(125, "dup", "run", "--rm", "--name", "dup", "busybox", "true")
	e.fails(125, "dup", "run", "-d", "--name", "dup", "busybox", "true")
	if ids := e.ids(); len(ids) != 1 || ids[0] != first {
		t.Errorf("containers %v, want only the first %s", ids, first)
	}
	if got := e.runPsQ(); len(got) != 1 || !strings.HasPrefix(first, got[0]) {
		t.Errorf("ps -q = %v, want the first container running", got)
	}
	// Also against a stopped container.
	e.ok("run", "--name", "stopped", "busybox", "true")
	e.fails(125, "stopped", "run", "--name", "stopped", "busybox", "true")
	if n := len(e.ids()); n != 2 {
		t.Errorf("%d containers, want 2", n)
	}
	e.ok("rm", "-f", "dup", "stopped")
	e.ok("run", "--rm", "--name", "dup", "busybox", "true") // free again
}

// Command not found: 127; not executable: 126; each with one line, and
// --rm leaves nothing.
func TestRunCommandNotRunnable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fails(127, "nosuchcmd", "run", "--rm", "busybox", "nosuchcmd")
	e.fails(127, "/no/such/path", "run", "--rm", "busybox", "/no/such/path")
	e.fails(126, "/etc/passwd", "run", "--rm", "busybox", "/etc/passwd")
	e.fails(126, "/etc", "run", "--rm", "busybox", "/etc")
	e.fails(127, "nosuchcmd", "run", "--rm", "--init", "busybox", "nosuchcmd")
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
	// Without --rm the container stays, exited with that code.
	e.fails(127, "nosuchcmd", "run", "--name", "nf", "busybox", "nosuchcmd")
	st, _ := e.runInspect("nf")["State"].(map[string]any)
	if st["Running"] != false || st["ExitCode"] != float64(127) {
		t.Errorf("after command not found: State %v, want exited with 127", st)
	}
}

// Without a static busybox on the host, the built-in image cannot be made:
// one line saying how to install it, and nothing left.
func TestRunNoBusyboxOnHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A private mount namespace where every static busybox is /dev/null.
	script := `for b in /usr/bin/busybox /bin/busybox /usr/sbin/busybox /sbin/busybox /usr/local/bin/busybox; do
	[ -e "$b" ] && mount --bind /dev/null "$b"; done; exec "$@"`
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		hutchBin, "--root", e.root, "run", "--rm", "busybox", "true")
	cmd.Env = append(os.Environ(), "HUTCH_ROOT=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != 125 {
		t.Fatalf("run without busybox on the host: %v, stdout %q, stderr %q; want exit 125", err, out.String(), errb.String())
	}
	stderr := strings.TrimSpace(errb.String())
	if strings.Contains(stderr, "\n") || !strings.Contains(stderr, "busybox-static") {
		t.Errorf("stderr %q: want one line saying to install busybox-static", stderr)
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.root, "images")); len(ents) != 0 {
		for _, d := range ents {
			if !strings.HasPrefix(d.Name(), ".") {
				t.Errorf("image store holds %s after the failure", d.Name())
			}
		}
	}
	// With busybox back, the image is made.
	e.ok("run", "--rm", "busybox", "true")
}
