//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExitCodes: one bad input per command, with Docker's exit code and one
// stderr line. Docker's CLI exits 125 when a flag does not parse, whatever
// the command (cli.FlagErrorFunc); run exits 125 when it fails itself; any
// other failure, a missing argument and an unknown command included, is 1.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	notADir := filepath.Join(t.TempDir(), "nothing-here")
	for _, tc := range []struct {
		code int
		want string // in the one stderr line
		args []string
	}{
		// Flag errors: 125 from every command, hutch's own flags too.
		{125, "bogus", []string{"--bogus", "ps"}},
		{125, "bogus", []string{"ps", "--bogus"}},
		{125, "bogus", []string{"run", "--bogus", "busybox", "true"}},
		{125, "abc", []string{"stop", "-t", "abc", "nosuch"}},
		{125, "bogus", []string{"network", "--bogus"}},
		{125, "bogus", []string{"network", "ls", "--bogus"}},
		{125, "bogus", []string{"image", "rm", "--bogus", "x"}},
		{125, "bogus", []string{"system", "reset", "--bogus"}},
		// run: 125 when hutch fails, 1 for a missing image (cli.RequiresMinArgs).
		{125, "nosuchimage", []string{"run", "--rm", "--pull", "never", "nosuchimage", "true"}},
		{1, "image", []string{"run"}},
		// Every other command: 1.
		{1, "extra", []string{"ps", "extra"}},
		{1, "nosuch", []string{"logs", "nosuch"}},
		{1, "nosuch", []string{"exec", "nosuch", "true"}},
		{1, "'hutch exec --help'", []string{"exec", "nosuch"}},
		{1, "nosuch", []string{"stop", "nosuch"}},
		{1, "NOSUCHSIG", []string{"kill", "-s", "NOSUCHSIG", "nosuch"}},
		{1, "nosuch", []string{"start", "nosuch"}},
		{1, "nosuch", []string{"wait", "nosuch"}},
		{1, "nosuch", []string{"rm", "-f", "nosuch"}},
		{1, "nosuch", []string{"inspect", "nosuch"}},
		{1, "nosuch", []string{"port", "nosuch"}},
		{1, "bad/name", []string{"image", "import", "bad/name", notADir}},
		{1, "nosuchimage", []string{"image", "rm", "nosuchimage"}},
		{1, "'hutch network create --help'", []string{"network", "create"}},
		{1, "banana", []string{"network", "create", "--subnet", "banana", "n1"}},
		{1, "extra", []string{"network", "ls", "extra"}},
		{1, "nosuchnet", []string{"network", "inspect", "nosuchnet"}},
		{1, "nosuchnet", []string{"network", "rm", "nosuchnet"}},
		{1, "nosuch", []string{"network", "connect", "nosuchnet", "nosuch"}},
		{1, "nosuch", []string{"network", "disconnect", "nosuchnet", "nosuch"}},
		{1, "extra", []string{"network", "prune", "-f", "extra"}},
		{1, "extra", []string{"system", "prune", "-f", "extra"}},
		{1, "extra", []string{"system", "reset", "-f", "extra"}},
	} {
		r := e.fails(tc.code, tc.want, tc.args...)
		// inspect prints what it found, [] here, as Docker's.
		if !slices.Contains(tc.args, "inspect") && r.stdout != "" {
			t.Errorf("hutch %s: stdout %q, want none", strings.Join(tc.args, " "), r.stdout)
		}
	}
	// Nothing was made: no container, no network, and system reset -f extra
	// left the root alone.
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("bad inputs left containers %v", ids)
	}
	if nets, _ := filepath.Glob(filepath.Join(e.root, "networks", "*", "network.json")); len(nets) != 0 {
		t.Errorf("bad inputs left networks %v", nets)
	}
	if _, err := os.Stat(e.root); err != nil {
		t.Errorf("the root after system reset -f extra: %v", err)
	}
}
