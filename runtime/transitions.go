package runtime

import "fmt"

// A container's record moves between Docker's statuses only along these
// edges (paused is a mark on a running container, not a status of its own):
//
//	created ──start──▶ running ──exit──▶ exited ──start──▶ running
//	                     │  ▲              ▲
//	      exit under a   │  │ back-off     │ stop, kill, rm -f, or
//	      restart policy ▼  │ over         │ its monitor died
//	                   restarting ─────────┘
//
// A start that fails leaves the status it found (created stays created; an
// exited container stays exited, with the start's error).
var transitions = map[Status][]Status{
	StatusCreated:    {StatusRunning},
	StatusRunning:    {StatusExited, StatusRestarting},
	StatusRestarting: {StatusRunning, StatusExited},
	StatusExited:     {StatusRunning, StatusExited},
}

// moveTo changes c's status along an edge of transitions. Any other move
// is hutch's bug: refused, so the record never says what cannot be.
func (c *Container) moveTo(to Status) error {
	for _, next := range transitions[c.Status] {
		if next == to {
			c.Status = to
			return nil
		}
	}
	return fmt.Errorf("container %s: no way from %s to %s", c.Name, c.Status, to)
}
