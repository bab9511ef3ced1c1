//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers shared by the lifecycle_* and image_* tests.

var (
	lcFullID  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	lcShortID = regexp.MustCompile(`^[0-9a-f]{12}$`)
	// columnSep splits tabwriter output: columns are at least 3 spaces apart,
	// while cells ("Up 2 seconds", "IMAGE ID") hold single spaces.
	lcColumnSep = regexp.MustCompile(`\s{2,}`)
)

// lcInspected is the part of `hutch inspect` the tests read.
type lcInspected struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	Image   string    `json:"Image"`
	State   struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		Pid        int       `json:"Pid"`
		ExitCode   int       `json:"ExitCode"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
	} `json:"State"`
	Config struct {
		Image      string   `json:"Image"`
		Cmd        []string `json:"Cmd"`
		Env        []string `json:"Env"`
		WorkingDir string   `json:"WorkingDir"`
		Hostname   string   `json:"Hostname"`
	} `json:"Config"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
		AutoRemove  bool   `json:"AutoRemove"`
	} `json:"HostConfig"`
}

// lcInspect returns `hutch inspect ref`'s single element.
func (e *env) lcInspect(ref string) lcInspected {
	e.t.Helper()
	out := e.ok("inspect", ref)
	var ds []lcInspected
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		e.t.Fatalf("inspect %s: not a JSON array: %v\n%s", ref, err, out)
	}
	if len(ds) != 1 {
		e.t.Fatalf("inspect %s: %d elements, want 1", ref, len(ds))
	}
	return ds[0]
}

// lcRunDetached runs `hutch run -d args...` and returns the full id it prints,
// failing unless that is the only output and a 64-hex id.
func (e *env) lcRunDetached(args ...string) string {
	e.t.Helper()
	r := e.run(append([]string{"run", "-d"}, args...)...)
	if r.code != 0 {
		e.t.Fatalf("run -d %s: %s", strings.Join(args, " "), r)
	}
	id := strings.TrimSpace(r.stdout)
	if !lcFullID.MatchString(id) || r.stdout != id+"\n" {
		e.t.Fatalf("run -d %s: stdout %q, want one full 64-hex id line", strings.Join(args, " "), r.stdout)
	}
	return id
}

// lcWaitExited waits (bounded) until ref is no longer running and returns its
// inspect view.
func (e *env) lcWaitExited(ref string, timeout time.Duration) lcInspected {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := e.lcInspect(ref)
		if !d.State.Running {
			return d
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s still running after %s", ref, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lcRow is one line of `hutch ps` output, split in columns.
type lcRow []string

// lcPs runs ps with args and returns the header and the rows.
func (e *env) lcPs(args ...string) (header lcRow, rows []lcRow) {
	e.t.Helper()
	out := e.ok(append([]string{"ps"}, args...)...)
	lines := strings.Split(out, "\n")
	header = lcColumnSep.Split(strings.TrimSpace(lines[0]), -1)
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		rows = append(rows, lcColumnSep.Split(strings.TrimSpace(l), -1))
	}
	return header, rows
}

// lcFind returns the ps row of the container with short id sid (nil if absent).
func lcFind(rows []lcRow, sid string) lcRow {
	for _, r := range rows {
		if len(r) > 0 && r[0] == sid {
			return r
		}
	}
	return nil
}

// lcLines splits trimmed output in lines; "" gives none.
func lcLines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lcWaitUntil polls cond every 20 ms until it holds or timeout passes.
func lcWaitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lcAlive reports whether pid names a live (not zombie) process.
func lcAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the field after the last ')' (comm may hold spaces).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X'
}

// lcCmdline returns pid's argv joined by spaces ("" when gone).
func lcCmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// lcSettledMonitorPids is lcMonitorPids once it finds exactly one monitor,
// or what it finds after 3 s: a detached monitor execs its idle C half just
// after `run -d` returns, and a process in the middle of an execve has no
// argv to read.
func lcSettledMonitorPids(id string) []int {
	var mons []int
	lcWaitUntil(3*time.Second, func() bool { mons = lcMonitorPids(id); return len(mons) == 1 })
	return mons
}

