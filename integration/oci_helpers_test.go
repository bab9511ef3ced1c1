//go:build integration

package integration

// Helpers of the OCI runtime-spec conformance tests (oci_*_test.go). They
// drive any runc-compatible binary: $OCI_RUNTIME if set (e.g. /usr/sbin/runc),
// else hutch under the name hutch-runc. Each test has its own --root and
// scratch dir; its cleanup deletes (--force) every container it made and
// fails the test if a state entry, process, cgroup or mount is left.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ociCgroupParent is the cgroup every test container is put under (one
// directory per container below it, named after its unique id).
const ociCgroupParent = "/hutch-oci-test"

// ociEnv is one runtime instance under test: its binary and own --root.
type ociEnv struct {
	t    *testing.T
	bin  string
	name string // the runtime's base name: runc, crun, hutch-runc
	root string // the runtime's --root
	dir  string // scratch: bundles, sockets, hook output (short: socket paths)
	tag  string // makes ids (and so cgroups) unique on the host
	// wrap, if set, runs create through it (the runtime and its arguments
	// follow), to give the runtime a different environment.
	wrap []string

	mu   sync.Mutex
	ids  []string
	pids []int
}

func newOCIEnv(t *testing.T) *ociEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "oci-")
	if err != nil {
		t.Fatal(err)
	}
	// A user-namespaced container's root must reach its bundle.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	e := &ociEnv{t: t, dir: dir, root: filepath.Join(dir, "state"), tag: hex.EncodeToString(b)}
	e.bin = os.Getenv("OCI_RUNTIME")
	if e.bin == "" {
		// hutch speaks runc's command line when called hutch-runc.
		e.bin = filepath.Join(dir, "hutch-runc")
		if err := os.Symlink(hutchBin, e.bin); err != nil {
			t.Fatal(err)
		}
	}
	e.name = filepath.Base(e.bin)
	t.Cleanup(e.cleanup)
	return e
}

// skipFor skips the test when the runtime under test is one of names
// (what the spec asks but that runtime does not do: why says so).
func (e *ociEnv) skipFor(why string, names ...string) {
	e.t.Helper()
	if slices.Contains(names, e.name) {
		e.t.Skipf("%s: %s", e.name, why)
	}
}

// id is a container id unique on the host, and remembered for cleanup.
func (e *ociEnv) id(name string) string {
	id := name + "-" + e.tag
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.ids, id) {
		e.ids = append(e.ids, id)
	}
	return id
}

func (e *ociEnv) run(args ...string) result {
	e.t.Helper()
	r, err := execHutch(e.bin, e.root, "", nil, args...)
	if err != nil {
		e.t.Fatalf("%s %v: %v (%s)", e.name, args, err, r)
	}
	return r
}

// ok runs the runtime, fails the test unless it exits 0, returns stdout.
func (e *ociEnv) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("%s %s: %s", e.name, strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs the runtime and checks that it fails with one line on stderr.
func (e *ociEnv) fails(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	e.checkFailed(r, args...)
	return r
}

func (e *ociEnv) checkFailed(r result, args ...string) {
	e.t.Helper()
	if r.code == 0 {
		e.t.Errorf("%s %s: %s, want a failure", e.name, strings.Join(args, " "), r)
		return
	}
	if n := len(runLines(r.stderr)); n != 1 {
		e.t.Errorf("%s %s: stderr %q, want one line of error", e.name, strings.Join(args, " "), r.stderr)
	}
}

// defaultSpec is what `runc spec` writes, but without a terminal and
// running args.
func defaultSpec(args ...string) *specs.Spec {
	defCaps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.0.2-dev",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: defCaps, Effective: defCaps, Permitted: defCaps, Ambient: defCaps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runc",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// shSpec is defaultSpec running script with sh -c.
func shSpec(script string) *specs.Spec { return defaultSpec("sh", "-c", script) }

// withTmp adds a writable tmpfs at /tmp (the default root is read-only).
func withTmp(s *specs.Spec) *specs.Spec {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
	return s
}

var ociApplets = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command("busybox", "--list").Output()
	return strings.Fields(string(out)), err
})

