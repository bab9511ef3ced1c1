package cgroups

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// freezeTimeout bounds how long Freeze and Thaw wait for the kernel to
// report the group's new state.
const freezeTimeout = 5 * time.Second

// Freezer states, as FreezerState reports them.
const (
	Frozen = "frozen"
	Thawed = "thawed"
)

// Freeze stops every process of the group (and its subtree) and returns
// once the kernel reports them all frozen: through the v1 freezer
// hierarchy when the group has one, else v2's cgroup.freeze. If they do not
// all freeze in time, the group is thawed again and an error returned.
func (c *Cgroup) Freeze() error {
	if err := c.setFrozen(true); err != nil {
		return errors.Join(fmt.Errorf("freeze cgroup %s: %w", c.path, err), c.setFrozen(false))
	}
	return nil
}

// Thaw lets the processes of a frozen group run again.
func (c *Cgroup) Thaw() error {
	if err := c.setFrozen(false); err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", c.path, err)
	}
	return nil
}

func (c *Cgroup) setFrozen(frozen bool) error {
	if dir := c.dirOf("freezer"); dir != "" {
		want := map[bool]string{true: "FROZEN", false: "THAWED"}[frozen]
		// Written again on each try: a task in vfork can hold a freeze up
		// until the write is repeated (as runc found).
		return poll(func() (bool, error) {
			if err := writeFile(dir+"/freezer.state", want); err != nil {
				return false, err
			}
			s, err := readFile(dir + "/freezer.state")
			return strings.TrimSpace(s) == want, err
		})
	}
	if c.v2 == "" {
		return errors.New("no freezer: no v1 freezer hierarchy and no cgroup v2 group")
	}
	v := map[bool]string{true: "1", false: "0"}[frozen]
	if err := writeFile(c.v2+"/cgroup.freeze", v); err != nil {
		return err
	}
	return poll(func() (bool, error) {
		f, err := v2Frozen(c.v2)
		return f == frozen, err
	})
}

// v2Frozen reads the "frozen" key of dir's cgroup.events: whether every
// process of the group has stopped.
func v2Frozen(dir string) (bool, error) {
	s, err := readFile(dir + "/cgroup.events")
	if err != nil {
		return false, err
	}
	for line := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "frozen "); ok {
			return v == "1", nil
		}
	}
	return false, errors.New("cgroup.events has no frozen key (Linux 5.2+)")
}

// poll calls done until it reports true, backing off up to freezeTimeout.
func poll(done func() (bool, error)) error {
	deadline := time.Now().Add(freezeTimeout)
	delay := 100 * time.Microsecond
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not done after %v", freezeTimeout)
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// FreezerState reports whether the group is frozen (Frozen) or not
// (Thawed). Frozen means frozen by Freeze on this group: one frozen only
// through a parent, or half way (v1's FREEZING), is Thawed, as in runc,
// since Thaw on it would not make it run.
func (c *Cgroup) FreezerState() (string, error) {
	s, err := c.freezerState()
	if err != nil {
		return "", fmt.Errorf("read freezer state of cgroup %s: %w", c.path, err)
	}
	return s, nil
}

func (c *Cgroup) freezerState() (string, error) {
	if dir := c.dirOf("freezer"); dir != "" {
		s, err := readFile(dir + "/freezer.state")
		if err != nil || strings.TrimSpace(s) != "FROZEN" {
			return Thawed, err
		}
		self, err := readFile(dir + "/freezer.self_freezing")
		if err != nil || strings.TrimSpace(self) != "1" {
			return Thawed, err
		}
		return Frozen, nil
	}
	if c.v2 == "" {
		return "", errors.New("no freezer: no v1 freezer hierarchy and no cgroup v2 group")
	}
	s, err := readFile(c.v2 + "/cgroup.freeze")
	if err != nil || strings.TrimSpace(s) != "1" {
		return Thawed, err
	}
	frozen, err := v2Frozen(c.v2)
	if err != nil || !frozen {
		return Thawed, err
	}
	return Frozen, nil
}
