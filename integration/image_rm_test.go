//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageRm: image rm is refused while any container (even exited) uses
// the image, works once it is removed; an unknown image is an error.
func TestImageRm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := filepath.Join(t.TempDir(), "rootfs")
	lcMinimalRootfs(t, dir)
	e.ok("image", "import", "mine", dir)
	e.ok("image", "import", "spare", dir)

	id := e.lcRunDetached("--name", "user1", "mine", "sh", "-c", "sleep 100")
	e.fails(1, "mine", "image", "rm", "mine")
	e.ok("kill", "user1")
	e.lcWaitExited("user1", 5e9)
	r := e.fails(1, "mine", "image", "rm", "mine")
	if !strings.Contains(r.stderr, "user1") && !strings.Contains(r.stderr, id[:12]) {
		t.Errorf("image rm of an image in use: %q does not name the container", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(e.root, "images", "mine", "rootfs", "bin", "busybox")); err != nil {
		t.Errorf("refused image rm damaged the image: %v", err)
	}
	// The exited container can still start from it.
	e.ok("start", "user1")
	e.ok("rm", "-f", "user1")

	if out := e.ok("image", "rm", "mine"); !strings.Contains(out, "mine") {
		t.Errorf("image rm mine prints %q", out)
	}
	if _, err := os.Lstat(filepath.Join(e.root, "images", "mine")); !os.IsNotExist(err) {
		t.Errorf("images/mine after image rm: %v", err)
	}
	if ls := e.ok("image", "ls"); strings.Contains(ls, "mine") || !strings.Contains(ls, "spare") {
		t.Errorf("image ls after image rm mine:\n%s", ls)
	}
	if left := imgLeftovers(e.root, "spare"); len(left) != 0 {
		t.Errorf("left under images/: %v", left)
	}
	e.fails(125, "mine", "run", "--rm", "--pull", "never", "mine", "true")
	e.fails(1, "nosuch", "image", "rm", "nosuch")
	e.fails(1, "mine", "image", "rm", "mine")
	// The name can be imported again.
	e.ok("image", "import", "mine", dir)
	if out := e.ok("run", "--rm", "mine", "sh", "-c", "echo again"); out != "again" {
		t.Errorf("run of a re-imported image = %q", out)
	}

	// busybox is an image like the others: refused while used, rebuilt on next use.
	e.ok("run", "--name", "bb", "busybox", "true")
	e.fails(1, "busybox", "image", "rm", "busybox")
	e.ok("rm", "bb")
	e.ok("image", "rm", "busybox")
	if out := e.ok("run", "--rm", "busybox", "echo", "rebuilt"); out != "rebuilt" {
		t.Errorf("busybox after image rm = %q", out)
	}
}

// TestImageByID: an image is reached by the ID `image ls` prints (or any
// unique prefix, or sha256:ID), as in Docker; rmi by an ID that several names
// share is refused, and works once one name is left.
func TestImageByID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "--network", "none", "busybox", "true")
	e.ok("tag", "busybox", "mybox")
	var id string
	for _, l := range strings.Split(e.ok("image", "ls"), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "busybox" {
			id = f[2]
		}
	}
	if len(id) != 12 {
		t.Fatalf("image ls gives busybox the ID %q, want 12 hex digits", id)
	}
	if out := e.ok("run", "--rm", "--pull", "never", "--network", "none", id[:7], "echo", "by-id"); out != "by-id" {
		t.Errorf("run by ID prefix: %q", out)
	}
	e.fails(1, "referenced in multiple repositories", "rmi", id)
	e.ok("rmi", "mybox")
	e.ok("rmi", "sha256:"+id)
	if out := e.ok("image", "ls"); strings.Contains(out, id) {
		t.Errorf("after rmi of its ID the image is still listed: %q", out)
	}
	e.fails(125, "", "run", "--rm", "--pull", "never", "--network", "none", id, "true")
}
