//go:build integration

package integration

// The runc command line beyond the lifecycle: exec, ps, create's
// --pid-file, features and spec.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// exec runs a process in the container's namespaces; its exit code is
// exec's; --process gives the whole process; --detach returns at once.
func TestOCIExec(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := withTmp(shSpec("echo init-was-here > /tmp/mark; echo ready; exec sleep 1000"))
	spec.Hostname = "exec-host"
	pidFile := filepath.Join(e.dir, "init.pid")
	c := e.create("exec", spec, "--pid-file", pidFile)
	initPid := c.state().Pid
	if got := strings.TrimSpace(readFile(pidFile)); got != strconv.Itoa(initPid) {
		t.Errorf("create --pid-file wrote %q, want the container's pid %d", got, initPid)
	}
	c.start()
	c.waitOut("ready")

	// args; the container's namespaces and files; the exit code.
	r := e.run("exec", c.id, "sh", "-c", `hostname; cat /tmp/mark; echo "$1"; exit 5`, "x", "an arg")
	if r.code != 5 || r.stdout != "exec-host\ninit-was-here\nan arg\n" {
		t.Errorf("exec: %s, want exit 5 and the container's hostname, file and the arg", r)
	}
	if r := e.run("exec", c.id, "true"); r.code != 0 {
		t.Errorf("exec true: %s", r)
	}
	if r := e.run("exec", c.id, "sh", "-c", "kill -KILL $$"); r.code != 137 {
		t.Errorf("exec of a process killed by SIGKILL: %s, want exit 137", r)
	}
	if r := e.run("exec", c.id, "no-such-program"); r.code == 0 {
		t.Errorf("exec of a missing program: %s, want a failure", r)
	}

	// --process: args, env, cwd, user from a process.json.
	p := specs.Process{
		Args: []string{"sh", "-c", `echo "$FOO"; pwd; id -u; id -g`},
		Env:  []string{"PATH=/bin", "FOO=from-process-json"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1001},
	}
	pj, _ := json.Marshal(p)
	pf := filepath.Join(e.dir, "process.json")
	if err := os.WriteFile(pf, pj, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run("exec", "--process", pf, c.id); r.code != 0 || r.stdout != "from-process-json\n/tmp\n1000\n1001\n" {
		t.Errorf("exec --process: %s, want its env, cwd and user", r)
	}

	// --detach --pid-file: returns while the process runs.
	dpid := e.execDetached(c.id, "sh", "-c", "echo detached > /tmp/detached; exec sleep 1000")
	runWaitFor(t, 10*time.Second, "the detached process's file", func() bool {
		return e.run("exec", c.id, "cat", "/tmp/detached").stdout == "detached\n"
	})

	// ps --format json lists the container's processes: init and the
	// detached one.
	var pids []int
	out := e.ok("ps", "--format", "json", c.id)
	if err := json.Unmarshal([]byte(out), &pids); err != nil {
		t.Fatalf("ps --format json: %v: %q", err, out)
	}
	if !slices.Contains(pids, initPid) || !slices.Contains(pids, dpid) {
		t.Errorf("ps --format json = %v, want the init pid %d and the exec'd %d", pids, initPid, dpid)
	}
	// A killed container's processes are gone with it (its pid namespace).
	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	e.fails("exec", c.id, "true")
	c.delete()
	if ociLive(dpid) {
		t.Errorf("exec'd process %d alive after the container stopped", dpid)
	}
}

// execDetached runs exec --detach --pid-file and returns the pid the file
// names, which must be a live process.
func (e *ociEnv) execDetached(id string, args ...string) int {
	e.t.Helper()
	pidFile := filepath.Join(e.dir, "exec.pid")
	os.Remove(pidFile)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer devnull.Close()
	cmd := exec.Command(e.bin, append([]string{"--root", e.root, "exec", "--detach", "--pid-file", pidFile, id}, args...)...)
	// Not pipes: the detached process keeps its stdio after exec returns.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := e.runTimeout(cmd); err != nil {
		e.t.Fatalf("exec --detach: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(pidFile)))
	if err != nil || !ociLive(pid) {
		e.t.Fatalf("exec --detach --pid-file: %q: %v, want the pid of a live process", readFile(pidFile), err)
	}
	e.notePid(pid)
	return pid
}

// kill --all signals every process of the container: without a pid
// namespace, killing the init alone would leave the exec'd one.
func TestOCIKillAll(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := shSpec("exec sleep 1000")
	spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.PIDNamespace })
	c := e.create("killall", spec)
	c.start()
	initPid := c.state().Pid
	other := e.execDetached(c.id, "sleep", "1000")
	e.ok("kill", "--all", c.id, "KILL")
	runWaitFor(t, 10*time.Second, "kill --all to kill both processes", func() bool { return !ociLive(initPid) && !ociLive(other) })
	c.waitStatus(specs.StateStopped)
	c.delete()
}

