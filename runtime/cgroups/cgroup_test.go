package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// These tests create real cgroups and need root; CI runs as root.

func testID(t testing.TB) string {
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
	cg, err := create(l, parent+"/"+id, r)
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

// groupDir returns the group's directory in the v1 hierarchy that has
// controller.
func groupDir(t *testing.T, l layout, controller, id string) string {
	t.Helper()
	for _, h := range l.v1 {
		if h.has(controller) {
			return filepath.Join(h.dir, "hutch", id)
		}
	}
	t.Fatalf("no %s hierarchy in %+v", controller, l)
	return ""
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

	want := map[string]string{}
	if l.limits2 {
		dir := filepath.Join(l.v2, "hutch", id)
		want[filepath.Join(dir, "memory.max")] = "67108864"
		want[filepath.Join(dir, "pids.max")] = "50"
		want[filepath.Join(dir, "cpu.max")] = "50000 100000"
		if swap := filepath.Join(dir, "memory.swap.max"); exists(swap) {
			want[swap] = "67108864" // Docker: swap = memory
		}
	} else {
		mem := groupDir(t, l, "memory", id)
		cpu := groupDir(t, l, "cpu", id)
		want[filepath.Join(mem, "memory.limit_in_bytes")] = "67108864"
		want[filepath.Join(groupDir(t, l, "pids", id), "pids.max")] = "50"
		want[filepath.Join(cpu, "cpu.cfs_quota_us")] = "50000"
		want[filepath.Join(cpu, "cpu.cfs_period_us")] = "100000"
		// Not restricted: the group inherits the root's allow-all.
		want[filepath.Join(groupDir(t, l, "devices", id), "devices.list")] = "a *:* rwm"
		if memsw := filepath.Join(mem, "memory.memsw.limit_in_bytes"); exists(memsw) {
			want[memsw] = "134217728" // Docker: memory+swap = 2x memory
		} else {
			t.Log("no swap accounting: memory.memsw.limit_in_bytes not checked")
		}
		cpuset := groupDir(t, l, "cpuset", id)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			got := readTrim(t, filepath.Join(cpuset, f))
			if got == "" || got != readTrim(t, filepath.Join(filepath.Dir(cpuset), f)) {
				t.Errorf("%s = %q, want the parent's, non-empty", f, got)
			}
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

	cmd := sleeper(t)
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add: %v", err)
	}
	assertMember(t, l, cmd.Process.Pid, id)
}

// A Create that fails part way leaves no group behind.
func TestCreateFails(t *testing.T) {
	l := mustLayout(t)
	type failCase struct {
		name    string
		l       layout
		res     func(*specs.LinuxResources)
		wantErr string
	}
	tests := []failCase{
		// A hierarchy after the real ones that cannot be made.
		{
			name:    "mkdir",
			l:       layout{v1: append(slices.Clone(l.v1), hierarchy{dir: "/nonexistent", controllers: []string{"name=none"}}), v2: l.v2},
			wantErr: "create cgroup /nonexistent/hutch: no such file or directory",
		},
		// The kernel refuses a CFS quota under 1ms.
		{
			name:    "limit",
			l:       l,
			res:     func(r *specs.LinuxResources) { q := int64(10); r.CPU.Quota = &q },
			wantErr: "set cpu limit: write ",
		},
	}
	if l.limits2 {
		tests[0].l = layout{v2: "/nonexistent", limits2: true}
	} else if l.v2 != "" {
		// Hybrid: the v2 tree taken for a unified one, where the
		// memory controller is not available.
		tests = append(tests, failCase{name: "v2 controller missing", l: layout{v2: l.v2, limits2: true}, wantErr: "set linux.resources.memory: no memory controller in the cgroup v2 tree"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := testID(t)
			r, err := Resources("64m", "0.5", 50)
			if err != nil {
				t.Fatal(err)
			}
			if tt.res != nil {
				tt.res(r)
			}
			cg, err := create(tt.l, parent+"/"+id, r)
			if err == nil {
				cg.Delete()
				t.Fatal("create succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("create error = %v, want %q", err, tt.wantErr)
			}
			t.Log(err)
			assertGone(t, id)
		})
	}
}

func TestAddLoadDelete(t *testing.T) {
	layouts := map[string]layout{"host": mustLayout(t)}
	// On a hybrid host, also run the v1-only path (per-pid kill, no
	// cgroup.kill) and the v2-only path (cgroup.kill, no controllers).
	if h := layouts["host"]; len(h.v1) > 0 && h.v2 != "" {
		layouts["v1 only"] = layout{v1: h.v1}
		layouts["v2 only"] = layout{v2: h.v2}
	}
	for name, l := range layouts {
		t.Run(name, func(t *testing.T) {
			mem := "64m"
			if len(l.v1) == 0 && !l.limits2 {
				mem = "" // the hybrid v2 tree has no memory controller
			}
			cg, id := createT(t, l, mem)
			cmd := sleeper(t)
			pid := cmd.Process.Pid
			if err := cg.Add(pid); err != nil {
				t.Fatalf("Add: %v", err)
			}
			assertMember(t, l, pid, id)

			// Another process knows only the id.
			loaded, err := load(l, parent+"/"+id)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			files := loaded.TaskFiles()
			if !slices.Equal(files, cg.TaskFiles()) || loaded.UnifiedDir() != cg.UnifiedDir() {
				t.Errorf("loaded TaskFiles, UnifiedDir = %v, %q, want %v, %q", files, loaded.UnifiedDir(), cg.TaskFiles(), cg.UnifiedDir())
			}
			if cg.UnifiedDir() != "" {
				files = append(files, cg.UnifiedDir()+"/cgroup.procs")
			}
			if len(files) == 0 {
				t.Error("no task files and no unified dir")
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

			if _, err := load(l, parent+"/"+id); !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("load after Delete: %v, want ErrNotFound", err)
			}
			if err := cg.Delete(); err != nil {
				t.Errorf("second Delete: %v", err)
			}
		})
	}
}

// assertMember checks /proc/<pid>/cgroup names the group in every hierarchy
// the layout uses: each v1 one and the v2 tree (the 0:: line).
func assertMember(t *testing.T, l layout, pid int, id string) {
	t.Helper()
	assertMemberPath(t, l, pid, parent+"/"+id)
}

// assertMemberPath checks /proc/<pid>/cgroup names the group at path in
// every hierarchy the layout uses.
func assertMemberPath(t *testing.T, l layout, pid int, want string) {
	t.Helper()
	in := map[string]string{} // controllers, sorted, "" for v2 -> group
	for _, line := range strings.Split(readTrim(t, "/proc/"+strconv.Itoa(pid)+"/cgroup"), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			t.Fatalf("bad /proc/pid/cgroup line %q", line)
		}
		ctrls := strings.Split(parts[1], ",")
		slices.Sort(ctrls)
		in[strings.Join(ctrls, ",")] = parts[2]
	}
	for _, h := range l.v1 {
		ctrls := slices.Sorted(slices.Values(h.controllers))
		if got, ok := in[strings.Join(ctrls, ",")]; !ok || got != want {
			t.Errorf("hierarchy %v: in %q, want %s", h.controllers, got, want)
		}
	}
	if len(l.v1) == 0 && !l.limits2 && l.v2 == "" {
		t.Error("empty layout")
	}
	if l.v2 != "" && in[""] != want {
		t.Errorf("v2 (0::) line is %q, want %s", in[""], want)
	}
}

// The cheap way in: cloned into the v2 group, then "0" written to each v1
// tasks file by the (single-threaded) process itself.
func TestJoinByCloneAndTasks(t *testing.T) {
	l := mustLayout(t)
	cg, id := createT(t, l, "")
	cmd := startIn(t, cg) // returns once the shell, having joined, exec'd sleep
	assertMember(t, l, cmd.Process.Pid, id)
}

// Add moves process pid, with all its threads, into the group in every
// hierarchy, by cgroup.procs: the slow way, which the tests alone use to put
// an outside process in a group.
func (c *Cgroup) Add(pid int) error {
	for _, d := range c.Dirs() {
		if err := writeFile(d+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process %d to cgroup %s: %w", pid, c.path, err)
		}
	}
	return nil
}

// A container may make groups below its own; Delete removes them too.
func TestDeleteNested(t *testing.T) {
	l := mustLayout(t)
	cg, id := createT(t, l, "")
	cmd := sleeper(t)
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	for _, d := range cg.Dirs() {
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
