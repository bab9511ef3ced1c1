//go:build integration

package integration

import (
	"strings"
	"testing"
)

// TestLifecycleNaming: a container is found by name, full id and unique id
// prefix; an ambiguous prefix is an error; an unknown container is exit 1
// and one stderr line for every verb.
func TestLifecycleNaming(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	id := e.lcRunDetached("--name", "named", "busybox", "sleep", "100")
	for _, ref := range []string{"named", id, id[:12], id[:5]} {
		if d := e.lcInspect(ref); d.ID != id || d.Name != "/named" {
			t.Errorf("inspect %s = %s %s, want %s /named", ref, d.ID, d.Name, id)
		}
		if out := e.ok("exec", ref, "echo", "hi"); out != "hi" {
			t.Errorf("exec %s echo hi = %q", ref, out)
		}
	}

	// Exited containers until two share the first hex digit of their id
	// (at most 17 by pigeonhole, with the running one).
	byFirst := map[byte]string{id[0]: id}
	var amb string
	made := 1
	for i := 0; amb == "" && i < 17; i++ {
		made++
		name := "x" + strings.Repeat("y", i)
		e.ok("run", "--name", name, "busybox", "true")
		xid := e.lcInspect(name).ID
		if _, dup := byFirst[xid[0]]; dup {
			amb = xid[:1]
		}
		byFirst[xid[0]] = xid
	}
	if amb == "" {
		t.Fatal("17 containers, and no two ids share their first digit")
	}
	other := byFirst[amb[0]]
	for _, verb := range [][]string{{"inspect"}, {"logs"}, {"rm"}, {"stop"}} {
		r := e.run(append(verb, amb)...)
		if r.code != 1 || len(lcLines(r.stderr)) != 1 || !strings.Contains(r.stderr, amb) {
			t.Errorf("%s with the ambiguous prefix %q: %s, want exit 1 and one line naming it", verb[0], amb, r)
		}
	}
	// Nothing was removed or stopped through the ambiguous prefix.
	if n := len(e.ids()); n != made {
		t.Errorf("%d containers left after commands on an ambiguous prefix, want %d", n, made)
	}
	if !e.lcInspect(id).State.Running {
		t.Error("the running container stopped after `stop` with an ambiguous prefix")
	}
	// A name wins over an id prefix equal to it (Docker's rule: exact matches first).
	e.ok("run", "--name", amb, "busybox", "true")
	if d := e.lcInspect(amb); d.Name != "/"+amb || d.ID == other {
		t.Errorf("inspect %s (a name, also an ambiguous prefix) = %s %s, want the container named %s", amb, d.ID, d.Name, amb)
	}

	for _, verb := range [][]string{
		{"logs", "nosuch"}, {"stop", "nosuch"}, {"kill", "nosuch"}, {"rm", "nosuch"}, {"rm", "-f", "nosuch"},
		{"inspect", "nosuch"}, {"exec", "nosuch", "true"}, {"start", "nosuch"}, {"wait", "nosuch"},
	} {
		r := e.fails(1, "nosuch", verb...)
		want := "no such container"
		if verb[0] == "inspect" { // it looks for images, networks and volumes too
			want = "no such object"
		}
		if !strings.Contains(strings.ToLower(r.stderr), want) {
			t.Errorf("%s: stderr %q, want Docker's %q", strings.Join(verb, " "), r.stderr, want)
		}
		if verb[0] != "inspect" && r.stdout != "" {
			t.Errorf("%s: stdout %q, want none", strings.Join(verb, " "), r.stdout)
		}
	}
}

// TestLifecycleUsageErrors: a missing argument or a bad flag value is one
// line on stderr pointing at the right help; as in Docker, a flag that does
// not parse exits 125 and a missing argument or a value the command itself
// refuses exits 1.
func TestLifecycleUsageErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"logs"}, 1, "'hutch logs --help'"},
		{[]string{"exec", "c"}, 1, "'hutch exec --help'"},
		{[]string{"stop"}, 1, "'hutch stop --help'"},
		{[]string{"stop", "-t", "abc", "c"}, 125, "abc"},
		{[]string{"kill"}, 1, "'hutch kill --help'"},
		{[]string{"kill", "-s", "NOSUCHSIG", "c"}, 1, "NOSUCHSIG"},
		{[]string{"start"}, 1, "'hutch start --help'"},
		{[]string{"wait"}, 1, "'hutch wait --help'"},
		{[]string{"rm"}, 1, "'hutch rm --help'"},
		{[]string{"inspect"}, 1, "'hutch inspect --help'"},
		{[]string{"ps", "--bogus"}, 125, "bogus"},
		{[]string{"logs", "--tail", "-3", "c"}, 1, "-3"},
		{[]string{"image", "import", "onlyname"}, 1, "'hutch image import --help'"},
		{[]string{"image", "rm"}, 1, "'hutch image rm --help'"},
	} {
		r := e.run(tc.args...)
		if r.code != tc.code || len(lcLines(r.stderr)) != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("hutch %s: %s, want exit %d and one stderr line containing %q", strings.Join(tc.args, " "), r, tc.code, tc.want)
		}
	}
}
