//go:build integration

package integration

import (
	"strings"
	"testing"
)

func TestRunEchoAndExitCode(t *testing.T) {
	e := newEnv(t)
	if got := e.ok("run", "--rm", "busybox", "echo", "hello"); got != "hello" {
		t.Errorf("run echo = %q, want hello", got)
	}
	r := e.run("run", "--rm", "busybox", "sh", "-c", "exit 3")
	if r.code != 3 {
		t.Errorf("run exit 3: %s", r)
	}
	if got := e.ok("run", "--rm", "busybox", "sh", "-c", "echo $$"); got != "1" {
		t.Errorf("container command pid = %q, want 1", got)
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("--rm left containers %v", ids)
	}
	if out := e.ok("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("ps -aq after --rm runs = %q", out)
	}
}
