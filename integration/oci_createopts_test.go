//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// createWithFiles runs create for c with extra descriptors from 3 on (as
// containerd's shim passes --preserve-fds ones), the container's stdout
// and stderr to its files.
func (e *ociEnv) createWithFiles(c *ociCtr, extra []*os.File, flags ...string) result {
	e.t.Helper()
	out, err := os.Create(c.outPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(c.errPath)
	if err != nil {
		e.t.Fatal(err)
	}
	defer errf.Close()
	args := append(append([]string{"--root", e.root, "create", "--bundle", c.bundle}, flags...), c.id)
	cmd := exec.Command(e.bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = out, errf, extra
	r := result{}
	if err := e.runTimeout(cmd); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("create %s: %v", c.id, err)
		}
		r.code = ee.ExitCode()
	}
	r.stderr = readFile(c.errPath)
	if r.code == 0 {
		e.notePid(c.state().Pid)
	}
	return r
}

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
