//go:build integration

package integration

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLifecycleDetachedPs: run -d prints the full id of a container that is
// already running; ps has Docker's columns and lists running containers, ps -a
// also exited and created ones, -q only short ids.
func TestLifecycleDetachedPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	up := e.lcRunDetached("--name", "up", "busybox", "sleep", "100")
	// Right after run -d returns, the container runs: no polling allowed here.
	header, rows := e.lcPs()
	wantHeader := lcRow{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}
	if !slices.Equal(header, wantHeader) {
		t.Errorf("ps header = %q, want %q", header, wantHeader)
	}
	row := lcFind(rows, up[:12])
	if row == nil {
		t.Fatalf("ps right after run -d does not list %s: %q", up[:12], rows)
	}
	// PORTS is empty, so the row has 6 cells: id, image, command, created, status, names.
	if len(row) != 6 || row[1] != "busybox" || row[2] != `"sleep 100"` || !strings.HasSuffix(row[3], " ago") ||
		!strings.HasPrefix(row[4], "Up ") || row[5] != "up" {
		t.Errorf("ps row of a running container = %q, want [id busybox \"sleep 100\" ... ago Up... up]", row)
	}
	if d := e.lcInspect(up); !d.State.Running || !lcAlive(d.State.Pid) {
		t.Errorf("right after run -d: Running=%v pid %d alive=%v", d.State.Running, d.State.Pid, lcAlive(d.State.Pid))
	}

	// An exited container (exit 3) and one whose start failed (created).
	if r := e.run("run", "--name", "ex", "busybox", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("run exit 3: %s", r)
	}
	ex := e.lcInspect("ex").ID
	if r := e.run("run", "--name", "cr", "busybox", "/no/such/command"); r.code != 127 {
		t.Fatalf("run of a missing command: %s, want exit 127", r)
	}
	cr := e.lcInspect("cr")
	if cr.State.Status != "created" {
		t.Errorf("container whose command was not found: Status %q, want created (as Docker)", cr.State.Status)
	}

	_, rows = e.lcPs()
	if len(rows) != 1 || lcFind(rows, up[:12]) == nil {
		t.Errorf("ps (running only) = %q, want only %s", rows, up[:12])
	}
	_, rows = e.lcPs("-a")
	if len(rows) != 3 {
		t.Errorf("ps -a lists %d containers, want 3: %q", len(rows), rows)
	}
	exited := regexp.MustCompile(`^Exited \(3\) (Less than a second|\d+ seconds?) ago$`)
	if row := lcFind(rows, ex[:12]); row == nil || len(row) != 6 || !exited.MatchString(row[4]) || row[5] != "ex" {
		t.Errorf("ps -a row of the exited container = %q, want STATUS like \"Exited (3) 2 seconds ago\"", row)
	}
	if row := lcFind(rows, cr.ID[:12]); row == nil || len(row) != 6 || row[4] != "Created" || row[5] != "cr" {
		t.Errorf("ps -a row of the created container = %q, want STATUS Created", row)
	}
	// Newest first, as Docker.
	if len(rows) == 3 && (rows[0][0] != cr.ID[:12] || rows[2][0] != up[:12]) {
		t.Errorf("ps -a order = %s %s %s, want newest first (%s ... %s)", rows[0][0], rows[1][0], rows[2][0], cr.ID[:12], up[:12])
	}

	if got := lcLines(e.ok("ps", "-q")); !slices.Equal(got, []string{up[:12]}) {
		t.Errorf("ps -q = %q, want [%s]", got, up[:12])
	}
	got := lcLines(e.ok("ps", "-aq"))
	want := []string{cr.ID[:12], ex[:12], up[:12]}
	if !slices.Equal(got, want) {
		t.Errorf("ps -aq = %q, want %q", got, want)
	}
	for _, id := range got {
		if !lcShortID.MatchString(id) {
			t.Errorf("ps -aq line %q is not a 12-hex id", id)
		}
	}
	// Combined short flags behave like the long ones.
	if got2 := lcLines(e.ok("ps", "-a", "-q")); !slices.Equal(got2, got) {
		t.Errorf("ps -a -q = %q, ps -aq = %q", got2, got)
	}

	// The Up duration moves on.
	time.Sleep(1100 * time.Millisecond)
	_, rows = e.lcPs()
	if row := lcFind(rows, up[:12]); row == nil || !regexp.MustCompile(`^Up (1 second|\d+ seconds)$`).MatchString(row[4]) {
		t.Errorf("ps after 1 s: %q, want STATUS \"Up 1 second\"", row)
	}
}
