package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RestartPolicy is --restart, in Docker's shape (inspect's HostConfig.RestartPolicy).
type RestartPolicy struct {
	Name              string `json:"Name"` // "no", "always", "unless-stopped" or "on-failure"
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// Docker's restart back-off: the first restart waits 100 ms, each next one
// twice as long up to a minute; a run of 10 s or more starts it over.
const (
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
)

// ParseRestartPolicy reads --restart: no, always, unless-stopped or on-failure[:N].
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	if s == "" {
		return RestartPolicy{Name: "no"}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return RestartPolicy{}, invalidf("invalid restart policy format: no policy provided before colon")
	}
	p := RestartPolicy{Name: name}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return RestartPolicy{}, invalidf("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	switch name {
	case "no", "always", "unless-stopped":
		if p.MaximumRetryCount != 0 {
			return RestartPolicy{}, invalidf("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
	case "on-failure":
		if p.MaximumRetryCount < 0 {
			return RestartPolicy{}, invalidf("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return RestartPolicy{}, invalidf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", name)
	}
	return p, nil
}

// IsNone reports whether the policy never restarts.
func (p RestartPolicy) IsNone() bool { return p.Name == "" || p.Name == "no" }

func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaximumRetryCount > 0 {
		return fmt.Sprintf("on-failure:%d", p.MaximumRetryCount)
	}
	if p.Name == "" {
		return "no"
	}
	return p.Name
}

// nextRestart decides, when a run that lasted ran ended with code, whether
// the container starts again and after how long. restarts is how many times
// it was restarted already, prev the last back-off (0: none yet), manual
// whether a user stopped or killed it (which ends every policy's loop: the
// "always" that ignores it is about boots, see StartAllRestartable).
func nextRestart(p RestartPolicy, code, restarts int, manual bool, prev, ran time.Duration) (time.Duration, bool) {
	if manual {
		return 0, false
	}
	switch p.Name {
	case "always", "unless-stopped":
	case "on-failure":
		if code == 0 || (p.MaximumRetryCount > 0 && restarts >= p.MaximumRetryCount) {
			return 0, false
		}
	default:
		return 0, false
	}
	if ran >= restartResetAfter {
		prev = 0
	}
	switch {
	case prev == 0:
		return restartFirstDelay, true
	case prev >= restartMaxDelay/2:
		return restartMaxDelay, true
	}
	return prev * 2, true
}

// restartsAtBoot reports whether `start --all-restartable` starts a stopped
// container: as Docker's daemon at its start, always whatever stopped it,
// unless-stopped unless a user did, never on-failure or no.
func restartsAtBoot(c *Container) bool {
	switch c.Restart.Name {
	case "always":
		return true
	case "unless-stopped":
		return !c.ManuallyStopped
	}
	return false
}

// restartPolicy reads o.Restart; --rm and a policy that restarts conflict, as in Docker.
func (o *RunOptions) restartPolicy() (RestartPolicy, error) {
	p, err := ParseRestartPolicy(o.Restart)
	if err != nil {
		return p, err
	}
	if o.AutoRemove && !p.IsNone() {
		return p, invalidf("conflicting options: cannot specify both --restart and --rm")
	}
	return p, nil
}

// restartPolicyOf is inspect's HostConfig.RestartPolicy: "no" for none, as Docker.
func restartPolicyOf(c *Container) RestartPolicy {
	if c.Restart.Name == "" {
		return RestartPolicy{Name: "no"}
	}
	return c.Restart
}

// StartAllRestartable starts every container that Docker's daemon would
// start at its own start: hutch has no daemon, so a boot script runs
// `hutch start --all-restartable`. It returns the containers it started,
// and the first error (it goes on with the others).
func (s *Store) StartAllRestartable() ([]*Container, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var started []*Container
	var first error
	for _, c := range all {
		if c.MonitorPid != 0 || c.StartedAt.IsZero() || !restartsAtBoot(c) {
			continue // running (or restarting), never started, or not its policy
		}
		c2, err := s.Start(c.ID)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("start %s: %w", c.Name, err)
			}
			continue
		}
		started = append(started, c2)
	}
	return started, first
}
