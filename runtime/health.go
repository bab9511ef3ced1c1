package runtime

import (
	"time"
)

// HealthConfig is a container's health check, in Docker's shape (the
// image's config.Healthcheck and inspect's Config.Healthcheck; durations in
// nanoseconds, 0 for Docker's default).
type HealthConfig struct {
	Test          []string      `json:"Test,omitempty"` // ["CMD", argv...], ["CMD-SHELL", cmd] or ["NONE"]
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Docker's defaults for what a health check leaves 0.
const (
	healthDefaultInterval      = 30 * time.Second
	healthDefaultTimeout       = 30 * time.Second
	healthDefaultStartInterval = 5 * time.Second
	healthDefaultRetries       = 3
	healthMinDuration          = time.Millisecond
	healthLogEntries           = 5    // inspect's State.Health.Log keeps the last five
	healthMaxOutput            = 4096 // bytes of a probe's output kept
)

// Health statuses, Docker's words.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// HealthState is inspect's State.Health.
type HealthState struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one probe.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// HealthOptions are run's --health-* flags (zero: unset).
type HealthOptions struct {
	Cmd                                           string
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
	None                                          bool // --no-healthcheck
}

func (h HealthOptions) set() bool {
	return h.Cmd != "" || h.Interval != 0 || h.Timeout != 0 || h.StartPeriod != 0 || h.StartInterval != 0 || h.Retries != 0
}

// validate checks the flags as Docker does.
func (h HealthOptions) validate() error {
	if h.None && h.set() {
		return invalidf("--no-healthcheck conflicts with --health-* options")
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", h.Interval}, {"--health-timeout", h.Timeout}, {"--health-start-period", h.StartPeriod}, {"--health-start-interval", h.StartInterval}} {
		if d.v < 0 {
			return invalidf("%s cannot be negative", d.flag)
		}
		if d.v != 0 && d.v < healthMinDuration {
			return invalidf("%s: must be at least 1ms (got %s)", d.flag, d.v)
		}
	}
	if h.Retries < 0 {
		return invalidf("--health-retries cannot be negative")
	}
	return nil
}

// healthConfig merges the flags over the image's HEALTHCHECK as Docker
// does: --health-cmd replaces its test, each other flag its value;
// --no-healthcheck (or the image's NONE with no --health-cmd) disables it.
// nil: no health check.
func healthConfig(h HealthOptions, image *HealthConfig) *HealthConfig {
	if h.None {
		return nil
	}
	var c HealthConfig
	if image != nil {
		c = *image
	}
	if h.Cmd != "" {
		c.Test = []string{"CMD-SHELL", h.Cmd}
	}
	if h.Interval != 0 {
		c.Interval = h.Interval
	}
	if h.Timeout != 0 {
		c.Timeout = h.Timeout
	}
	if h.StartPeriod != 0 {
		c.StartPeriod = h.StartPeriod
	}
	if h.StartInterval != 0 {
		c.StartInterval = h.StartInterval
	}
	if h.Retries != 0 {
		c.Retries = h.Retries
	}
	if len(c.Test) == 0 || c.Test[0] == "NONE" || (c.Test[0] != "CMD" && c.Test[0] != "CMD-SHELL") || len(c.Test) < 2 {
		return nil
	}
	return &c
}

// probeArgs is the command a probe runs in the container.
func (c *HealthConfig) probeArgs() []string {
	if c.Test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", c.Test[1]}
	}
	return c.Test[1:]
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// nextProbe is how long the prober waits before the next probe: the start
// interval within the start period while the container is not healthy yet
// (Docker 25's --health-start-interval), else the interval.
func (c *HealthConfig) nextProbe(started, now time.Time, st *HealthState) time.Duration {
	if st.Status == HealthStarting && now.Sub(started) < c.StartPeriod {
		return orDefault(c.StartInterval, healthDefaultStartInterval)
	}
	return orDefault(c.Interval, healthDefaultInterval)
}

// record adds a probe's result to st by Docker's rules: a success makes it
// healthy; a failure counts towards Retries, except within the start period
// while it has not been healthy yet; Retries failures in a row make it unhealthy.
func (c *HealthConfig) record(st *HealthState, r HealthResult, inStartPeriod bool) {
	st.Log = append(st.Log, r)
	if n := len(st.Log); n > healthLogEntries {
		st.Log = st.Log[n-healthLogEntries:]
	}
	if r.ExitCode == 0 {
		st.Status, st.FailingStreak = HealthHealthy, 0
		return
	}
	if inStartPeriod && st.Status == HealthStarting {
		return
	}
	st.FailingStreak++
	retries := c.Retries
	if retries == 0 {
		retries = healthDefaultRetries
	}
	if st.FailingStreak >= retries {
		st.Status = HealthUnhealthy
	}
}

// healthSuffix is what ps adds to a running container's "Up ..." status.
func healthSuffix(st *HealthState) string {
	if st == nil {
		return ""
	}
	switch st.Status {
	case HealthStarting:
		return " (health: starting)"
	case HealthHealthy, HealthUnhealthy:
		return " (" + st.Status + ")"
	}
	return ""
}

// HealthSuffix is healthSuffix for a container: " (healthy)", or "" without a check.
func (c *Container) HealthSuffix() string {
	if c.Healthcheck == nil {
		return ""
	}
	return healthSuffix(c.Health)
}

// initialHealth is the state a run with a health check starts in.
func initialHealth(hc *HealthConfig) *HealthState {
	if hc == nil {
		return nil
	}
	return &HealthState{Status: HealthStarting, Log: []HealthResult{}}
}

// inspectHealth is State.Health: only for a container with a check.
func inspectHealth(c *Container) *HealthState {
	if c.Healthcheck == nil {
		return nil
	}
	return c.Health
}
