//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The root is an overlay over the image with the container's own upper
// dir, entered with pivot_root; mounts inside do not propagate.
func TestRunRootfsOverlay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--name", "ov", "busybox", "cat", "/proc/self/mountinfo")
	ids := e.ids()
	if len(ids) != 1 {
		t.Fatalf("containers %v, want one", ids)
	}
	ms := runParseMountinfo(t, out)
	root, ok := runMountAt(ms, "/")
	if !ok {
		t.Fatalf("no mount at / in:\n%s", out)
	}
	if root.fstype != "overlay" {
		t.Errorf("/ is %s, want overlay: %s", root.fstype, root.line)
	}
	lower := filepath.Join(e.root, "images", "busybox", "rootfs")
	if !strings.Contains(root.superOpts, "lowerdir="+lower) {
		t.Errorf("/ options %q, want lowerdir=%s", root.superOpts, lower)
	}
	if !strings.Contains(root.superOpts, "upperdir="+filepath.Join(e.root, "containers", ids[0])) {
		t.Errorf("/ options %q, want an upperdir in the container's directory", root.superOpts)
	}
	for _, m := range ms {
		if strings.Contains(m.line, "shared:") {
			t.Errorf("mount %s propagates (shared): %s", m.point, m.line)
		}
		if strings.HasPrefix(m.point, e.root) || strings.HasPrefix(m.point, "/tmp/") {
			t.Errorf("host path %s visible as a mount inside: %s", m.point, m.line)
		}
	}
	e.ok("rm", "ov")

	// pivot_root, not chroot: seen from the host, the process's root is
	// the root of its own mount namespace, and it is not the host's /.
	id := e.ok("run", "-d", "busybox", "sleep", "30")
	pid := e.runPid(id)
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/root")
	if err != nil {
		t.Fatal(err)
	}
	if link != "/" {
		t.Errorf("/proc/%d/root -> %q, want / (pivot_root; chroot shows the directory)", pid, link)
	}
	var ctrRoot, hostRoot syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(pid)+"/root/", &ctrRoot); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat("/", &hostRoot); err != nil {
		t.Fatal(err)
	}
	if ctrRoot.Dev == hostRoot.Dev && ctrRoot.Ino == hostRoot.Ino {
		t.Errorf("container root is the host's /")
	}
	e.ok("rm", "-f", id)
}

// A file written in one container is in neither the image nor another
// container, and rm discards it.
func TestRunRootfsWritesStayInContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--name", "writer", "busybox", "sh", "-c",
		"echo mine > /written; echo changed >> /etc/passwd; rm /bin/ls; cat /written; grep -c changed /etc/passwd; test -e /bin/ls || echo nols")
	if got := runLines(out); !slices.Equal(got, []string{"mine", "1", "nols"}) {
		t.Fatalf("writer saw %q, want its own changes", got)
	}
	img := filepath.Join(e.root, "images", "busybox", "rootfs")
	check := func(when string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(img, "written")); !os.IsNotExist(err) {
			t.Errorf("%s: image has /written (err %v)", when, err)
		}
		if b, _ := os.ReadFile(filepath.Join(img, "etc", "passwd")); strings.Contains(string(b), "changed") {
			t.Errorf("%s: image /etc/passwd changed", when)
		}
		if _, err := os.Lstat(filepath.Join(img, "bin", "ls")); err != nil {
			t.Errorf("%s: image lost /bin/ls: %v", when, err)
		}
		out := e.runSh(`test -e /written && echo written; grep -c changed /etc/passwd; test -e /bin/ls && echo ls`)
		if got := runLines(out); !slices.Equal(got, []string{"0", "ls"}) {
			t.Errorf("%s: another container sees %q, want [0 ls]", when, got)
		}
	}
	check("writer stopped")
	e.ok("rm", "writer")
	check("writer removed")
}

// Nothing a container mounts shows on the host: compare the host's mount
// table before and while one runs.
func TestRunMountsDoNotLeakToHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "busybox", "true") // the image exists before the snapshot
	before := runHostMounts(t, e.root)
	// Privileged, so that it can mount more of its own.
	id := e.ok("run", "-d", "--privileged", "busybox", "sh", "-c",
		"mkdir /m && mount -t tmpfs t /m && mount --bind /bin /m && touch /ready; sleep 30")
	pid := e.runPid(id)
	runWaitFor(t, 10*time.Second, "the container to mount", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/ready", pid))
		return err == nil
	})
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid)); !strings.Contains(string(b), " /m ") {
		t.Fatalf("the container's own mounts failed:\n%s", b)
	}
	during := runHostMounts(t, e.root)
	for l := range during {
		if !before[l] {
			t.Errorf("new host mount while a container runs: %s", l)
		}
	}
	e.ok("rm", "-f", id)
}

// runHostMounts returns the host's mountinfo lines that mention root: a
// container's overlay names its directories, and a mount propagated from a
// container shows under its rootfs there. (Overlays of other tests and
// other tools are not this test's business.)
func runHostMounts(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range runLines(string(b)) {
		if strings.Contains(l, root) {
			out[l] = true
		}
	}
	return out
}
