//go:build integration

package integration

// config.md's hooks: each kind runs at its step, in the runtime's or the
// container's namespace, in order, with the state on stdin; a failing
// prestart hook fails create and leaves nothing; a hook past its timeout
// fails.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ociHook records its name in dir/order, its stdin in dir/NAME.json and
// its mount namespace in dir/NAME.mnt.
func ociHook(dir, name string) specs.Hook {
	script := "echo " + name + " >> " + dir + "/order; readlink /proc/self/ns/mnt > " + dir + "/" + name + ".mnt; cat > " + dir + "/" + name + ".json"
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
}

func TestOCIHooks(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	dir := filepath.Join(e.dir, "hooks")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// startContainer runs in the container: its record goes to the
	// container's /tmp, which the program prints.
	spec := withTmp(shSpec("echo program; cat /tmp/order; cat /tmp/startContainer.json; echo; exec sleep 1000"))
	spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{ociHook(dir, "prestart")},
		CreateRuntime:   []specs.Hook{ociHook(dir, "createRuntime")},
		CreateContainer: []specs.Hook{ociHook(dir, "createContainer")},
		StartContainer:  []specs.Hook{ociHook("/tmp", "startContainer")},
		Poststop:        []specs.Hook{ociHook(dir, "poststop"), ociHook(dir, "poststop2")},
	}
	hostMnt := hostNS(t, "mnt")
	order := func() string { return strings.Join(strings.Fields(readFile(filepath.Join(dir, "order"))), " ") }
	state := func(name string) specs.State {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatalf("hook %s: %v (order so far %q)", name, err, order())
		}
		return ociHookState(t, name, b)
	}
	checkState := func(name string, st specs.State, c *ociCtr, statuses ...specs.ContainerState) {
		t.Helper()
		if st.ID != c.id || st.Bundle != c.bundle || st.Version == "" {
			t.Errorf("hook %s's state %+v, want id %s, bundle %s, ociVersion", name, st, c.id, c.bundle)
		}
		ok := false
		for _, s := range statuses {
			ok = ok || st.Status == s
		}
		if !ok {
			t.Errorf("hook %s's state status %q, want one of %q", name, st.Status, statuses)
		}
	}

	c := e.create("hooks", spec)
	if got := order(); got != "prestart createRuntime createContainer" {
		t.Errorf("hooks run by create: %q, want prestart createRuntime createContainer", got)
	}
	pid := c.state().Pid
	ctrMnt, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", "mnt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"prestart", "createRuntime", "createContainer"} {
		st := state(name)
		checkState(name, st, c, "creating", specs.StateCreated)
		if st.Pid <= 0 {
			t.Errorf("hook %s's state has no pid: %+v", name, st)
		}
	}
	// Where each ran: prestart and createRuntime in the runtime's
	// namespace, createContainer in the container's.
	for name, want := range map[string]string{"prestart": hostMnt, "createRuntime": hostMnt, "createContainer": ctrMnt} {
		if got := strings.TrimSpace(readFile(filepath.Join(dir, name+".mnt"))); got != want {
			t.Errorf("hook %s ran in mount namespace %s, want %s", name, got, want)
		}
	}

	c.start()
	c.waitOut("program")
	runWaitFor(t, 10*time.Second, "startContainer's record in the container's output", func() bool { return strings.Contains(c.out(), `"ociVersion"`) })
	out := strings.SplitN(c.out(), "\n", 3)
	if len(out) < 3 || out[1] != "startContainer" {
		t.Errorf("startContainer hook in the container: output %q, want its record", c.out())
	} else {
		checkState("startContainer", ociHookState(t, "startContainer", []byte(strings.TrimSpace(out[2]))), c, specs.StateCreated, specs.StateRunning)
	}

	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	if strings.Contains(order(), "poststop") {
		t.Errorf("poststop ran before delete: %q", order())
	}
	c.delete()
	if got := order(); got != "prestart createRuntime createContainer poststop poststop2" {
		t.Errorf("hooks after delete: %q, want poststop and poststop2 added", got)
	}
	checkState("poststop", state("poststop"), c, specs.StateStopped)
	if got := strings.TrimSpace(readFile(filepath.Join(dir, "poststop.mnt"))); got != hostMnt {
		t.Errorf("poststop ran in mount namespace %s, want the runtime's %s", got, hostMnt)
	}
}

