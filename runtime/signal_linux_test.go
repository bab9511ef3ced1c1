package runtime

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A signal hutch gets before the container exists is held and delivered
// once it runs; after stop, signals are caught and dropped.
func TestSignalCatcherHoldsEarlySignals(t *testing.T) {
	c := catchSignals()
	<-c.installed
	if err := unix.Kill(unix.Getpid(), unix.SIGUSR1); err != nil { // caught, not fatal
		t.Fatal(err)
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	c.forwardTo(child.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		child.Process.Kill()
		t.Fatal("the early SIGUSR1 never reached the child")
	}
	ws := child.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGUSR1 {
		t.Errorf("child ended with %v, want killed by SIGUSR1", ws)
	}
	c.stop()
	c.stop() // twice is fine: both the run and its owner stop it
	// After stop a signal is caught and dropped: it neither kills this
	// process nor reaches the (reused, here: another) pid.
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	otherDone := make(chan error, 1)
	go func() { otherDone <- other.Wait() }()
	defer func() { other.Process.Kill(); <-otherDone }()
	late := catchSignals() // a catcher of its own: c's forwarder would take half the signals
	<-late.installed
	late.forwardTo(other.Process.Pid)
	late.stop()
	if err := unix.Kill(unix.Getpid(), unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-otherDone:
		otherDone <- err
		t.Errorf("a signal after stop reached the process: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}
