package runtime

import (
	"slices"
	"testing"
)

func TestTransitions(t *testing.T) {
	all := []Status{StatusCreated, StatusRunning, StatusExited, StatusRestarting}
	allowed := map[[2]Status]bool{
		{StatusCreated, StatusRunning}:    true, // start
		{StatusRunning, StatusExited}:     true, // exit
		{StatusRunning, StatusRestarting}: true, // exit under a restart policy
		{StatusRestarting, StatusRunning}: true, // back-off over
		{StatusRestarting, StatusExited}:  true, // stopped, or its monitor died, in a back-off
		{StatusExited, StatusRunning}:     true, // start again
		{StatusExited, StatusExited}:      true, // a failed start of an exited container
	}
	for _, from := range all {
		for _, to := range all {
			c := &Container{Name: "c", Status: from}
			err := c.moveTo(to)
			if want := allowed[[2]Status{from, to}]; (err == nil) != want {
				t.Errorf("%s → %s: err %v, want allowed=%v", from, to, err, want)
			}
			if err != nil && c.Status != from {
				t.Errorf("%s → %s refused, but the status became %s", from, to, c.Status)
			}
			if err == nil && c.Status != to {
				t.Errorf("%s → %s: status %s", from, to, c.Status)
			}
		}
	}
	// Every status has a way out but a created container's only way is a start.
	for _, s := range all {
		if len(transitions[s]) == 0 {
			t.Errorf("%s: a dead end", s)
		}
	}
	if !slices.Equal(transitions[StatusCreated], []Status{StatusRunning}) {
		t.Errorf("created → %v", transitions[StatusCreated])
	}
}
