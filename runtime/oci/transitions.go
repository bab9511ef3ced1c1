package oci

import "fmt"

// The lifecycle, as the runtime spec's runtime.md has it, plus runc's pause:
//
//	create ─▶ created ─start─▶ running ─(the process exits)─▶ stopped ─delete─▶ (gone)
//	                             │  ▲
//	                        pause│  │resume
//	                             ▼  │
//	                            paused
//
// Which operation each status allows is one table, checked by every
// operation before it acts; a status is read from the kernel (status), never
// stored, so that a container whose process died is stopped at once.

// Op is a lifecycle operation.
type Op string

const (
	OpStart  Op = "start"
	OpKill   Op = "kill"
	OpDelete Op = "delete"
	OpExec   Op = "exec"
	OpPause  Op = "pause"
	OpResume Op = "resume"
	OpUpdate Op = "update"
)

// allowed says which statuses each operation acts in. Delete of a created
// container kills it first, as runc does (containerd's shim deletes a
// created container that way); running or paused ones need force. Delete
// of one still creating (its create was killed: delete holds the lock
// create held) undoes what that create made.
var allowed = map[Op]map[Status]bool{
	OpStart:  {Created: true},
	OpKill:   {Created: true, Running: true, Paused: true},
	OpDelete: {Creating: true, Created: true, Stopped: true},
	OpExec:   {Created: true, Running: true},
	OpPause:  {Running: true},
	OpResume: {Paused: true},
	OpUpdate: {Created: true, Running: true, Paused: true},
}

// checkOp is the error of op on container id in status st; nil if allowed.
// force lets a delete act in any status.
func checkOp(op Op, id string, st Status, force bool) error {
	if allowed[op][st] || op == OpDelete && force {
		return nil
	}
	switch {
	case op == OpStart && st == Stopped:
		return fmt.Errorf("cannot start a container that has stopped")
	case op == OpStart:
		return fmt.Errorf("cannot start an already %s container", st)
	case op == OpDelete:
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
	case st == Stopped:
		return fmt.Errorf("cannot %s container %s: it is not running", op, id)
	}
	return fmt.Errorf("cannot %s container %s: it is %s", op, id, st)
}
