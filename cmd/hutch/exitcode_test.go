package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestExitCodeUsage runs the real app on usage errors, which fail before
// any state is touched: flag errors are 125 on every command, a missing
// argument or an unknown command is 1, run's included (Docker's CLI).
func TestExitCodeUsage(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	for _, tc := range []struct {
		code int
		args []string
	}{
		{125, []string{"--bogus", "ps"}},
		{125, []string{"ps", "--bogus"}},
		{125, []string{"run", "--bogus", "busybox"}},
		{125, []string{"stop", "-t", "abc", "c"}},
		{125, []string{"network", "--bogus"}},
		{125, []string{"network", "create", "--bogus", "n"}},
		{125, []string{"system", "prune", "--bogus"}},
		{1, []string{"run"}},
		{1, []string{"exec", "c"}},
		{1, []string{"stop"}},
		{1, []string{"ps", "extra"}},
		{1, []string{"network", "ls", "extra"}},
		{1, []string{"system", "reset", "extra"}},
		{1, []string{"nosuchcommand"}},
		{1, []string{"network", "nosuchcommand"}},
		{1, []string{"image", "nosuchcommand"}},
		{0, []string{"network"}},
	} {
		devnull, _ := os.Open(os.DevNull)
		stdout, stderr := os.Stdout, os.Stderr
		os.Stdout, os.Stderr = devnull, devnull
		code := run(append([]string{"hutch", "--root", root}, tc.args...))
		os.Stdout, os.Stderr = stdout, stderr
		devnull.Close()
		if code != tc.code {
			t.Errorf("hutch %v: exit %d, want %d", tc.args, code, tc.code)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("usage errors made the root: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	plain := errors.New("no such container: x")
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, 0},
		{plain, 1},
		{runFailed(plain), 125},
		{runFailed(&exitError{code: 127, err: plain}), 127},
		{&exitError{code: 3}, 3}, // the container's own code, nothing to print
	} {
		if code, _ := exitCode(tc.err); code != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, code, tc.code)
		}
	}
}
