//go:build integration

package integration

import (
	"slices"
	"testing"
)

// A flag's short and long forms mix in one command, and their values merge
// in command-line order (Docker's; urfave/cli alone refuses "two forms").
func TestFlagFormsMix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out := e.ok("run", "--rm", "-e", "A=1", "--env", "B=2", "--env=C=3", "-e", "D=4", "-l", "x=1", "--label", "y=2", "busybox", "env")
	var got []string
	for _, l := range runLines(out) {
		if len(l) > 1 && l[1] == '=' && l[0] >= 'A' && l[0] <= 'D' {
			got = append(got, l)
		}
	}
	if want := []string{"A=1", "B=2", "C=3", "D=4"}; !slices.Equal(got, want) {
		t.Errorf("env from mixed -e/--env: %q, want %q (all output: %q)", got, want, out)
	}
}
