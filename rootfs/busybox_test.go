package rootfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// helperEnv makes the test binary act as a separate hutch process that wants busybox.
const helperEnv = "HUTCH_ROOTFS_TEST_GET_BUSYBOX"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		img, err := NewStore(dir).Get("busybox")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(img.ID)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestBusyboxImage(t *testing.T) {
	s := newTestStore(t)
	img, err := s.Get("busybox:latest")
	if err != nil {
		t.Fatalf("Get(busybox) = %v", err)
	}
	if img.Name != "busybox" || img.Source != "builtin" || len(img.ID) != 64 || img.Size < 100_000 {
		t.Errorf("Get(busybox) = %+v", img)
	}
	root := s.RootfsPath("busybox")

	if fi, err := os.Lstat(filepath.Join(root, "bin/busybox")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox: %v, %v; want a 0755 regular file", fi, err)
	}
	for _, applet := range []string{"bin/sh", "usr/bin/wget", "sbin/ifconfig", "usr/bin/nslookup", "bin/mount"} {
		if got, err := os.Readlink(filepath.Join(root, applet)); err != nil || got != "/bin/busybox" {
			t.Errorf("%s -> %q, %v; want /bin/busybox", applet, got, err)
		}
	}
	dirs := []struct {
		path string
		mode os.FileMode
		uid  uint32
	}{
		{"root", 0o700, 0},
		{"tmp", 0o777 | os.ModeSticky, 0},
		{"var/tmp", 0o777 | os.ModeSticky, 0},
		{"home/user", 0o755, 1000},
		{"proc", 0o555, 0},
		{"dev", 0o755, 0},
		{"run", 0o755, 0},
	}
	for _, d := range dirs {
		fi, err := os.Lstat(filepath.Join(root, d.path))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fi.Mode() &^ os.ModeDir; !fi.IsDir() || got != d.mode || fi.Sys().(*syscall.Stat_t).Uid != d.uid {
			t.Errorf("%s: mode %v uid %d, want dir %v uid %d", d.path, got, fi.Sys().(*syscall.Stat_t).Uid, d.mode, d.uid)
		}
	}
	files := []struct{ path, want string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
		{"etc/passwd", "nobody:x:65534:65534:nobody:/home:/bin/false\n"},
		{"etc/passwd", "user:x:1000:1000:user:/home/user:/bin/sh\n"},
		{"etc/group", "tty:x:5:\n"},
		{"etc/group", "nogroup:x:65534:\n"},
		{"etc/hosts", ""},
		{"etc/resolv.conf", ""},
		{"etc/hostname", ""},
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil || !strings.Contains(string(data), f.want) {
			t.Errorf("%s = %q, %v; want it to contain %q", f.path, data, err, f.want)
		}
	}

	// The image really runs: a shell, an applet found through PATH, and a user lookup.
	cmd := exec.Command("/bin/sh", "-c", "id user && wget --help 2>&1 | head -1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Env = []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin"}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "uid=1000(user) gid=1000(user)") || !strings.Contains(string(out), "\nBusyBox") {
		t.Errorf("sh in the image: %q, %v", out, err)
	}

	if again, err := s.Get("busybox"); err != nil || !reflect.DeepEqual(again, img) {
		t.Errorf("second Get = %+v, %v; want the same image %+v", again, err, img)
	}
	// Removing the built-in image is allowed; the next use rebuilds it.
	if err := s.Remove("busybox"); err != nil {
		t.Fatalf("Remove(busybox) = %v", err)
	}
	rebuilt, err := s.Get("busybox")
	if err != nil || rebuilt.ID == img.ID {
		t.Errorf("Get after Remove = %+v, %v; want a new image", rebuilt, err)
	}
	wantStore(t, s, "busybox")
}

func TestNoBusybox(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := busyboxCandidates
	t.Cleanup(func() { busyboxCandidates = saved })
	// A dynamic binary and a missing one: neither will do.
	busyboxCandidates = []string{"/bin/ls", "/nonexistent/busybox"}

	s := newTestStore(t)
	_, err := s.Get("busybox")
	if !errors.Is(err, ErrNoBusybox) || !strings.Contains(err.Error(), "apt-get install busybox-static") {
		t.Fatalf("Get(busybox) = %v, want ErrNoBusybox telling how to install it", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans several lines: %q", err)
	}
	wantStore(t, s)
}

func TestIsStatic(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"/usr/bin/busybox", true},
		{"/bin/ls", false},
		{text, false},
		{"/nonexistent", false},
	}
	for _, tt := range tests {
		if got := isStatic(tt.path); got != tt.want {
			t.Errorf("isStatic(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestParseApplets(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"bin/sh\nusr/bin/[\n\nbin/busybox\nsbin/ip\n", []string{"bin/sh", "usr/bin/[", "sbin/ip"}, false},
		{"", nil, true},
		{"bin/busybox\n", nil, true},
		{"bin/sh\n../etc/x\n", nil, true},
		{"/bin/sh\n", nil, true},
		{"bin/../sh\n", nil, true},
	}
	for _, tt := range tests {
		got, err := parseApplets([]byte(tt.in))
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseApplets(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestBusyboxConcurrent is 20 `hutch run busybox` at once on a fresh store: in goroutines (one
// process) and in separate processes. All must get the one same image, and no temp dir remains.
func TestBusyboxConcurrent(t *testing.T) {
	t.Run("goroutines", func(t *testing.T) {
		s := newTestStore(t)
		ids := make([]string, 20)
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				img, err := s.Get("busybox")
				ids[i], errs[i] = img.ID, err
			})
		}
		wg.Wait()
		checkSameImage(t, ids, errs)
		wantStore(t, s, "busybox")
	})
	t.Run("processes", func(t *testing.T) {
		s := newTestStore(t)
		ids := make([]string, 20)
		errs := make([]error, 20)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), helperEnv+"="+s.dir)
				out, err := cmd.Output()
				if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
					err = fmt.Errorf("%w: %s", err, ee.Stderr)
				}
				ids[i], errs[i] = string(out), err
			})
		}
		wg.Wait()
		checkSameImage(t, ids, errs)
		wantStore(t, s, "busybox")
	})
}

func checkSameImage(t *testing.T, ids []string, errs []error) {
	t.Helper()
	for i := range ids {
		if errs[i] != nil {
			t.Errorf("Get #%d: %v", i, errs[i])
		} else if len(ids[i]) != 64 || ids[i] != ids[0] {
			t.Errorf("Get #%d: id %q, want %q", i, ids[i], ids[0])
		}
	}
}
