package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests create real cgroups and need root; CI runs as root.

func testID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b)
}

func mustLayout(t *testing.T) layout {
	t.Helper()
	l, err := hostLayout()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// createT creates a group and makes sure it is gone when the test ends.
func createT(t *testing.T, l layout, res string) (*Cgroup, string) {
	t.Helper()
	id := testID(t)
	r, err := Resources(res, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := create(l, id, r)
	if err != nil {
		t.Fatalf("create(%s): %v", id, err)
	}
	t.Cleanup(func() {
		if err := cg.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		assertGone(t, id)
	})
	return cg, id
}

// assertGone checks that no hierarchy has a group for id.
func assertGone(t *testing.T, id string) {
	t.Helper()
	for _, pattern := range []string{"/sys/fs/cgroup/*/hutch/" + id, "/sys/fs/cgroup/hutch/" + id} {
		m, _ := filepath.Glob(pattern)
		if len(m) > 0 {
			t.Errorf("groups left behind: %v", m)
		}
	}
}

// sleeper starts a process that the test kills (and reaps) when it ends.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCreateLimits(t *testing.T) {
	l := mustLayout(t)
	id := testID(t)
	res, err := Resources("64m", "0.5", 50)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := Create(id, res)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := cg.Delete(); err != nil {
			t.Errorf("Delete: %v", err)
		}
		assertGone(t, id)
	})

	var want map[string]string
	if l.limits2 {
		dir := filepath.Join(l.v2, "hutch", id)
		want = map[string]string{
			filepath.Join(dir, "memory.max"): "67108864",
			filepath.Join(dir, "pids.max"):   "50",
			filepath.Join(dir, "cpu.max"):    "50000 100000",
		}
	} else {
		want = map[string]string{
			"/sys/fs/cgroup/memory/hutch/" + id + "/memory.limit_in_bytes": "67108864",
			"/sys/fs/cgroup/pids/hutch/" + id + "/pids.max":                "50",
			"/sys/fs/cgroup/cpu/hutch/" + id + "/cpu.cfs_quota_us":         "50000",
			"/sys/fs/cgroup/cpu/hutch/" + id + "/cpu.cfs_period_us":        "100000",
			// Not restricted: the group inherits the root's allow-all.
			"/sys/fs/cgroup/devices/hutch/" + id + "/devices.list": "a *:* rwm",
		}
	}
	for path, v := range want {
		if got := readTrim(t, path); got != v {
			t.Errorf("%s = %q, want %q", path, got, v)
		}
	}
	if l.v2 != "" {
		if _, err := os.Stat(filepath.Join(l.v2, "hutch", id)); err != nil {
			t.Errorf("no v2 group: %v", err)
		}
	}
}

func TestAddLoadDelete(t *testing.T) {
	layouts := map[string]layout{"host": mustLayout(t)}
	// On a hybrid host, also run the v1-only path (per-pid kill, no
	// cgroup.kill) and the v2-only path (cgroup.kill, no controllers).
	if h := layouts["host"]; h.v1 && h.v2 != "" {
		layouts["v1 only"] = layout{v1: true}
		layouts["v2 only"] = layout{v2: h.v2}
	}
	for name, l := range layouts {
		t.Run(name, func(t *testing.T) {
			cg, id := createT(t, l, "64m")
			cmd := sleeper(t)
			pid := cmd.Process.Pid
			if err := cg.Add(pid); err != nil {
				t.Fatalf("Add: %v", err)
			}
			assertMember(t, l, pid, id)

			// Another process knows only the id.
			loaded, err := load(l, id)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			files := loaded.ProcsFiles()
			if !slices.Equal(files, cg.ProcsFiles()) || len(files) == 0 {
				t.Errorf("loaded ProcsFiles = %v, want %v", files, cg.ProcsFiles())
			}
			for _, f := range files {
				if !filepath.IsAbs(f) || !slices.Contains(strings.Fields(readTrim(t, f)), strconv.Itoa(pid)) {
					t.Errorf("%s does not list pid %d", f, pid)
				}
			}

			start := time.Now()
			if err := loaded.Delete(); err != nil {
				t.Fatalf("Delete with a process inside: %v", err)
			}
			t.Logf("Delete took %v", time.Since(start))
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("sleep ended with %v, want killed by SIGKILL", err)
			}
			assertGone(t, id)

			if _, err := load(l, id); !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("load after Delete: %v, want ErrNotFound", err)
			}
			if err := cg.Delete(); err != nil {
				t.Errorf("second Delete: %v", err)
			}
		})
	}
}

// assertMember checks /proc/<pid>/cgroup names the group in every hierarchy
// the layout uses.
func assertMember(t *testing.T, l layout, pid int, id string) {
	t.Helper()
	want := "/hutch/" + id
	var v1Lines int
	var v2OK bool
	for _, line := range strings.Split(readTrim(t, "/proc/"+strconv.Itoa(pid)+"/cgroup"), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			t.Fatalf("bad /proc/pid/cgroup line %q", line)
		}
		if parts[1] == "" {
			v2OK = parts[2] == want
			continue
		}
		if l.v1 {
			v1Lines++
			if parts[2] != want {
				t.Errorf("hierarchy %s: in %s, want %s", parts[1], parts[2], want)
			}
		}
	}
	if l.v1 && v1Lines == 0 {
		t.Error("no v1 hierarchy in /proc/pid/cgroup")
	}
	if l.v2 != "" && !v2OK {
		t.Errorf("v2 (0::) line is not %s", want)
	}
}

// A container may make groups below its own; Delete removes them too.
func TestDeleteNested(t *testing.T) {
	l := mustLayout(t)
	cg, id := createT(t, l, "")
	cmd := sleeper(t)
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	for _, d := range cg.dirs() {
		sub := filepath.Join(d, "sub", "deeper")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(d, "/sys/fs/cgroup/pids/") {
			if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cg.Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertGone(t, id)
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(testID(t)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(missing) error = %v, want ErrNotFound", err)
	}
}

func TestBadID(t *testing.T) {
	for _, id := range []string{"", ".", "..", "a/b", "../x"} {
		if _, err := Create(id, nil); err == nil {
			t.Errorf("Create(%q) succeeded", id)
		}
		if _, err := Load(id); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Load(%q) error = %v, want invalid id", id, err)
		}
	}
}