// bundle writes dir/<id>/{config.json,rootfs} for spec (its cgroupsPath
// set to one of its own) and returns the bundle's path. The rootfs is the
// host's static busybox with a link per applet.
func (e *ociEnv) bundle(id string, spec *specs.Spec) string {
	e.t.Helper()
	b := filepath.Join(e.dir, id)
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(lcBusybox(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), bb, 0o755); err != nil {
		e.t.Fatal(err)
	}
	applets, err := ociApplets()
	if err != nil {
		e.t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range applets {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
		}
	}
	if spec.Linux != nil && spec.Linux.CgroupsPath == "" {
		spec.Linux.CgroupsPath = ociCgroupParent + "/" + id
	}
	e.writeSpec(b, spec)
	return b
}

func (e *ociEnv) writeSpec(bundle string, spec *specs.Spec) {
	e.t.Helper()
	j, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), j, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// ociCtr is one container made by create.
type ociCtr struct {
	e       *ociEnv
	id      string
	bundle  string
	outPath string // the container's stdout and stderr (files)
	errPath string
}

// create makes a bundle for spec and creates container name from it, its
// stdout and stderr going to files (stdin /dev/null); the test fails if
// create does.
func (e *ociEnv) create(name string, spec *specs.Spec, flags ...string) *ociCtr {
	e.t.Helper()
	c, r := e.tryCreate(name, spec, flags...)
	if r.code != 0 {
		e.t.Fatalf("%s create %s: %s", e.name, c.id, r)
	}
	return c
}

// tryCreate is create that returns what create did; the runtime's own
// stderr is in r.stderr (and in the container's stderr file).
func (e *ociEnv) tryCreate(name string, spec *specs.Spec, flags ...string) (*ociCtr, result) {
	e.t.Helper()
	id := e.id(name)
	c := &ociCtr{e: e, id: id, bundle: e.bundle(id, spec)}
	c.outPath, c.errPath = filepath.Join(e.dir, id+".out"), filepath.Join(e.dir, id+".err")
	r := e.createWithStdio(c, flags...)
	return c, r
}

func (e *ociEnv) createWithStdio(c *ociCtr, flags ...string) result {
	e.t.Helper()
	return e.createWithFiles(c, nil, flags...)
}

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
	// Files, not buffers: the container keeps them open after create
	// returns, and exec.Cmd would wait for a pipe's end.
	args := append(append([]string{"--root", e.root, "create", "--bundle", c.bundle}, flags...), c.id)
	cmd := exec.Command(e.bin, args...)
	if len(e.wrap) > 0 {
		cmd = exec.Command(e.wrap[0], append(append(e.wrap[1:], e.bin), args...)...)
	}
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = out, errf, extra
	runErr := e.runTimeout(cmd)
	r := result{stderr: readFile(c.errPath)}
	if ee, ok := runErr.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if runErr != nil {
		e.t.Fatalf("%s create %s: %v", e.name, c.id, runErr)
	}
	if r.code == 0 {
		e.notePid(c.state().Pid)
	}
	return r
}

// runTimeout runs cmd, killing it after 60 s.
func (e *ociEnv) runTimeout(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	return cmd.Wait()
}