// lcMonitorPids lists the live processes whose argv holds "_monitor" and id.
func lcMonitorPids(id string) []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("_monitor")) || !bytes.Contains(b, []byte(id)) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if lcAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// lcCgroupDirs lists the cgroup directories of container id, in any hierarchy.
func lcCgroupDirs(id string) []string {
	m, _ := filepath.Glob("/sys/fs/cgroup/*/hutch/" + id)
	m2, _ := filepath.Glob("/sys/fs/cgroup/hutch/" + id) // cgroup v2 only hosts
	return append(m, m2...)
}

// lcCgroupProcs is the container's v1 pids cgroup member list (nil if none).
func lcCgroupProcs(id string) []int {
	b, err := os.ReadFile("/sys/fs/cgroup/pids/hutch/" + id + "/cgroup.procs")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// lcProcStatus returns the named fields of /proc/<pid>/status ("self" allowed).
func lcProcStatus(t *testing.T, pid string, fields ...string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	return lcStatusFields(string(b), fields...)
}

// lcStatusFields picks "Name:\tvalue" fields out of /proc/*/status text.
func lcStatusFields(text string, fields ...string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		for _, f := range fields {
			if k == f {
				out[f] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// lcStarted is a hutch command running in the background.
type lcStarted struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// lcStart starts hutch args in the background; the test's cleanup kills it if
// it is still running.
func (e *env) lcStart(args ...string) *lcStarted {
	e.t.Helper()
	s := &lcStarted{cmd: e.command(args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		e.t.Fatalf("start hutch %v: %v", args, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// exited reports whether the command has ended.
func (s *lcStarted) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the command and returns its exit code (-1 on timeout).
func (s *lcStarted) wait(timeout time.Duration) int {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return -1
	}
	if ee, ok := s.err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if s.err != nil {
		return -2
	}
	return 0
}

// lcBusybox is the host's static busybox, used to build rootfs dirs.
func lcBusybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/busybox", "/bin/busybox", "/usr/local/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("no busybox on the host (install busybox-static)")
	return ""
}

// lcMinimalRootfs makes dir/bin/busybox (a copy of the host's static busybox)
// and dir/bin/sh -> busybox, enough to run `sh -c 'echo ok'`.
func lcMinimalRootfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(lcBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, "bin", "busybox"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(dir, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
}

// imgEntry is one entry of a tar made by imgTar.
type imgEntry struct {
	name     string
	typ      byte
	body     string // regular files
	linkname string // links
	mode     int64
}

// imgTar writes entries as a tar (gzip'd when path ends in .gz).
func imgTar(t *testing.T, path string, entries []imgEntry) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw = gzip.NewWriter(f)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, en := range entries {
		h := &tar.Header{Name: en.name, Typeflag: en.typ, Linkname: en.linkname, Mode: en.mode, Size: int64(len(en.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
			if en.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if en.typ != tar.TypeReg {
			h.Size = 0
		}
		if en.typ == tar.TypeChar || en.typ == tar.TypeBlock {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, en.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// imgRootfsEntries is a minimal runnable rootfs as tar entries: bin/busybox
// (the host's static busybox) and bin/sh -> busybox.
func imgRootfsEntries(t *testing.T) []imgEntry {
	t.Helper()
	b, err := os.ReadFile(lcBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	return []imgEntry{
		{name: "./", typ: tar.TypeDir},
		{name: "./bin/", typ: tar.TypeDir},
		{name: "./bin/busybox", typ: tar.TypeReg, body: string(b), mode: 0o755},
		{name: "./bin/sh", typ: tar.TypeSymlink, linkname: "busybox"},
	}
}

// imgLeftovers lists what is under <root>/images besides finished images
// named in keep and the lock file.
func imgLeftovers(root string, keep ...string) []string {
	ents, _ := os.ReadDir(filepath.Join(root, "images"))
	var out []string
	for _, en := range ents {
		n := en.Name()
		if n == ".lock" {
			continue
		}
		kept := false
		for _, k := range keep {
			kept = kept || n == k
		}
		if !kept {
			out = append(out, n)
		}
	}
	return out
}
