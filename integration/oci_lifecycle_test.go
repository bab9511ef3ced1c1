//go:build integration

package integration

// runtime.md: the lifecycle, the state and the errors of each operation.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// create → created (a pid, the user's program not run, config.json read
// once); start → running; the process exits → stopped; delete → gone.
func TestOCILifecycle(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	spec := shSpec("echo user-program-ran; exec sleep 1000")
	spec.Annotations = map[string]string{"org.example.key": "value"}
	c := e.create("life", spec)

	raw := e.ok("state", c.id)
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatalf("state: %v: %q", err, raw)
	}
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("state %s has no %q (REQUIRED)", raw, k)
		}
	}
	st := c.state()
	if st.Version == "" || st.ID != c.id || st.Status != specs.StateCreated || st.Pid <= 0 {
		t.Errorf("state after create = %+v, want ociVersion, id %s, status created, a pid", st, c.id)
	}
	if st.Bundle != c.bundle || !filepath.IsAbs(st.Bundle) {
		t.Errorf("state bundle = %q, want the absolute path %q", st.Bundle, c.bundle)
	}
	if st.Annotations["org.example.key"] != "value" {
		t.Errorf("state annotations = %v, want config.json's", st.Annotations)
	}
	// Created: the container process exists but has not run process.args.
	if !ociLive(st.Pid) {
		t.Errorf("created container's pid %d is not a live process", st.Pid)
	}
	if cl := lcCmdline(st.Pid); strings.Contains(cl, "user-program-ran") || strings.Contains(cl, "sleep") {
		t.Errorf("created container's process runs %q before start", cl)
	}
	if out := c.out(); out != "" {
		t.Errorf("output %q before start, want none", out)
	}

	// Changes to config.json after create do not affect the container.
	e.writeSpec(c.bundle, shSpec("echo changed-config; exec sleep 1000"))

	c.start()
	c.waitOut("user-program-ran")
	if st2 := c.state(); st2.Status != specs.StateRunning || st2.Pid != st.Pid {
		t.Errorf("state after start = %+v, want running with pid %d", st2, st.Pid)
	}
	if strings.Contains(c.out(), "changed-config") {
		t.Errorf("config.json edited after create took effect: output %q", c.out())
	}
	runWaitFor(t, 10*time.Second, "the user's program as the container process", func() bool {
		return strings.HasPrefix(lcCmdline(st.Pid), "sleep")
	})

	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	c.delete()
	if r := e.fails("state", c.id); r.code == 0 {
		t.Errorf("state of a deleted container succeeded")
	}
	if leaks := e.leftovers(c.id); len(leaks) > 0 {
		t.Errorf("after delete: %v", leaks)
	}
}

// The process exiting by itself makes the container stopped; a stopped
// container can be deleted and its id used again.
func TestOCIExitStops(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("exit", shSpec("echo bye"))
	c.start()
	c.waitStatus(specs.StateStopped)
	if c.out() != "bye\n" {
		t.Errorf("output %q, want bye", c.out())
	}
	c.delete()
	again := e.create("exit", shSpec("echo again"))
	again.start()
	again.waitStatus(specs.StateStopped)
	again.delete()
	if again.out() != "again\n" {
		t.Errorf("second container of the same id: output %q", again.out())
	}
}

// Each operation in a state where the spec forbids it fails (non-zero exit,
// one line of error) and has no effect on the container.
func TestOCIStateErrors(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	unknown := e.id("nosuch")
	for _, op := range [][]string{
		{"state", unknown}, {"start", unknown}, {"kill", unknown, "KILL"}, {"delete", unknown},
		{"pause", unknown}, {"resume", unknown}, {"ps", unknown}, {"exec", unknown, "true"},
	} {
		e.fails(op...)
	}
	e.fails("state") // no id

	c := e.create("errs", shSpec("exec sleep 1000"))
	pid := c.state().Pid

	// create of an id that exists: error, the first container untouched.
	dup, r := e.tryCreate("errs-dup", shSpec("true"))
	if r.code != 0 {
		t.Fatalf("create errs-dup: %s", r)
	}
	other := e.bundle(c.id+"-other", shSpec("true"))
	e.fails("create", "--bundle", other, c.id)
	if st := c.state(); st.Status != specs.StateCreated || st.Pid != pid {
		t.Errorf("after a second create of %s: state %+v, want created, pid %d", c.id, st, pid)
	}
	e.ok("delete", "--force", dup.id)

	c.start()
	c.waitStatus(specs.StateRunning)
	e.fails("start", c.id)
	e.fails("delete", c.id)
	if st := c.state(); st.Status != specs.StateRunning || st.Pid != pid || !ociLive(pid) {
		t.Errorf("after start and delete of a running container: state %+v, want running, pid %d", st, pid)
	}

	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	e.fails("start", c.id)
	e.fails("kill", c.id, "KILL")
	if st := c.state(); st.Status != specs.StateStopped {
		t.Errorf("after start and kill of a stopped container: state %+v, want stopped", st)
	}
	c.delete()
}

// kill sends the signal given to the container process.
func TestOCIKillSignal(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("sig", shSpec(`trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.05; done`))
	c.start()
	c.waitOut("ready")
	e.ok("kill", c.id, "USR1")
	c.waitOut("got USR1")
	c.waitStatus(specs.StateStopped)
	// Numbers name signals too.
	c2 := e.create("sig2", shSpec(`trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`))
	c2.start()
	c2.waitOut("ready")
	e.ok("kill", c2.id, "15")
	c2.waitOut("got TERM")
	c2.waitStatus(specs.StateStopped)
}

// kill of a created container is allowed and stops it.
func TestOCIKillCreated(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("kc", shSpec("echo never"))
	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	if c.out() != "" {
		t.Errorf("a container killed before start ran its program: %q", c.out())
	}
	c.delete()
}

// delete --force kills a running container and removes it.
func TestOCIDeleteForce(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("force", shSpec("exec sleep 1000"))
	c.start()
	pid := c.state().Pid
	c.delete("--force")
	if ociLive(pid) {
		t.Errorf("process %d alive after delete --force", pid)
	}
	e.fails("state", c.id)
	if leaks := e.leftovers(c.id); len(leaks) > 0 {
		t.Errorf("after delete --force: %v", leaks)
	}
	// A created container too.
	c2 := e.create("force2", shSpec("true"))
	c2.delete("--force")
	e.fails("state", c2.id)
}

// delete of a created container (not stopped) fails and leaves it.
func TestOCIDeleteCreated(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	// runtime.md says a delete of a container that is not stopped fails;
	// runc deletes a created one (its process never ran the program) by
	// killing it first, and containerd's shim deletes a created container
	// that way. hutch-runc does as runc: the user's program never runs.
	c := e.create("delcreated", shSpec("echo ran"))
	pid := c.state().Pid
	e.ok("delete", c.id)
	if e.exists(c.id) {
		t.Errorf("delete of a created container: it still exists")
	}
	runWaitFor(t, 10*time.Second, "the created container's process to go", func() bool { return !ociLive(pid) })
	if c.out() != "" {
		t.Errorf("output %q: the program ran", c.out())
	}
}

// run --bundle creates, starts and waits; its exit code is the process's.
func TestOCIRun(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	id := e.id("run")
	b := e.bundle(id, shSpec("echo via-run; exit 3"))
	r := e.run("run", "--bundle", b, id)
	if r.code != 3 || r.stdout != "via-run\n" {
		t.Errorf("run: %s, want exit 3 and the output", r)
	}
	if e.exists(id) {
		e.ok("delete", id)
	}
}
