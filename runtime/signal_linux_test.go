package runtime

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/hutchrt/hutch/runtime/oci"
	"golang.org/x/sys/unix"
)

// A signal before the command runs cancels its start (interrupted), with
// the code its default action would give; once the command runs, signals
// go to it, including one that came after the start last asked.
func TestSignalCatcher(t *testing.T) {
	c := catchSignals()
	<-c.installed
	if sig := c.interrupted(); sig != 0 {
		t.Fatalf("interrupted = %v before any signal", sig)
	}
	if err := unix.Kill(unix.Getpid(), unix.SIGUSR1); err != nil { // caught, not fatal
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.interrupted() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if sig := c.interrupted(); sig != unix.SIGUSR1 {
		t.Fatalf("interrupted = %v, want SIGUSR1", sig)
	}
	var ie *oci.InitError
	if err := interruptedError(unix.SIGINT); !errors.As(err, &ie) || ie.Code != 130 {
		t.Errorf("interruptedError(SIGINT) = %v, want code 130", err)
	}

	// The start went on regardless (the signal came "after it asked"): the
	// command gets the signal once it runs.
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	c.forwardTo(child.Process.Pid)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		child.Process.Kill()
		t.Fatal("the early SIGUSR1 never reached the command")
	}
	if ws := child.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGUSR1 {
		t.Errorf("command ended with %v, want killed by SIGUSR1", ws)
	}

	// A later signal goes straight on.
	second := exec.Command("sleep", "30")
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- second.Wait() }()
	c.forwardTo(second.Process.Pid)
	if err := unix.Kill(unix.Getpid(), unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		second.Process.Kill()
		t.Fatal("SIGUSR2 never reached the command")
	}
	if ws := second.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGUSR2 {
		t.Errorf("command ended with %v, want killed by SIGUSR2", ws)
	}
	// After stop a signal gets its default action: not tested in-process
	// (it would end this test binary); TestRunSignalBeforeStart and the
	// forwarding tests drive it end to end.
	c.stop()
}