// features prints what the runtime supports as the spec's features JSON.
func TestOCIFeatures(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	out := e.ok("features")
	var f features.Features
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features: %v: %q", err, out)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax == "" {
		t.Errorf("features: ociVersionMin %q, ociVersionMax %q, want both", f.OCIVersionMin, f.OCIVersionMax)
	}
	for _, h := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if !slices.Contains(f.Hooks, h) {
			t.Errorf("features: hooks %v, want %s", f.Hooks, h)
		}
	}
	for _, o := range []string{"bind", "rbind", "ro", "nosuid", "rslave", "rprivate"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("features: mountOptions %v, want %s", f.MountOptions, o)
		}
	}
	if f.Linux == nil {
		t.Fatalf("features: no linux: %q", out)
	}
	for _, ns := range []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"} {
		if !slices.Contains(f.Linux.Namespaces, ns) {
			t.Errorf("features: linux.namespaces %v, want %s", f.Linux.Namespaces, ns)
		}
	}
	if !slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") {
		t.Errorf("features: linux.capabilities %v, want CAP_SYS_ADMIN", f.Linux.Capabilities)
	}
}

// features names what hutch-runc added over runc 1.1.5: the time
// namespace, idmapped mounts and their options, memory policies; and says
// what it refuses.
func TestOCIFeaturesLater(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor("runc 1.1.5 has no time namespace, idmapped mounts, memoryPolicy or netDevices", "runc")
	var f features.Features
	if err := json.Unmarshal([]byte(e.ok("features")), &f); err != nil {
		t.Fatal(err)
	}
	if f.Linux == nil || !slices.Contains(f.Linux.Namespaces, "time") {
		t.Fatalf("features: linux %+v, want the time namespace", f.Linux)
	}
	if m := f.Linux.MountExtensions; m == nil || m.IDMap == nil || m.IDMap.Enabled == nil || !*m.IDMap.Enabled {
		t.Errorf("features: linux.mountExtensions %+v, want idmap enabled", m)
	}
	for _, o := range []string{"idmap", "ridmap"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("features: mountOptions %v, want %s", f.MountOptions, o)
		}
	}
	if n := f.Linux.NetDevices; n == nil || n.Enabled == nil || *n.Enabled {
		t.Errorf("features: linux.netDevices %+v, want enabled false (refused)", n)
	}
	if m := f.Linux.MemoryPolicy; m == nil || !slices.Contains(m.Modes, "MPOL_BIND") || !slices.Contains(m.Flags, "MPOL_F_STATIC_NODES") {
		t.Errorf("features: linux.memoryPolicy %+v, want its modes and flags", m)
	}
}

// spec writes a config.json that create accepts (with a rootfs and no
// terminal, as there is no console socket).
func TestOCISpec(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	id := e.id("spec")
	b := e.bundle(id, defaultSpec("true"))
	if err := os.Remove(filepath.Join(b, "config.json")); err != nil {
		t.Fatal(err)
	}
	e.ok("spec", "--bundle", b)
	raw, err := os.ReadFile(filepath.Join(b, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("spec wrote no runtime spec: %v\n%s", err, raw)
	}
	if s.Version == "" || s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil || len(s.Process.Args) == 0 || s.Linux == nil {
		t.Fatalf("spec: %s, want ociVersion, root rootfs, a process, linux", raw)
	}
	s.Process.Terminal = false
	s.Linux.CgroupsPath = ociCgroupParent + "/" + id
	e.writeSpec(b, &s)
	c := &ociCtr{e: e, id: id, bundle: b, outPath: filepath.Join(e.dir, id+".out"), errPath: filepath.Join(e.dir, id+".err")}
	if r := e.createWithStdio(c); r.code != 0 {
		t.Fatalf("create from spec's config.json: %s", r)
	}
	c.start()
	c.waitStatus(specs.StateStopped) // sh, stdin /dev/null: exits
	c.delete()
}

// The global options containerd's shim passes: --log FILE --log-format
// json (the runtime's messages go to the file as JSON objects with level
// and msg) and --debug; a create through them works, and a failing one
// logs its error there.
func TestOCIGlobalLogOptions(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	logFile := filepath.Join(e.dir, "log.json")
	global := []string{"--log", logFile, "--log-format", "json", "--debug"}

	id := e.id("logok")
	c := &ociCtr{e: e, id: id, bundle: e.bundle(id, shSpec("echo logged")), outPath: filepath.Join(e.dir, "logok.out"), errPath: filepath.Join(e.dir, "logok.err")}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	out, err := os.Create(c.outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(e.bin, append(append([]string{"--root", e.root}, global...), "create", "--bundle", c.bundle, id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	if err := e.runTimeout(cmd); err != nil {
		t.Fatalf("create with %v: %v: %s", global, err, readFile(logFile))
	}
	e.notePid(c.state().Pid)
	if r := e.run(append(global, "start", id)...); r.code != 0 {
		t.Fatalf("start with %v: %s", global, r)
	}
	c.waitStatus(specs.StateStopped)
	c.delete()
	if c.out() != "logged\n" {
		t.Errorf("output %q, want logged", c.out())
	}

	bad := e.id("logbad")
	b := e.bundle(bad, shSpec("true"))
	if err := os.RemoveAll(filepath.Join(b, "rootfs")); err != nil {
		t.Fatal(err)
	}
	os.Truncate(logFile, 0)
	if r := e.run(append(global, "create", "--bundle", b, bad)...); r.code == 0 {
		t.Fatalf("create without a rootfs: %s, want a failure", r)
	}
	lines := runLines(readFile(logFile))
	nErr := 0
	for _, l := range lines {
		var m struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Level == "" || m.Msg == "" {
			t.Errorf("log line %q is not a JSON object with level and msg (%v)", l, err)
		}
		if m.Level == "error" {
			nErr++
		}
	}
	if nErr == 0 {
		t.Errorf("log %q, want the error at level error", lines)
	}
}
