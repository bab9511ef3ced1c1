//go:build integration

package integration

// config.md's process: args, env, cwd, user, umask, rlimits,
// noNewPrivileges, capabilities, oomScoreAdj; and hostname.

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociProcessCase is one container whose output says whether a field of
// config.json was applied.
type ociProcessCase struct {
	name   string
	script string
	edit   func(*specs.Spec)
	check  func(t *testing.T, out string)
	skip   []string // runtimes that do not do this
	why    string
}

func TestOCIProcess(t *testing.T) {
	t.Parallel()
	umask := uint32(0o027)
	cases := []ociProcessCase{
		{name: "args", edit: func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", `printf '%s|' "$@"`, "zero", "a b", "", "c"}
		}, check: want("a b||c|")},
		{name: "args-path-lookup", edit: func(s *specs.Spec) { s.Process.Args = []string{"echo", "found on PATH"} },
			check: want("found on PATH\n")},
		{name: "env", script: `echo "$FOO"; echo "$EMPTY|"`, edit: func(s *specs.Spec) {
			s.Process.Env = []string{"PATH=/bin", "FOO=bar baz", "EMPTY="}
		}, check: func(t *testing.T, out string) {
			l := runLines(out)
			if len(l) != 2 || l[0] != "bar baz" || l[1] != "|" {
				t.Errorf("output %q, want FOO and EMPTY as set", out)
			}
		}},
		{name: "cwd", script: "pwd", edit: func(s *specs.Spec) { s.Process.Cwd = "/tmp" }, check: want("/tmp\n")},
		{name: "user", script: "grep -E '^(Uid|Gid|Groups):' /proc/self/status", edit: func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{1002, 1003}}
		}, check: func(t *testing.T, out string) {
			if f := ociStatus(out, "Uid"); f != "1000 1000 1000 1000" {
				t.Errorf("Uid %q, want 1000 in all four", f)
			}
			if f := ociStatus(out, "Gid"); f != "1001 1001 1001 1001" {
				t.Errorf("Gid %q, want 1001 in all four", f)
			}
			g := strings.Fields(ociStatus(out, "Groups"))
			if !slices.Contains(g, "1002") || !slices.Contains(g, "1003") || len(slices.DeleteFunc(g, func(s string) bool { return s == "1001" })) != 2 {
				t.Errorf("Groups %q, want the additionalGids 1002 1003", g)
			}
		}},
		{name: "umask", script: "umask", edit: func(s *specs.Spec) { s.Process.User.Umask = &umask }, check: want("0027\n")},
		{name: "rlimits", script: "cat /proc/self/limits", edit: func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 2048},
				{Type: "RLIMIT_MSGQUEUE", Soft: 1000, Hard: 2000},
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
			}
		}, check: func(t *testing.T, out string) {
			for name, lim := range map[string]string{"Max open files": "512 2048", "Max msgqueue size": "1000 2000", "Max core file size": "0 4096"} {
				if got := ociLimit(out, name); got != lim {
					t.Errorf("%s: %q, want %q\n%s", name, got, lim, out)
				}
			}
		}},
		{name: "noNewPrivileges", script: "grep NoNewPrivs /proc/self/status",
			edit: func(s *specs.Spec) { s.Process.NoNewPrivileges = true }, check: want("NoNewPrivs:\t1\n")},
		{name: "noNewPrivileges-false", script: "grep NoNewPrivs /proc/self/status",
			edit: func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, check: want("NoNewPrivs:\t0\n")},
		{name: "oomScoreAdj", script: "cat /proc/self/oom_score_adj",
			edit: func(s *specs.Spec) { v := 123; s.Process.OOMScoreAdj = &v }, check: want("123\n")},
		{name: "hostname", script: "hostname", edit: func(s *specs.Spec) { s.Hostname = "oci-host" }, check: want("oci-host\n")},
		{name: "domainname", script: "cat /proc/sys/kernel/domainname", edit: func(s *specs.Spec) { s.Domainname = "oci-domain" },
			check: want("oci-domain\n"), skip: []string{"runc"}, why: "runc 1.1.5 ignores domainname (runc 1.2 sets it)"},
		// As root, after execve: permitted = effective = bounding
		// (inheritable and ambient within it); the others as given.
		{name: "capabilities-root", script: "cat /proc/self/status", edit: func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{
				Bounding:    []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
				Permitted:   []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
				Effective:   []string{"CAP_KILL", "CAP_CHOWN"},
				Inheritable: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Ambient:     []string{"CAP_KILL"},
			}
		}, check: ociCaps(map[string][]int{
			"CapBnd": {unix.CAP_AUDIT_WRITE, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN},
			"CapPrm": {unix.CAP_AUDIT_WRITE, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN},
			"CapEff": {unix.CAP_AUDIT_WRITE, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN},
			"CapInh": {unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE},
			"CapAmb": {unix.CAP_KILL},
		})},
		// Not root: after execve permitted = effective = ambient.
		{name: "capabilities-user", script: "cat /proc/self/status", edit: func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Capabilities = &specs.LinuxCapabilities{
				Bounding:    []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SETUID"},
				Permitted:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
				Effective:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Inheritable: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
				Ambient:     []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
			}
		}, check: ociCaps(map[string][]int{
			"CapBnd": {unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN, unix.CAP_SETUID},
			"CapPrm": {unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE},
			"CapEff": {unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE},
			"CapInh": {unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN},
			"CapAmb": {unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE},
		})},
	}
	ociRunCases(t, cases)
}

// ociRunCases runs each case as a parallel subtest with an env of its own.
func ociRunCases(t *testing.T, cases []ociProcessCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newOCIEnv(t)
			if len(tc.skip) > 0 {
				e.skipFor(tc.why, tc.skip...)
			}
			spec := withTmp(shSpec(tc.script))
			if tc.edit != nil {
				tc.edit(spec)
			}
			tc.check(t, e.runSpec(strings.ToLower(tc.name), spec))
		})
	}
}

// want checks that the output is exactly s.
func want(s string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		if out != s {
			t.Errorf("output %q, want %q", out, s)
		}
	}
}

// ociStatus is field name of a /proc/PID/status text, spaces for tabs.
func ociStatus(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// ociLimit is "soft hard" of one row of a /proc/PID/limits text.
func ociLimit(limits, name string) string {
	for _, l := range strings.Split(limits, "\n") {
		if rest, ok := strings.CutPrefix(l, name); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return f[0] + " " + f[1]
			}
		}
	}
	return ""
}

// ociCaps checks the five capability sets of a /proc/PID/status text.
func ociCaps(want map[string][]int) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		for name, caps := range want {
			if got, w := runCapField(t, out, name), runCapMask(caps...); got != w {
				t.Errorf("%s = %016x, want %016x", name, got, w)
			}
		}
	}
}

// oomScoreAdj unset: the runtime MUST NOT change oom_score_adj, so the
// container has its caller's (here 77, set for create alone).
func TestOCIOOMScoreAdjUnset(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	e.wrap = []string{"sh", "-c", `echo 77 > /proc/self/oom_score_adj && exec "$0" "$@"`}
	if out := e.runSpec("oomunset", shSpec("cat /proc/self/oom_score_adj")); out != "77\n" {
		t.Errorf("oom_score_adj %q, want the caller's 77", out)
	}
}
