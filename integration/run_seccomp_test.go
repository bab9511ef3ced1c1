//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// seccompProbe prints the container's seccomp mode and whether busybox's
// unshare -U (a user namespace: CAP_SYS_ADMIN in Docker's profile) ran.
const seccompProbe = `grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null; echo unshare=$?`

func seccompState(t *testing.T, out string) (mode, unshare string) {
	t.Helper()
	lines := runLines(out)
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "unshare=") {
		t.Fatalf("probe printed %q", out)
	}
	return runStatusField(t, lines[0], "Seccomp"), strings.TrimPrefix(lines[1], "unshare=")
}

// Docker's default profile: filter mode 2, user namespaces refused, and
// allowed again by the capability the profile gates them on. Each way the
// init installs it (before the identity, or last with no_new_privs; as
// root, as another user, under --init) ends in a filtered command.
func TestRunSeccompDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, flags := range [][]string{nil, {"--init"}, {"-u", "1000"}, {"--security-opt", "no-new-privileges"},
		{"--security-opt", "no-new-privileges", "-u", "1000", "--init"}, {"--security-opt", "seccomp=builtin"}} {
		mode, unshare := seccompState(t, e.runSh(seccompProbe, append([]string{"--network", "none"}, flags...)...))
		if mode != "2" || unshare == "0" {
			t.Errorf("run %v: Seccomp %s, unshare -U exit %s; want 2 and refused", flags, mode, unshare)
		}
	}
	r := e.run("run", "--rm", "--network", "none", "busybox", "unshare", "-U", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("unshare -U: %s, want EPERM", r)
	}
	// What a shell does is allowed: files, forks, pipes, signals.
	if out := e.runSh(`mkdir /tmp/d && echo x > /tmp/d/f && cat /tmp/d/f | wc -c && (sleep 5 & kill $!; wait $!; echo $?)`, "--network", "none"); out != "2\n143" {
		t.Errorf("a shell's work under the filter: %q", out)
	}
	mode, unshare := seccompState(t, e.runSh(seccompProbe, "--network", "none", "--cap-add", "SYS_ADMIN"))
	if mode != "2" || unshare != "0" {
		t.Errorf("--cap-add SYS_ADMIN: Seccomp %s, unshare -U exit %s; want 2 and allowed", mode, unshare)
	}
	if opt := e.runInspect(e.ok("run", "-d", "--network", "none", "busybox", "true"))["HostConfig"].(map[string]any)["SecurityOpt"]; opt != nil {
		t.Errorf("inspect SecurityOpt %v, want null as in Docker", opt)
	}
}

// seccomp=unconfined and --privileged run without a filter, as in Docker.
func TestRunSeccompOptOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, flags := range [][]string{{"--security-opt", "seccomp=unconfined"}, {"--security-opt", "seccomp:unconfined"}, {"--privileged"}} {
		mode, unshare := seccompState(t, e.runSh(seccompProbe, append([]string{"--network", "none"}, flags...)...))
		if mode != "0" || unshare != "0" {
			t.Errorf("run %v: Seccomp %s, unshare -U exit %s; want 0 and allowed", flags, mode, unshare)
		}
	}
	id := e.ok("run", "-d", "--network", "none", "--security-opt", "seccomp=unconfined", "busybox", "true")
	opt, _ := e.runInspect(id)["HostConfig"].(map[string]any)["SecurityOpt"].([]any)
	if len(opt) != 1 || opt[0] != "seccomp=unconfined" {
		t.Errorf("inspect SecurityOpt %v, want [seccomp=unconfined]", opt)
	}
}

