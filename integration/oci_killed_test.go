//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A create killed -9 midway (here while its prestart hook runs: the cgroup
// and the init exist) leaves a record that names what it made; delete
// then removes all of it.
func TestOCICreateKilled(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.skipFor("runc 1.1.5 loses track of a create killed midway (its state.json is written last)", "runc")
	dir := filepath.Join(e.dir, "killed")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := shSpec("echo ran")
	// The hook says its pid, then becomes a sleep of that pid (no child of
	// its own to leave behind when the test kills it).
	script := "echo $$ > " + dir + "/hook.pid; exec sleep 60"
	spec.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", script}}}}
	id := e.id("killed")
	bundle := e.bundle(id, spec)
	cmd := exec.Command(e.bin, "--root", e.root, "create", "--bundle", bundle, id)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var hookPid int
	runWaitFor(t, 20*time.Second, "the prestart hook", func() bool {
		hookPid, _ = strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(dir, "hook.pid"))))
		return hookPid > 0
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	syscall.Kill(hookPid, syscall.SIGKILL) // the hook is the killed create's child, not the runtime's to stop
	if st := e.state(id); st.Status != "creating" {
		t.Errorf("state after create was killed: %q, want creating", st.Status)
	}
	e.ok("delete", id)
	if left := e.leftovers(id); len(left) > 0 {
		t.Errorf("after delete of a killed create: %v", left)
	}
}
