//go:build integration

// Package integration drives the built hutch binary as root, end to end.
// Every test gets its own --root; its cleanup removes every container it
// made and fails the test if anything of hutch's is left behind.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var hutchBin string

// hostNetNS names the host's network namespace, as /proc/PID/ns/net reads.
var hostNetNS string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	hutchBin = os.Getenv("HUTCH_BIN")
	if hutchBin == "" {
		dir, err := os.MkdirTemp("", "hutch-bin")
		if err != nil {
			panic(err)
		}
		hutchBin = filepath.Join(dir, "hutch")
		build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", hutchBin, "../cmd/hutch")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build hutch:", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	// Read before any test runs: a thread of this process may be in a
	// container's namespace for a moment later (the UDP publishing test).
	var err error
	if hostNetNS, err = os.Readlink("/proc/self/ns/net"); err != nil {
		panic(err)
	}
	before := containerCgroups()
	code := m.Run()
	// Per-test cleanups check their own containers; this catches the rest
	// (a container no test knew about, a cgroup whose record was lost).
	time.Sleep(200 * time.Millisecond)
	for dir := range containerCgroups() {
		if !before[dir] {
			fmt.Fprintln(os.Stderr, "leak: cgroup", dir)
			code = 1
		}
	}
	return code
}

// containerCgroups lists the per-container cgroup directories of every hutch.
func containerCgroups() map[string]bool {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hutch/*")
	out := map[string]bool{}
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out[d] = true
		}
	}
	return out
}

// env is one isolated hutch instance (its own --root).
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root, err := os.MkdirTemp("", "hutch-it-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: root}
	t.Cleanup(e.cleanup)
	return e
}

// result is what one hutch command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// command builds a hutch command for this env (not started).
func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(hutchBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), "HUTCH_ROOT=") // the flag, not the caller's env, picks the root
	return cmd
}

// run runs hutch with a 60 s timeout and returns what it did.
func (e *env) run(args ...string) result {
	return e.runStdin("", args...)
}

func (e *env) runStdin(stdin string, args ...string) result {
	e.t.Helper()
	r, err := execHutch(hutchBin, e.root, stdin, nil, args...)
	if err != nil {
		e.t.Fatalf("hutch %v: %v (%s)", args, err, r)
	}
	return r
}

// execHutch runs bin with --root root and a 60 s timeout. It never touches
// a test, so it may run on any goroutine; err is a failure to run or a timeout.
func execHutch(bin, root, stdin string, extraEnv []string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--root", root}, args...)...)
	// The flag, not the caller's environment, picks the root.
	cmd.Env = append(append(os.Environ(), "HUTCH_ROOT="), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code, err = ee.ExitCode(), nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out")
	}
	return r, err
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ok runs hutch, fails the test unless it exits 0, and returns trimmed stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("hutch %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimSpace(r.stdout)
}

// fails runs hutch and checks it exits with code and one stderr line containing want.
func (e *env) fails(code int, want string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Fatalf("hutch %s: %s, want exit %d", strings.Join(args, " "), r, code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(r.stderr, want) {
		e.t.Fatalf("hutch %s: stderr %q, want one line containing %q", strings.Join(args, " "), r.stderr, want)
	}
	return r
}

// ids lists every container id of this env (ps -aq gives short ids).
func (e *env) ids() []string {
	ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	var ids []string
	for _, d := range ents {
		if d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			ids = append(ids, d.Name())
		}
	}
	return ids
}

// cleanup removes every container and checks that nothing of this env is
// left: no monitor process, no mount, no cgroup, no state.
func (e *env) cleanup() {
	t := e.t
	ids := e.ids()
	if len(ids) > 0 {
		if r := e.run(append([]string{"rm", "-f"}, ids...)...); r.code != 0 {
			t.Errorf("cleanup: rm -f: %s", r)
		}
	}
	for _, leak := range e.networkLeftovers(ids) {
		t.Errorf("leak: %s", leak)
	}
	for _, leak := range leftovers(e.root, ids) {
		t.Errorf("leak: %s", leak)
	}
	os.RemoveAll(e.root)
}

// networkLeftovers prunes the env's networks, checks that their bridges, the
// containers' veths and the ports they published are gone, then removes
// the default bridge and the nftables table, which hutch keeps by design,
// with `system reset`, and checks that they are gone.
func (e *env) networkLeftovers(ids []string) []string {
	var out []string
	nets, _ := filepath.Glob(filepath.Join(e.root, "networks", "*", "network.json"))
	if len(nets) == 0 {
		return nil
	}
	// The table is the root's, whichever network asks (before prune).
	var table string
	var d []struct{ NftTable string }
	if r := e.run("network", "inspect", filepath.Base(filepath.Dir(nets[0]))); r.code == 0 && json.Unmarshal([]byte(r.stdout), &d) == nil && len(d) == 1 {
		table = d[0].NftTable
	}
	if r := e.run("network", "prune", "-f"); r.code != 0 {
		out = append(out, "network prune: "+r.String())
	}
	var defaultBridge string
	for _, p := range nets {
		var n struct{ Name, Bridge string }
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &n) == nil {
			if n.Name == "bridge" {
				defaultBridge = n.Bridge
				continue
			}
			if linkExists(n.Bridge) {
				out = append(out, "bridge "+n.Bridge+" of network "+n.Name)
			}
		}
	}
	// A stopped container's veth goes with its network namespace, which the
	// kernel destroys in the background: give it a moment.
	for _, id := range ids {
		deadline := time.Now().Add(5 * time.Second)
		links, _ := filepath.Glob("/sys/class/net/vh" + id[:12] + "*")
		for len(links) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			links, _ = filepath.Glob("/sys/class/net/vh" + id[:12] + "*")
		}
		if len(links) > 0 {
			out = append(out, "veth "+filepath.Base(links[0]))
		}
	}
	if table != "" {
		if b, _ := exec.Command("nft", "list", "table", "ip", table).Output(); bytes.Contains(b, []byte("elements")) {
			out = append(out, "published ports left in table "+table+":\n"+string(b))
		}
	}
	if r := e.run("system", "reset", "-f"); r.code != 0 {
		out = append(out, "system reset: "+r.String())
	}
	if defaultBridge != "" && linkExists(defaultBridge) {
		out = append(out, "default bridge "+defaultBridge+" after system reset")
	}
	if table != "" && exec.Command("nft", "list", "table", "ip", table).Run() == nil {
		out = append(out, "table "+table+" after system reset")
	}
	return out
}

func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// leftovers lists what hutch processes, mounts and cgroups of root and ids remain.
func leftovers(root string, ids []string) []string {
	var out []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		out = out[:0]
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil || len(b) == 0 { // zombies have an empty cmdline: not a leak here
				continue
			}
			if bytes.Contains(b, []byte(root)) {
				out = append(out, fmt.Sprintf("process %s: %q", filepath.Dir(p), bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
			}
		}
		if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && bytes.Contains(mi, []byte(root)) {
			out = append(out, "mount under "+root)
		}
		for _, id := range ids {
			if m, _ := filepath.Glob("/sys/fs/cgroup/*/hutch/" + id); len(m) > 0 {
				out = append(out, "cgroup "+m[0])
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}
