//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// --preserve-fds N: the runtime's descriptors 3..3+N-1 are the process's
// 3..3+N-1; none of the runtime's own follow them in.
func TestOCIPreserveFds(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	in := filepath.Join(e.dir, "in")
	if err := os.WriteFile(in, []byte("from-three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fin, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer fin.Close()
	outPath := filepath.Join(e.dir, "four")
	fout, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer fout.Close()

	id := e.id("preserve")
	c := &ociCtr{e: e, id: id, bundle: e.bundle(id, shSpec("cat <&3; echo to-four >&4; ls /proc/self/fd"))}
	c.outPath, c.errPath = filepath.Join(e.dir, id+".out"), filepath.Join(e.dir, id+".err")
	if r := e.createWithFiles(c, []*os.File{fin, fout}, "--preserve-fds", "2"); r.code != 0 {
		t.Fatalf("create --preserve-fds 2: %s", r)
	}
	c.start()
	c.waitStatus(specs.StateStopped)
	c.delete()
	lines := strings.Fields(c.out())
	// cat's output, then ls: 0 1 2 3 4 and the fd ls itself opened.
	if len(lines) < 1 || lines[0] != "from-three" {
		t.Errorf("output %q: want fd 3's content first", c.out())
	}
	if got := strings.Join(lines[1:], " "); got != "0 1 2 3 4 5" {
		t.Errorf("the process's descriptors %q, want 0 1 2 3 4 (and ls's own 5)", got)
	}
	if got := readFile(outPath); got != "to-four\n" {
		t.Errorf("fd 4 got %q, want to-four", got)
	}

	// More than were passed: an error, and nothing made (runc 1.1.5 passes
	// on whatever it has open there, its own descriptors included).
	if e.name == "runc" {
		return
	}
	id2 := e.id("preserve-missing")
	c2 := &ociCtr{e: e, id: id2, bundle: e.bundle(id2, shSpec("true"))}
	c2.outPath, c2.errPath = filepath.Join(e.dir, id2+".out"), filepath.Join(e.dir, id2+".err")
	if r := e.createWithFiles(c2, []*os.File{fin}, "--preserve-fds", "3"); r.code == 0 {
		t.Errorf("create --preserve-fds 3 with one descriptor passed: exit 0")
	}
	if e.exists(id2) {
		t.Errorf("a refused create left %s", id2)
	}
}

// --no-pivot: the process runs in the bundle's root all the same.
func TestOCINoPivot(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("nopivot", shSpec("cat /marker; ls /proc/self/root/ | grep -c marker"), "--no-pivot")
	if err := os.WriteFile(filepath.Join(c.bundle, "rootfs", "marker"), []byte("in-the-bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.start()
	c.waitStatus(specs.StateStopped)
	c.delete()
	if got := c.out(); got != "in-the-bundle\n1\n" {
		t.Errorf("output %q, want the bundle's marker", got)
	}
}

// execWithFiles runs exec with extra descriptors from 3 on (as
// containerd's shim passes them) and returns what it did.
func (e *ociEnv) execWithFiles(extra []*os.File, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--root", e.root, "exec"}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &out, &errb, extra
	r := result{}
	if err := e.runTimeout(cmd); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("exec %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// exec --preserve-fds N: as create's, exec's descriptors 3..3+N-1 are the
// process's 3..3+N-1, with args and with --process; none of the runtime's
// own follow them in.
func TestOCIExecPreserveFds(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("exec-preserve", shSpec("echo ready; exec sleep 1000"))
	c.start()
	c.waitOut("ready")
	in := filepath.Join(e.dir, "in")
	if err := os.WriteFile(in, []byte("from-three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "cat <&3; echo to-four >&4; ls /proc/self/fd"
	pf := filepath.Join(e.dir, "process.json")
	p := specs.Process{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}, Cwd: "/"}
	b, _ := json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"args":      {"--preserve-fds", "2", c.id, "sh", "-c", script},
		"--process": {"--preserve-fds", "2", "--process", pf, c.id},
	} {
		fin, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		outPath := filepath.Join(e.dir, "four")
		fout, err := os.Create(outPath)
		if err != nil {
			t.Fatal(err)
		}
		r := e.execWithFiles([]*os.File{fin, fout}, args...)
		fin.Close()
		fout.Close()
		if r.code != 0 {
			t.Errorf("exec %s --preserve-fds 2: %s", name, r)
			continue
		}
		lines := strings.Fields(r.stdout)
		if len(lines) < 1 || lines[0] != "from-three" {
			t.Errorf("exec %s: output %q, want fd 3's content first", name, r.stdout)
		}
		if got := strings.Join(lines[1:], " "); got != "0 1 2 3 4 5" {
			t.Errorf("exec %s: the process's descriptors %q, want 0 1 2 3 4 (and ls's own 5)", name, got)
		}
		if got := readFile(outPath); got != "to-four\n" {
			t.Errorf("exec %s: fd 4 got %q, want to-four", name, got)
		}
	}

	// More than were passed: one line of error, nothing run.
	if e.name == "runc" {
		return // runc 1.1.5 passes on whatever it has open there
	}
	fin, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer fin.Close()
	r := e.execWithFiles([]*os.File{fin}, "--preserve-fds", "3", c.id, "sh", "-c", "echo ran")
	e.checkFailed(r, "exec", "--preserve-fds", "3")
	if strings.Contains(r.stdout, "ran") {
		t.Errorf("exec --preserve-fds 3 with one descriptor: the process ran")
	}
}
