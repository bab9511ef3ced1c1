package oci

import (
	"strings"
	"testing"
)

// TestTransitions: every operation in every status, as runtime.md (and
// runc, for pause, resume and the delete of a created container) says.
func TestTransitions(t *testing.T) {
	statuses := []Status{Creating, Created, Running, Paused, Stopped}
	want := map[Op]string{ // the statuses each op acts in, by initial
		OpStart: "C", OpKill: "Crp", OpDelete: "cCs", OpExec: "Cr",
		OpPause: "r", OpResume: "p", OpUpdate: "Crp",
	}
	for op, ok := range want {
		for _, st := range statuses {
			err := checkOp(op, "x", st, false)
			if allowed := strings.Contains(ok, initial(st)); allowed != (err == nil) {
				t.Errorf("%s when %s: err %v, want allowed %v", op, st, err, allowed)
			}
			if err != nil && !strings.Contains(err.Error(), string(st)) && !strings.Contains(err.Error(), "not running") {
				t.Errorf("%s when %s: %q does not say the status", op, st, err)
			}
		}
	}
	for _, st := range statuses {
		if err := checkOp(OpDelete, "x", st, true); err != nil {
			t.Errorf("delete --force when %s: %v", st, err)
		}
	}
	if err := checkOp(OpStart, "x", Stopped, false); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("start of a stopped container: %v", err)
	}
}

// initial is a status's letter in TestTransitions' table: c creating, C
// created, r running, p paused, s stopped.
func initial(st Status) string {
	return map[Status]string{Creating: "c", Created: "C", Running: "r", Paused: "p", Stopped: "s"}[st]
}