// poststart hooks run after the user's program started, before start
// returns, in the runtime's namespace, in order, with the running state.
func TestOCIHookPoststart(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor("runc runs poststart hooks in create, status created (runc issue #1710; moved to start by runc PR #5186, 2026)", "runc")
	dir := filepath.Join(e.dir, "hooks")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := shSpec("exec sleep 1000")
	spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{ociHook(dir, "poststart"), ociHook(dir, "poststart2")}}
	c := e.create("poststart", spec)
	if got := readFile(filepath.Join(dir, "order")); got != "" {
		t.Errorf("hooks run by create: %q, want none", got)
	}
	pid := c.state().Pid
	c.start()
	if got := strings.Fields(readFile(filepath.Join(dir, "order"))); strings.Join(got, " ") != "poststart poststart2" {
		t.Errorf("hooks run by start: %q, want poststart poststart2", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, "poststart.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st := ociHookState(t, "poststart", b); st.ID != c.id || st.Status != specs.StateRunning || st.Pid != pid || st.Bundle != c.bundle {
		t.Errorf("poststart's state %+v, want id %s, running, pid %d, bundle %s", st, c.id, pid, c.bundle)
	}
	if got := strings.TrimSpace(readFile(filepath.Join(dir, "poststart.mnt"))); got != hostNS(t, "mnt") {
		t.Errorf("poststart ran in mount namespace %s, want the runtime's", got)
	}
}

func ociHookState(t *testing.T, name string, b []byte) specs.State {
	t.Helper()
	var st specs.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("hook %s's stdin is not the state: %v: %q", name, err, b)
	}
	return st
}

// A failing prestart, createRuntime or createContainer hook fails create:
// an error, the hooks after it not run, poststop run, and no container,
// state, cgroup, mount or process left.
func TestOCIHookFails(t *testing.T) {
	t.Parallel()
	exit1 := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 1"}}
	for _, tc := range []struct {
		name string
		hook specs.Hook
		kind string // which create-time hook list it is in
	}{
		{"prestart-exit-1", exit1, "prestart"},
		{"prestart-timeout", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exec sleep 30"}, Timeout: ptrInt(1)}, "prestart"},
		{"prestart-no-such-path", specs.Hook{Path: "/nonexistent/hook"}, "prestart"},
		{"createRuntime-exit-1", exit1, "createRuntime"},
		{"createContainer-exit-1", exit1, "createContainer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOCIEnv(t)
			dir := filepath.Join(e.dir, "hooks")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			spec := shSpec("echo program ran")
			spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{ociHook(dir, "poststop")}}
			hooks := []specs.Hook{tc.hook, ociHook(dir, "after")}
			switch tc.kind {
			case "prestart":
				spec.Hooks.Prestart = hooks
			case "createRuntime":
				spec.Hooks.CreateRuntime = hooks
			case "createContainer":
				spec.Hooks.CreateContainer = hooks
			}
			c, r := e.tryCreate("hookfail", spec)
			e.checkFailed(r, "create", c.id)
			if e.exists(c.id) {
				t.Errorf("state %s works after a failed create", c.id)
			}
			if leaks := e.leftovers(c.id); len(leaks) > 0 {
				t.Errorf("after a failed create: %v", leaks)
			}
			if got := readFile(filepath.Join(dir, "order")); strings.Contains(got, "after") {
				t.Errorf("hooks after the failing one ran: %q", got)
			}
			// The lifecycle goes on at delete: poststop hooks run.
			if got := strings.Fields(readFile(filepath.Join(dir, "order"))); strings.Join(got, " ") != "poststop" {
				t.Errorf("hooks after a failing %s hook: %q, want poststop only", tc.kind, got)
			}
			if strings.Contains(c.out(), "program ran") {
				t.Errorf("the program ran: %q", c.out())
			}
		})
	}
}

func ptrInt(v int) *int { return &v }

// A failing startContainer hook fails start: the program does not run and
// the container is stopped.
func TestOCIHookStartContainerFails(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := shSpec("echo program ran")
	spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 1"}}}}
	c := e.create("scfail", spec)
	r := e.run("start", c.id)
	if e.name == "runc" {
		// runc runs the hook in its init after start has returned 0.
		t.Logf("runc: start exits 0 though the startContainer hook failed: %s", r)
	} else {
		e.checkFailed(r, "start", c.id)
	}
	if e.exists(c.id) {
		c.waitStatus(specs.StateStopped)
		c.delete()
	}
	if strings.Contains(c.out(), "program ran") {
		t.Errorf("the program ran after its startContainer hook failed: %q", c.out())
	}
}