// A profile in Docker's format replaces the default: here everything is
// allowed but mkdir, which answers EACCES (errnoRet 13).
func TestRunSeccompProfileFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	profile := filepath.Join(e.root, "nomkdir.json")
	if err := os.WriteFile(profile, []byte(`{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("run", "--rm", "--network", "none", "--security-opt", "seccomp="+profile, "busybox", "sh", "-c",
		seccompProbe+`; mkdir /tmp/d; echo mkdir=$?`)
	lines := runLines(r.stdout)
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("run with %s: %s", profile, r)
	}
	if mode, unshare := seccompState(t, strings.Join(lines[:2], "\n")); mode != "2" || unshare != "0" {
		t.Errorf("custom profile: Seccomp %s, unshare -U exit %s; want 2 and allowed (not Docker's profile)", mode, unshare)
	}
	if lines[2] == "mkdir=0" || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("mkdir under a profile denying it: %q, stderr %q; want EACCES", lines[2], r.stderr)
	}
	// inspect shows the profile's content, as Docker does.
	id := e.ok("run", "-d", "--network", "none", "--security-opt", "seccomp="+profile, "busybox", "true")
	opt, _ := e.runInspect(id)["HostConfig"].(map[string]any)["SecurityOpt"].([]any)
	want := `seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`
	if len(opt) != 1 || opt[0] != want {
		t.Errorf("inspect SecurityOpt %q, want [%s]", opt, want)
	}
}

// A profile that is missing, not JSON, or not one hutch can load: one line,
// exit 125, nothing made.
func TestRunSeccompBadProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	write := func(name, body string) string {
		p := filepath.Join(e.root, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ profile, want string }{
		{filepath.Join(e.root, "missing.json"), "missing.json"},
		{write("cut.json", `{"defaultAction": `), "cut.json"},
		{write("notify.json", `{"defaultAction": "SCMP_ACT_NOTIFY"}`), "SCMP_ACT_NOTIFY"},
		{write("op.json", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
			"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}`), "SCMP_CMP_SOMETIMES"},
	} {
		for _, mode := range []string{"--rm", "-d"} {
			e.fails(125, c.want, "run", mode, "--security-opt", "seccomp="+c.profile, "busybox", "true")
		}
	}
	e.fails(125, "seccomp", "run", "--rm", "--security-opt", "seccomp=", "busybox", "true")
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left after bad profiles: %v", ids)
	}
	if out := e.ok("ps", "-aq"); out != "" {
		t.Errorf("ps -aq after bad profiles: %q", out)
	}
}

// exec's process gets the container's filter, by either path in (before
// the capabilities drop, or last with no_new_privs), and none when the
// container has none.
func TestExecSeccomp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		flags []string
		mode  string
	}{
		{nil, "2"},
		{[]string{"--security-opt", "no-new-privileges"}, "2"},
		{[]string{"--security-opt", "seccomp=unconfined"}, "0"},
		{[]string{"--privileged"}, "0"},
	}
	for _, c := range cases {
		id := e.ok(append(append([]string{"run", "-d", "--network", "none"}, c.flags...), "busybox", "sleep", "60")...)
		for _, as := range [][]string{nil, {"-u", "1000"}, {"-t"}} {
			out := e.ok(append(append([]string{"exec"}, as...), id, "sh", "-c", seccompProbe)...)
			mode, unshare := seccompState(t, strings.ReplaceAll(out, "\r", ""))
			refused := unshare != "0"
			if mode != c.mode || refused != (c.mode == "2") {
				t.Errorf("run %v, exec %v: Seccomp %s, unshare -U exit %s; want %s and refused %v",
					c.flags, as, mode, unshare, c.mode, c.mode == "2")
			}
		}
		e.ok("rm", "-f", id)
	}
	// A custom profile reaches exec too.
	profile := filepath.Join(e.root, "nomkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`), 0o644)
	id := e.ok("run", "-d", "--network", "none", "--security-opt", "seccomp="+profile, "busybox", "sleep", "60")
	r := e.run("exec", id, "mkdir", "/tmp/d")
	if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("exec mkdir under a profile denying it: %s", r)
	}
	if got := runLines(e.ok("exec", id, "ls", "/tmp")); slices.Contains(got, "d") {
		t.Errorf("/tmp holds %q after a denied mkdir", got)
	}
	e.ok("rm", "-f", id)
}
