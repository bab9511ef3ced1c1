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

// TestUpdateRestart: update --restart changes the policy of a running
// container (its next exit follows it) and of a stopped one; a bad policy,
// or a restarting one for a --rm container, is one line, exit 1, and
// changes nothing.
func TestUpdateRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "r", "--network", "none", "busybox", "sh", "-c", "while [ ! -f /go ]; do sleep 0.1; done; exit 3")
	if st := e.rsState("r"); st.Policy != "no" {
		t.Fatalf("policy before update %q, want no", st.Policy)
	}
	if out := e.ok("update", "--restart", "on-failure:1", "r"); out != "r" {
		t.Errorf("update --restart prints %q, want r", out)
	}
	if st := e.rsState("r"); st.Policy != "on-failure" || st.MaxRetries != 1 || !st.Running {
		t.Errorf("after update: %+v, want running, on-failure:1", st)
	}
	e.ok("exec", "r", "touch", "/go") // exit 3, a restart, exit 3 again (the file stays), then no more
	st := e.rsWait("r", "stopped after one restart", func(st rsState) bool {
		return st.Status == "exited" && st.MonitorPid == 0
	})
	if st.RestartCount != 1 || st.ExitCode != 3 {
		t.Errorf("under the updated policy: %+v, want 1 restart, exit 3", st)
	}

	// A stopped container.
	e.ok("update", "--restart", "unless-stopped", "r")
	if st := e.rsState("r"); st.Policy != "unless-stopped" {
		t.Errorf("stopped container's policy %q, want unless-stopped", st.Policy)
	}
	e.fails(1, "unknown policy", "update", "--restart", "sometimes", "r")
	e.fails(1, "maximum retry count", "update", "--restart", "always:2", "r")
	e.fails(1, "no such container", "update", "--restart", "always", "nosuch")
	if st := e.rsState("r"); st.Policy != "unless-stopped" {
		t.Errorf("policy after bad updates %q, want unless-stopped", st.Policy)
	}
	e.ok("update", "--restart", "no", "r")
	if st := e.rsState("r"); st.Policy != "no" {
		t.Errorf("policy %q, want no", st.Policy)
	}

	e.lcRunDetached("--rm", "--name", "auto", "--network", "none", "busybox", "sleep", "1000")
	e.fails(1, "AutoRemove", "update", "--restart", "always", "auto")
	if st := e.rsState("auto"); st.Policy != "no" {
		t.Errorf("--rm container's policy %q after a refused update, want no", st.Policy)
	}
}

// TestPrivilegedCgroupRW: /sys/fs/cgroup is read-only in a container, and
// read-write in a privileged one (Docker's): there the container can make
// a group of its own under its cgroup.
func TestPrivilegedCgroupRW(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The first hierarchy under /sys/fs/cgroup (the container's own group).
	const script = `grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1
for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do [ -f "$d/cgroup.procs" ] && break; done
if mkdir "$d/hutch-child" 2>/dev/null; then rmdir "$d/hutch-child" && echo wrote; else echo refused; fi`
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{nil, "ro\nrefused"},
		{[]string{"--privileged"}, "rw\nwrote"},
	} {
		args := append(append([]string{"run", "--rm", "--network", "none"}, tt.flags...), "busybox", "sh", "-c", script)
		if out := e.ok(args...); out != tt.want {
			t.Errorf("run %v: /sys/fs/cgroup %q, want %q", tt.flags, out, tt.want)
		}
	}
}

// TestFlagsAfterArgs: flags after arguments are flags (Docker's), but for
// the commands whose arguments after the first are a command.
func TestFlagsAfterArgs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lcRunDetached("--name", "fa", "--network", "none", "busybox", "sleep", "1000")
	ids := e.ok("images", "-q", "busybox")
	if got := e.ok("images", "busybox", "-q"); got != ids || len(runLines(got)) != 1 {
		t.Errorf("images busybox -q: %q, want %q (one id)", got, ids)
	}
	if got := e.ok("inspect", "fa", "-f", "{{.Name}}"); got != "/fa" {
		t.Errorf("inspect fa -f: %q, want /fa", got)
	}
	if got := e.ok("exec", "fa", "echo", "-q", "--rm"); got != "-q --rm" {
		t.Errorf("exec's command took %q, want its arguments -q --rm", got)
	}
	if got := e.ok("run", "--rm", "--network", "none", "busybox", "echo", "-d"); got != "-d" {
		t.Errorf("run's command took %q, want its argument -d", got)
	}
	e.fails(1, "it is running", "rm", "fa")
	if got := e.ok("rm", "fa", "-f"); got != "fa" {
		t.Errorf("rm fa -f: %q, want fa", got)
	}
	e.fails(125, "flag provided but not defined", "ps", "x", "--nope") // a flag error: 125, as Docker's
}
