package runtime

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestHealthOptionsValidate(t *testing.T) {
	good := []HealthOptions{{}, {Cmd: "true"}, {Interval: time.Millisecond}, {None: true}, {Retries: 5, Timeout: time.Second}}
	for _, h := range good {
		if err := h.validate(); err != nil {
			t.Errorf("%+v: %v", h, err)
		}
	}
	bad := []HealthOptions{
		{Interval: time.Microsecond}, {Timeout: -time.Second}, {StartPeriod: 999 * time.Microsecond},
		{StartInterval: -1}, {Retries: -1}, {None: true, Cmd: "true"}, {None: true, Interval: time.Second},
	}
	for _, h := range bad {
		if err := h.validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: got %v, want an invalid-argument error", h, err)
		}
	}
}

func TestHealthConfigMerge(t *testing.T) {
	image := &HealthConfig{Test: []string{"CMD", "/check"}, Interval: time.Minute, Retries: 7}
	cases := []struct {
		name  string
		h     HealthOptions
		image *HealthConfig
		want  *HealthConfig
	}{
		{"none at all", HealthOptions{}, nil, nil},
		{"the image's", HealthOptions{}, image, image},
		{"cmd over the image's", HealthOptions{Cmd: "true", Retries: 2}, image,
			&HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Minute, Retries: 2}},
		{"interval alone keeps the image's test", HealthOptions{Interval: time.Second}, image,
			&HealthConfig{Test: []string{"CMD", "/check"}, Interval: time.Second, Retries: 7}},
		{"--no-healthcheck", HealthOptions{None: true}, image, nil},
		{"image NONE", HealthOptions{}, &HealthConfig{Test: []string{"NONE"}}, nil},
		{"image NONE, --health-cmd", HealthOptions{Cmd: "true"}, &HealthConfig{Test: []string{"NONE"}},
			&HealthConfig{Test: []string{"CMD-SHELL", "true"}}},
		{"interval without any test", HealthOptions{Interval: time.Second}, nil, nil},
	}
	for _, c := range cases {
		if got := healthConfig(c.h, c.image); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := (&HealthConfig{Test: []string{"CMD-SHELL", "a && b"}}).probeArgs(); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "a && b"}) {
		t.Errorf("CMD-SHELL runs %q", got)
	}
	if got := (&HealthConfig{Test: []string{"CMD", "/bin/check", "-q"}}).probeArgs(); !reflect.DeepEqual(got, []string{"/bin/check", "-q"}) {
		t.Errorf("CMD runs %q", got)
	}
}

func TestHealthRecord(t *testing.T) {
	hc := &HealthConfig{Retries: 2}
	st := initialHealth(hc)
	fail, ok := HealthResult{ExitCode: 1}, HealthResult{ExitCode: 0}
	hc.record(st, fail, true) // within the start period: not counted
	if st.Status != HealthStarting || st.FailingStreak != 0 {
		t.Fatalf("failure in the start period: %+v", st)
	}
	hc.record(st, fail, false)
	if st.Status != HealthStarting || st.FailingStreak != 1 {
		t.Fatalf("one failure: %+v", st)
	}
	hc.record(st, fail, false)
	if st.Status != HealthUnhealthy || st.FailingStreak != 2 {
		t.Fatalf("two failures, retries 2: %+v", st)
	}
	hc.record(st, ok, false)
	if st.Status != HealthHealthy || st.FailingStreak != 0 {
		t.Fatalf("a success: %+v", st)
	}
	hc.record(st, fail, true) // healthy once: the start period no longer shields
	if st.FailingStreak != 1 || st.Status != HealthHealthy {
		t.Fatalf("failure after healthy in the start period: %+v", st)
	}
	for i := 0; i < 10; i++ {
		hc.record(st, HealthResult{ExitCode: i}, false)
	}
	if len(st.Log) != 5 || st.Log[4].ExitCode != 9 || st.Log[0].ExitCode != 5 {
		t.Errorf("log keeps %d entries, last %+v", len(st.Log), st.Log[len(st.Log)-1])
	}
	if (&HealthConfig{}).record(st, fail, false); st.Status != HealthUnhealthy {
		t.Errorf("default retries: %+v", st)
	}
}

func TestHealthNextProbe(t *testing.T) {
	start := time.Unix(1000, 0)
	hc := &HealthConfig{StartPeriod: 10 * time.Second, StartInterval: time.Second, Interval: time.Minute}
	starting := &HealthState{Status: HealthStarting}
	if d := hc.nextProbe(start, start.Add(time.Second), starting); d != time.Second {
		t.Errorf("in the start period: %s", d)
	}
	if d := hc.nextProbe(start, start.Add(11*time.Second), starting); d != time.Minute {
		t.Errorf("after the start period: %s", d)
	}
	if d := hc.nextProbe(start, start.Add(time.Second), &HealthState{Status: HealthHealthy}); d != time.Minute {
		t.Errorf("healthy in the start period: %s", d)
	}
	if d := (&HealthConfig{}).nextProbe(start, start, starting); d != 30*time.Second {
		t.Errorf("default interval: %s", d)
	}
	if d := (&HealthConfig{StartPeriod: time.Minute}).nextProbe(start, start, starting); d != 5*time.Second {
		t.Errorf("default start interval: %s", d)
	}
}

func TestHealthSuffix(t *testing.T) {
	for st, want := range map[string]string{HealthStarting: " (health: starting)", HealthHealthy: " (healthy)", HealthUnhealthy: " (unhealthy)"} {
		c := &Container{Healthcheck: &HealthConfig{Test: []string{"CMD", "x"}}, Health: &HealthState{Status: st}}
		if got := c.HealthSuffix(); got != want {
			t.Errorf("%s: %q", st, got)
		}
	}
	if got := (&Container{}).HealthSuffix(); got != "" {
		t.Errorf("no check: %q", got)
	}
}
