//go:build integration

package integration

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An unknown command: Docker's two lines and exit 1.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuchcommand"}, "hutch: 'nosuchcommand' is not a hutch command.\nSee 'hutch --help'\n"},
		{[]string{"network", "nosuchcommand"}, "hutch: 'network nosuchcommand' is not a hutch command.\nSee 'hutch network --help'\n"},
		{[]string{"image", "nosuchcommand"}, "hutch: 'image nosuchcommand' is not a hutch command.\nSee 'hutch image --help'\n"},
	} {
		r := e.run(tc.args...)
		if r.code != 1 || r.stderr != tc.want || r.stdout != "" {
			t.Errorf("hutch %s: %s, want exit 1 and stderr %q", strings.Join(tc.args, " "), r, tc.want)
		}
	}
}

// stop and kill act on their containers in parallel: three that ignore
// SIGTERM stop in one grace period (10 s), not three. The bound is loose.
func TestStopKillParallel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{"p1", "p2", "p3"}
	for _, n := range names {
		e.ok("run", "-d", "--name", n, "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 1; done")
	}
	start := time.Now()
	out := e.ok(append([]string{"stop"}, names...)...)
	took := time.Since(start)
	if out != "p1\np2\np3" {
		t.Errorf("stop p1 p2 p3 printed %q, want the names in order", out)
	}
	if took > 25*time.Second {
		t.Errorf("stop of three containers ignoring SIGTERM took %s: not in parallel", took)
	}
	for _, n := range names {
		if d := e.lcInspect(n); d.State.Running || d.State.ExitCode != 137 {
			t.Errorf("%s after stop: running %v, exit %d, want exited 137", n, d.State.Running, d.State.ExitCode)
		}
	}
	for _, n := range names {
		e.ok("start", n)
	}
	// kill of several, one unknown: the others are killed, the unknown one
	// is the error line, exit 1.
	r := e.run("kill", "p1", "nosuch", "p2", "p3")
	if r.code != 1 || r.stdout != "p1\np2\np3\n" || !strings.Contains(r.stderr, "nosuch") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("kill p1 nosuch p2 p3: %s, want the three names, one error line, exit 1", r)
	}
	for _, n := range names {
		e.lcWaitExited(n, 10*time.Second)
	}
}

// -it with stdin that is not a terminal: Docker's "the input device is not
// a TTY", exit 1, nothing made.
func TestRunInteractiveTtyNeedsTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{{"run", "-it", "busybox", "true"}, {"run", "-t", "-i", "--rm", "busybox", "true"}} {
		r := e.runStdin("piped\n", args...)
		if r.code != 1 || r.stderr != "hutch: the input device is not a TTY\n" {
			t.Errorf("hutch %s with piped stdin: %s, want exit 1 and the one line", strings.Join(args, " "), r)
		}
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("-it refused, yet containers were made: %v", ids)
	}
	// -t alone and -dit need no terminal on stdin.
	e.ok("run", "--rm", "-t", "busybox", "true")
	e.ok("run", "-dit", "--name", "bg", "busybox", "sh")
	// exec -it too, as Docker's.
	if r := e.runStdin("piped\n", "exec", "-it", "bg", "true"); r.code != 1 || r.stderr != "hutch: the input device is not a TTY\n" {
		t.Errorf("exec -it with piped stdin: %s, want exit 1 and the one line", r)
	}
	e.ok("exec", "-t", "bg", "true")
	e.ok("rm", "-f", "bg")
}

// Completion: the bash and zsh scripts offer commands, flags and the root's
// container, image and network names, by asking hutch.
func TestCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "-d", "--name", "compweb", "busybox", "sleep", "60")
	e.ok("network", "create", "compnet")
	defer e.ok("network", "rm", "compnet")
	dir := t.TempDir()
	// The scripts run the hutch they find as the command word: a wrapper
	// named hutch with this env's root.
	wrapper := dir + "/hutch"
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+hutchBin+" --root "+e.root+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bashScript, zshScript := dir+"/hutch.bash", dir+"/_hutch"
	if err := os.WriteFile(bashScript, []byte(e.ok("completion", "bash")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zshScript, []byte(e.ok("completion", "zsh")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		words []string // after hutch; the last is being completed
		want  string   // among the candidates
		not   string   // not among them
	}{
		{[]string{"sto"}, "stop", "start"},
		{[]string{"stop", ""}, "compweb", "busybox"},
		{[]string{"run", "-d", ""}, "busybox", "compweb"},
		{[]string{"run", "--net", ""}, "compnet", "compweb"},
		{[]string{"network", "rm", "comp"}, "compnet", "compweb"},
		{[]string{"run", "--ulim"}, "--ulimit", "--rm"},
		{[]string{"network", ""}, "connect", "stop"},
	}
	for _, tc := range cases {
		quoted := make([]string, len(tc.words))
		for i, w := range tc.words {
			quoted[i] = "'" + w + "'"
		}
		bash := "source " + bashScript + "; COMP_WORDS=(hutch " + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(tc.words)) + "; _hutch; printf '%s\\n' \"${COMPREPLY[@]}\""
		zsh := "compdef() { :; }; compadd() { local a=${@[-1]}; print -l -- ${(P)a} }; _files() { print FILES }; source " +
			zshScript + "; words=(hutch " + strings.Join(quoted, " ") + "); CURRENT=" + strconv.Itoa(len(tc.words)+1) + "; _hutch"
		for _, sh := range [][]string{{"bash", "-c", bash}, {"zsh", "-f", "-c", zsh}} {
			cmd := exec.Command(sh[0], sh[1:]...)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "HUTCH_ROOT="+e.root)
			out, err := cmd.CombinedOutput()
			cands := strings.Split(strings.TrimSpace(string(out)), "\n")
			if err != nil || !slices.Contains(cands, tc.want) || slices.Contains(cands, tc.not) {
				t.Errorf("%s completing %q: %q (%v), want %q and not %q", sh[0], tc.words, out, err, tc.want, tc.not)
			}
		}
	}
	e.fails(1, "bash or zsh", "completion", "fish")
}
