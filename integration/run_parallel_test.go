//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// runAsync runs hutch without touching the test, so that it may be called
// from any goroutine. A failure to start shows as exit -1.
func (e *env) runAsync(args ...string) result {
	r, err := execHutch(hutchBin, e.root, "", nil, args...)
	if err != nil {
		r.code, r.stderr = -1, err.Error()
	}
	return r
}

var runFullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Twenty parallel detached runs with distinct names all succeed and run.
func TestRunParallelDistinctNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "busybox", "true") // make the image first: that is not what is tested
	const n = 20
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.runAsync("run", "-d", "--name", fmt.Sprintf("par%02d", i), "busybox", "sleep", "30")
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, r := range results {
		id := strings.TrimSpace(r.stdout)
		if r.code != 0 || !runFullID.MatchString(id) || r.stderr != "" {
			t.Errorf("run -d --name par%02d: %s", i, r)
			continue
		}
		if ids[id] {
			t.Errorf("id %s given twice", id)
		}
		ids[id] = true
	}
	running := e.runPsQ()
	if len(running) != n {
		t.Errorf("ps -q lists %d containers, want %d", len(running), n)
	}
	for id := range ids {
		if !slices.ContainsFunc(running, func(s string) bool { return strings.HasPrefix(id, s) }) {
			t.Errorf("container %s not running", id)
		}
	}
	var all []string
	for i := range n {
		all = append(all, fmt.Sprintf("par%02d", i))
	}
	e.ok(append([]string{"rm", "-f"}, all...)...)
	if left := e.ids(); len(left) != 0 {
		t.Errorf("after rm -f of all: %v left", left)
	}
}

// Two parallel runs with one name: exactly one succeeds, the other exits
// 125 with one line; five times over.
func TestRunParallelSameName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "busybox", "true")
	for round := range 5 {
		name := fmt.Sprintf("same%d", round)
		var rs [2]result
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rs[i] = e.runAsync("run", "-d", "--name", name, "busybox", "sleep", "30")
			}()
		}
		close(start)
		wg.Wait()
		ok, failed := 0, 0
		var winner string
		for _, r := range rs {
			switch {
			case r.code == 0 && runFullID.MatchString(strings.TrimSpace(r.stdout)):
				ok++
				winner = strings.TrimSpace(r.stdout)
			case r.code == 125 && len(runLines(r.stderr)) == 1 && strings.Contains(r.stderr, name):
				failed++
			default:
				t.Errorf("round %d: unexpected result %s", round, r)
			}
		}
		if ok != 1 || failed != 1 {
			t.Errorf("round %d: %d succeeded, %d failed with 125: %v", round, ok, failed, rs)
		}
		if ids := e.ids(); len(ids) != ok || ok == 1 && ids[0] != winner {
			t.Errorf("round %d: containers %v, want only the winner %s", round, ids, winner)
		}
		e.ok("rm", "-f", name)
	}
}

// Three hundred run --rm cycles leave no container, mount, cgroup or
// process behind (their speed is make bench's: a bound here failed on a
// loaded machine). Each prints its host name, the short id, so that the
// check of the host-wide cgroup trees only looks at these containers.
func TestRunManyCycles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("run", "--rm", "busybox", "true")
	shortID := regexp.MustCompile(`^[0-9a-f]{12}\n$`)
	start := time.Now()
	const n = 300
	seen := map[string]bool{}
	for i := range n {
		r := e.run("run", "--rm", "busybox", "hostname")
		if r.code != 0 || !shortID.MatchString(r.stdout) || r.stderr != "" {
			t.Fatalf("cycle %d: %s", i, r)
		}
		seen[strings.TrimSpace(r.stdout)] = true
	}
	d := time.Since(start)
	t.Logf("%d run --rm cycles in %s (%s each)", n, d, d/n)
	if len(seen) != n {
		t.Errorf("%d distinct short ids in %d runs", len(seen), n)
	}
	ents, err := os.ReadDir(filepath.Join(e.root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ents {
		// Dot entries are the store's own (its lock, exit notes that
		// expire); anything else is a container left behind.
		if !strings.HasPrefix(d.Name(), ".") {
			t.Errorf("left in containers/: %s", d.Name())
		}
	}
	for _, c := range []string{"pids", "memory", "cpu", "cpuacct", "blkio", "devices", "freezer", "cpuset", "systemd", "unified"} {
		for g := range runCgroupDirs(t, c) {
			if len(g) == 64 && seen[g[:12]] {
				t.Errorf("cgroup %s/hutch/%s left", c, g)
			}
		}
	}
	if out := e.ok("ps", "-aq"); out != "" {
		t.Errorf("ps -aq: %q", out)
	}
	// The env's cleanup checks processes and mounts under the root.
}
