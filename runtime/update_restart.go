package runtime

// RestartPolicy checks --restart; nil when it is not given.
func (o UpdateOptions) RestartPolicy() (*RestartPolicy, error) {
	if o.Restart == "" {
		return nil, nil
	}
	p, err := ParseRestartPolicy(o.Restart)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// SetRestartPolicy changes a container's restart policy, running or not:
// its finisher reads the record when the run ends, so the next exit follows
// the new policy (Docker's `update --restart`).
func (s *Store) SetRestartPolicy(ref string, p RestartPolicy) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	_, err = s.update(c.ID, func(c *Container) error {
		if c.AutoRemove && !p.IsNone() { // as Docker's daemon: --rm and a restarting policy conflict
			return invalidf("cannot update container %s: restart policy cannot be updated because AutoRemove is enabled for the container", c.Name)
		}
		c.Restart = p
		return nil
	})
	return err
}
