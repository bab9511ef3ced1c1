//go:build integration

package integration

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLifecycleInspect: inspect prints a JSON array with Docker's fields and
// the right values for a running and an exited container.
func TestLifecycleInspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := time.Now()
	id := e.lcRunDetached("--name", "live", "-e", "FOO=bar", "-w", "/tmp", "--hostname", "hh",
		"busybox", "sleep", "100")
	if r := e.run("run", "--name", "dead", "busybox", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("run exit 3: %s", r)
	}

	out := e.ok("inspect", "live", "dead")
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("inspect: not a JSON array of objects: %v\n%s", err, out)
	}
	if len(raw) != 2 {
		t.Fatalf("inspect live dead: %d elements, want 2", len(raw))
	}
	for i, el := range raw {
		for _, k := range []string{"Id", "Name", "Created", "State", "Config", "HostConfig", "Mounts", "NetworkSettings"} {
			if _, ok := el[k]; !ok {
				t.Errorf("inspect element %d has no %s", i, k)
			}
		}
		var st, cfg map[string]json.RawMessage
		json.Unmarshal(el["State"], &st)
		json.Unmarshal(el["Config"], &cfg)
		for _, k := range []string{"Status", "Running", "Pid", "ExitCode", "StartedAt", "FinishedAt"} {
			if _, ok := st[k]; !ok {
				t.Errorf("inspect element %d: State has no %s", i, k)
			}
		}
		for _, k := range []string{"Image", "Cmd", "Env", "WorkingDir", "Hostname"} {
			if _, ok := cfg[k]; !ok {
				t.Errorf("inspect element %d: Config has no %s", i, k)
			}
		}
		if string(el["Mounts"]) == "null" || string(el["HostConfig"]) == "null" || string(el["NetworkSettings"]) == "null" {
			t.Errorf("inspect element %d: Mounts %s HostConfig %s NetworkSettings %s, want [] and objects", i, el["Mounts"], el["HostConfig"], el["NetworkSettings"])
		}
	}
	var ds []lcInspected
	json.Unmarshal([]byte(out), &ds)
	live, dead := ds[0], ds[1]

	// Image is the image's id, as in Docker (Config.Image keeps the name).
	if live.ID != id || live.Name != "/live" || !strings.HasPrefix(live.Image, "sha256:") || len(live.Image) != 71 {
		t.Errorf("live: Id %s Name %s Image %s", live.ID, live.Name, live.Image)
	}
	if live.Created.Before(before.Add(-time.Second)) || live.Created.After(time.Now()) {
		t.Errorf("live: Created %s, want between %s and now", live.Created, before)
	}
	s := live.State
	if s.Status != "running" || !s.Running || !lcAlive(s.Pid) || s.ExitCode != 0 ||
		s.StartedAt.Before(live.Created) || !s.FinishedAt.IsZero() {
		t.Errorf("live: State %+v, want running with a live pid, StartedAt after Created, zero FinishedAt", s)
	}
	c := live.Config
	if c.Image != "busybox" || !slices.Equal(c.Cmd, []string{"sleep", "100"}) || c.WorkingDir != "/tmp" ||
		c.Hostname != "hh" || !slices.Contains(c.Env, "FOO=bar") {
		t.Errorf("live: Config %+v", c)
	}
	if !slices.ContainsFunc(c.Env, func(v string) bool { return len(v) > 5 && v[:5] == "PATH=" }) {
		t.Errorf("live: Config.Env %q has no PATH", c.Env)
	}
	if h := e.ok("exec", "live", "hostname"); h != "hh" {
		t.Errorf("hostname in the container = %q, inspect says hh", h)
	}

	if len(dead.ID) != 64 || dead.Name != "/dead" {
		t.Errorf("dead: Id %s Name %s", dead.ID, dead.Name)
	}
	s = dead.State
	if s.Status != "exited" || s.Running || s.Pid != 0 || s.ExitCode != 3 ||
		s.StartedAt.IsZero() || s.FinishedAt.Before(s.StartedAt) || time.Since(s.FinishedAt) > time.Minute {
		t.Errorf("dead: State %+v, want exited 3, Pid 0, StartedAt <= FinishedAt (recent)", s)
	}
	c = dead.Config
	if c.Image != "busybox" || !slices.Equal(c.Cmd, []string{"sh", "-c", "exit 3"}) || c.WorkingDir != "/" || c.Hostname != dead.ID[:12] {
		t.Errorf("dead: Config %+v, want Cmd [sh -c exit 3], WorkingDir /, Hostname %s", c, dead.ID[:12])
	}

	if live.HostConfig.NetworkMode == "" || live.HostConfig.AutoRemove {
		t.Errorf("live: HostConfig %+v, want a NetworkMode and AutoRemove false", live.HostConfig)
	}
	e.lcRunDetached("--rm", "--network", "none", "--name", "auto", "busybox", "sleep", "100")
	if hc := e.lcInspect("auto").HostConfig; hc.NetworkMode != "none" || !hc.AutoRemove {
		t.Errorf("run --rm --network none: HostConfig %+v, want NetworkMode none, AutoRemove true", hc)
	}

	// After a stop the running one reads as exited, with its FinishedAt.
	e.ok("stop", "-t", "0", "live")
	d := e.lcInspect(id[:8])
	if d.State.Status != "exited" || d.State.Running || d.State.Pid != 0 || d.State.ExitCode != 137 ||
		d.State.FinishedAt.Before(d.State.StartedAt) {
		t.Errorf("live after stop: %+v", d.State)
	}

	// Unknown among known: the known ones are printed, exit 1.
	r := e.run("inspect", "dead", "nosuch")
	var some []lcInspected
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &some) != nil || len(some) != 1 || some[0].Name != "/dead" {
		t.Errorf("inspect dead nosuch: %s, want dead's element and exit 1", r)
	}
}
