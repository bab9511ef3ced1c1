//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type hcState struct {
	Status        string
	FailingStreak int
	Log           []struct {
		Start, End time.Time
		ExitCode   int
		Output     string
	}
}

// hcHealth is inspect's State.Health (nil: none) and Config.Healthcheck's Test.
func (e *env) hcHealth(ref string) (*hcState, []string) {
	e.t.Helper()
	var ds []struct {
		State  struct{ Health *hcState }
		Config struct{ Healthcheck *struct{ Test []string } }
	}
	out := e.ok("inspect", ref)
	if err := json.Unmarshal([]byte(out), &ds); err != nil || len(ds) != 1 {
		e.t.Fatalf("inspect %s: %v", ref, err)
	}
	var test []string
	if ds[0].Config.Healthcheck != nil {
		test = ds[0].Config.Healthcheck.Test
	}
	return ds[0].State.Health, test
}

// hcWait waits until ref's health status is want, and ps shows it.
func (e *env) hcWait(ref, want, psWant string) *hcState {
	e.t.Helper()
	var st *hcState
	ok := lcWaitUntil(30*time.Second, func() bool {
		st, _ = e.hcHealth(ref)
		return st != nil && st.Status == want
	})
	if !ok {
		e.t.Fatalf("%s never %s: %+v", ref, want, st)
	}
	_, rows := e.lcPs()
	for _, r := range rows {
		if r[len(r)-1] == ref && !strings.HasSuffix(r[4], psWant) {
			e.t.Errorf("ps status of %s %q, want it to end in %q", ref, r[4], psWant)
		}
	}
	return st
}

// TestHealthCheck: a check on a file turns unhealthy when exec removes it
// (after --health-retries failures) and healthy again when exec recreates
// it; inspect's State.Health keeps the streak and the last five results; a
// check that outlives --health-timeout fails with Docker's message; a
// container without a check has no State.Health.
func TestHealthCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "hc", "--network", "none", "--health-cmd", "test -f /ok && echo fine",
		"--health-interval", "100ms", "--health-retries", "2", "busybox", "sh", "-c", "touch /ok; exec sleep 1000")
	st, test := e.hcHealth("hc")
	if st == nil || (st.Status != "starting" && st.Status != "healthy") {
		t.Errorf("just after run: Health %+v, want starting", st)
	}
	if strings.Join(test, "|") != "CMD-SHELL|test -f /ok && echo fine" {
		t.Errorf("Config.Healthcheck.Test %q", test)
	}
	st = e.hcWait("hc", "healthy", "(healthy)")
	if last := st.Log[len(st.Log)-1]; last.ExitCode != 0 || last.Output != "fine\n" || last.End.Before(last.Start) {
		t.Errorf("a passing probe logged as %+v", last)
	}
	e.ok("exec", "hc", "rm", "/ok")
	st = e.hcWait("hc", "unhealthy", "(unhealthy)")
	if st.FailingStreak < 2 || st.Log[len(st.Log)-1].ExitCode != 1 {
		t.Errorf("unhealthy: streak %d, last %+v", st.FailingStreak, st.Log[len(st.Log)-1])
	}
	e.ok("exec", "hc", "touch", "/ok")
	st = e.hcWait("hc", "healthy", "(healthy)")
	if st.FailingStreak != 0 || len(st.Log) > 5 {
		t.Errorf("healthy again: streak %d, %d log entries (at most 5)", st.FailingStreak, len(st.Log))
	}

	e.lcRunDetached("--name", "slow", "--network", "none", "--health-cmd", "sleep 5",
		"--health-interval", "100ms", "--health-timeout", "200ms", "--health-retries", "1", "busybox", "sleep", "1000")
	st = e.hcWait("slow", "unhealthy", "(unhealthy)")
	if last := st.Log[len(st.Log)-1]; last.ExitCode != -1 || !strings.Contains(last.Output, "Health check exceeded timeout (200ms)") {
		t.Errorf("a probe past its timeout logged as %+v", last)
	}

	e.lcRunDetached("--name", "plain", "--network", "none", "busybox", "sleep", "1000")
	if st, test := e.hcHealth("plain"); st != nil || test != nil {
		t.Errorf("no check: Health %+v, Test %q", st, test)
	}
	_, rows := e.lcPs()
	for _, r := range rows {
		if r[len(r)-1] == "plain" && strings.Contains(r[4], "health") {
			t.Errorf("ps status without a check: %q", r[4])
		}
	}
}

// TestHealthCheckImage: the image's HEALTHCHECK runs; --no-healthcheck turns it off.
func TestHealthCheckImage(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "hc")
	img = withConfig(t, img, func(cfg *v1.ConfigFile) {
		cfg.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "test", "-f", "/ok"}, Interval: 100 * time.Millisecond, Retries: 1}
	})
	ref := reg.addr + "/test/health:1"
	reg.push(t, ref[len(reg.addr)+1:], img)
	e.ok("pull", ref)
	e.lcRunDetached("--name", "img", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c", "touch /ok; exec sleep 1000")
	e.hcWait("img", "healthy", "(healthy)")
	if _, test := e.hcHealth("img"); strings.Join(test, " ") != "CMD test -f /ok" {
		t.Errorf("Config.Healthcheck.Test %q, want the image's", test)
	}
	e.lcRunDetached("--name", "off", "--no-healthcheck", "--network", "none", "--entrypoint", "/bin/sh", ref, "-c", "exec sleep 1000")
	if st, test := e.hcHealth("off"); st != nil || test != nil {
		t.Errorf("--no-healthcheck: Health %+v, Test %q", st, test)
	}
}

// TestHealthBadInput: bad --health-* values fail with one line and 125, leaving nothing.
func TestHealthBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-cmd", "true", "--health-interval", "500us"}, "--health-interval: must be at least 1ms"},
		{[]string{"--health-cmd", "true", "--health-timeout", "-1s"}, "--health-timeout cannot be negative"},
		{[]string{"--health-cmd", "true", "--health-retries", "-2"}, "--health-retries cannot be negative"},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--health-interval", "often"}, "often"},
	} {
		e.fails(125, c.want, append(append([]string{"run", "-d"}, c.args...), "busybox", "true")...)
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("bad input left containers %v", ids)
	}
}
