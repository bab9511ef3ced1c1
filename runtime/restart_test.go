package runtime

import (
	"errors"
	"testing"
	"time"
)

func TestParseRestartPolicy(t *testing.T) {
	good := map[string]RestartPolicy{
		"":               {Name: "no"},
		"no":             {Name: "no"},
		"always":         {Name: "always"},
		"unless-stopped": {Name: "unless-stopped"},
		"on-failure":     {Name: "on-failure"},
		"on-failure:3":   {Name: "on-failure", MaximumRetryCount: 3},
	}
	for in, want := range good {
		if got, err := ParseRestartPolicy(in); err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"sometimes", "on-failure:-1", "on-failure:x", ":3", "always:2", "no:1"} {
		if _, err := ParseRestartPolicy(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: got %v, want an invalid-argument error", in, err)
		}
	}
}

func TestRestartPolicyConflictsWithRm(t *testing.T) {
	o := RunOptions{AutoRemove: true, Restart: "always"}
	if _, err := o.restartPolicy(); !errors.Is(err, ErrInvalid) {
		t.Errorf("--rm --restart always: got %v", err)
	}
	o.Restart = "no"
	if _, err := o.restartPolicy(); err != nil {
		t.Errorf("--rm --restart no: %v", err)
	}
}

func TestNextRestart(t *testing.T) {
	always := RestartPolicy{Name: "always"}
	onFail2 := RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}
	ms := time.Millisecond
	cases := []struct {
		name     string
		p        RestartPolicy
		code, n  int
		manual   bool
		prev     time.Duration
		ran      time.Duration
		want     time.Duration
		restarts bool
	}{
		{"no", RestartPolicy{Name: "no"}, 1, 0, false, 0, 0, 0, false},
		{"none recorded", RestartPolicy{}, 1, 0, false, 0, 0, 0, false},
		{"always first", always, 0, 0, false, 0, ms, 100 * ms, true},
		{"always doubles", always, 0, 1, false, 100 * ms, ms, 200 * ms, true},
		{"always doubles again", always, 1, 2, false, 200 * ms, ms, 400 * ms, true},
		{"capped at a minute", always, 1, 9, false, 51200 * ms, ms, time.Minute, true},
		{"stays at a minute", always, 1, 10, false, time.Minute, ms, time.Minute, true},
		{"reset after 10 s", always, 1, 10, false, time.Minute, 10 * time.Second, 100 * ms, true},
		{"not reset under 10 s", always, 1, 3, false, 800 * ms, 9 * time.Second, 1600 * ms, true},
		{"manual stop ends always", always, 137, 0, true, 0, ms, 0, false},
		{"manual stop ends unless-stopped", RestartPolicy{Name: "unless-stopped"}, 1, 0, true, 0, ms, 0, false},
		{"on-failure success", onFail2, 0, 0, false, 0, ms, 0, false},
		{"on-failure first", onFail2, 1, 0, false, 0, ms, 100 * ms, true},
		{"on-failure second", onFail2, 1, 1, false, 100 * ms, ms, 200 * ms, true},
		{"on-failure max reached", onFail2, 1, 2, false, 200 * ms, ms, 0, false},
		{"on-failure unlimited", RestartPolicy{Name: "on-failure"}, 3, 100, false, time.Minute, ms, time.Minute, true},
	}
	for _, c := range cases {
		got, ok := nextRestart(c.p, c.code, c.n, c.manual, c.prev, c.ran)
		if got != c.want || ok != c.restarts {
			t.Errorf("%s: got %v, %v; want %v, %v", c.name, got, ok, c.want, c.restarts)
		}
	}
}

func TestRestartsAtBoot(t *testing.T) {
	cases := []struct {
		policy string
		manual bool
		want   bool
	}{
		{"always", false, true}, {"always", true, true},
		{"unless-stopped", false, true}, {"unless-stopped", true, false},
		{"on-failure", false, false}, {"no", false, false}, {"", false, false},
	}
	for _, c := range cases {
		ctr := &Container{Restart: RestartPolicy{Name: c.policy}, ManuallyStopped: c.manual}
		if got := restartsAtBoot(ctr); got != c.want {
			t.Errorf("%s (manual %v): got %v", c.policy, c.manual, got)
		}
	}
}