func (e *ociEnv) notePid(pid int) {
	if pid > 0 {
		e.mu.Lock()
		e.pids = append(e.pids, pid)
		e.mu.Unlock()
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// state runs `state` and decodes it.
func (c *ociCtr) state() specs.State {
	c.e.t.Helper()
	return c.e.state(c.id)
}

func (e *ociEnv) state(id string) specs.State {
	e.t.Helper()
	out := e.ok("state", id)
	var st specs.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		e.t.Fatalf("state %s: %v: %q", id, err, out)
	}
	return st
}

func (c *ociCtr) start() {
	c.e.t.Helper()
	c.e.ok("start", c.id)
}

// out is what the container wrote to its stdout so far.
func (c *ociCtr) out() string { return readFile(c.outPath) }

// waitOut waits until the container's stdout holds want.
func (c *ociCtr) waitOut(want string) {
	c.e.t.Helper()
	runWaitFor(c.e.t, 10*time.Second, fmt.Sprintf("%q in %s's output (stderr %q)", want, c.id, readFile(c.errPath)),
		func() bool { return strings.Contains(c.out(), want) })
}

// waitStatus waits until the container's state says status.
func (c *ociCtr) waitStatus(status specs.ContainerState) {
	c.e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := c.state()
		if st.Status == status {
			return
		}
		if time.Now().After(deadline) {
			c.e.t.Fatalf("%s: status %q after 10 s, want %q (stderr %q)", c.id, st.Status, status, readFile(c.errPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *ociCtr) delete(flags ...string) {
	c.e.t.Helper()
	c.e.ok(append(append([]string{"delete"}, flags...), c.id)...)
}

// runSpec creates and starts a container from spec, waits until it stops,
// deletes it and returns its stdout; its stderr, if any, is logged.
func (e *ociEnv) runSpec(name string, spec *specs.Spec) string {
	e.t.Helper()
	c := e.create(name, spec)
	c.start()
	c.waitStatus(specs.StateStopped)
	c.delete()
	if s := readFile(c.errPath); s != "" {
		e.t.Logf("%s stderr: %s", c.id, s)
	}
	return c.out()
}

// cleanup deletes every container of the env and checks that nothing of
// them is left.
func (e *ociEnv) cleanup() {
	t := e.t
	for _, id := range e.ids {
		if e.exists(id) {
			if r, err := execHutch(e.bin, e.root, "", nil, "delete", "--force", id); err != nil || r.code != 0 {
				t.Errorf("cleanup: delete --force %s: %v %s", id, err, r)
			}
		}
	}
	if leaks := e.leftovers(e.ids...); len(leaks) > 0 {
		for _, leak := range leaks {
			t.Errorf("leak: %s", leak)
		}
		e.sweep()
	}
	if os.Getenv("OCI_RUNTIME") == "" {
		// As every hutch env ends.
		if r, err := execHutch(hutchBin, e.root, "", nil, "system", "reset", "-f"); err != nil || r.code != 0 {
			t.Errorf("cleanup: system reset: %v %s", err, r)
		}
	}
	os.RemoveAll(e.dir)
}

// sweep undoes what a runtime left behind, best effort, so that a failed
// test does not leave processes and cgroups on the host: it kills the
// processes this env saw, then removes the containers' cgroups.
func (e *ociEnv) sweep() {
	e.mu.Lock()
	pids := slices.Clone(e.pids)
	e.mu.Unlock()
	for _, pid := range pids {
		if ociLive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, id := range e.ids {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + ociCgroupParent + "/" + id)
		if v2, _ := filepath.Glob("/sys/fs/cgroup" + ociCgroupParent + "/" + id); len(v2) > 0 {
			dirs = append(dirs, v2...)
		}
		for _, d := range dirs {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(20 * time.Millisecond) // until the killed processes are gone
			}
		}
	}
}

// exists says whether the runtime knows container id.
func (e *ociEnv) exists(id string) bool {
	r, err := execHutch(e.bin, e.root, "", nil, "state", id)
	return err == nil && r.code == 0
}

// leftovers lists what of containers ids is left on the host: a state
// entry under --root, a process, a cgroup, a mount of the env's dir.
func (e *ociEnv) leftovers(ids ...string) []string {
	var out []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		out = out[:0]
		filepath.WalkDir(e.root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && slices.Contains(ids, d.Name()) {
				out = append(out, "state entry "+p)
			}
			return nil
		})
		e.mu.Lock()
		for _, pid := range e.pids {
			if ociLive(pid) {
				out = append(out, fmt.Sprintf("process %d: %q", pid, lcCmdline(pid)))
			}
		}
		e.mu.Unlock()
		// Processes no state named: any whose root is in a bundle.
		roots, _ := filepath.Glob("/proc/[0-9]*/root")
		for _, r := range roots {
			if l, err := os.Readlink(r); err == nil && strings.HasPrefix(l, e.dir+"/") {
				out = append(out, fmt.Sprintf("process %s with root %s", filepath.Dir(r), l))
			}
		}
		for _, id := range ids {
			if m, _ := filepath.Glob("/sys/fs/cgroup/*" + ociCgroupParent + "/" + id); len(m) > 0 {
				out = append(out, "cgroup "+m[0])
			}
			if m, _ := filepath.Glob("/sys/fs/cgroup" + ociCgroupParent + "/" + id); len(m) > 0 {
				out = append(out, "cgroup "+m[0])
			}
		}
		if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), e.dir) {
			out = append(out, "mount under "+e.dir)
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ociLive says whether pid is a process that is not a zombie.
func ociLive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// hostNS is the link of this process's namespace of kind (net, pid, ...).
func hostNS(t *testing.T, kind string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// procLines reads /proc/<pid>/<file> of a container from the host.
func procFile(t *testing.T, pid int, file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
