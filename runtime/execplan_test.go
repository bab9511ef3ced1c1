package runtime

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/oci"
	"github.com/hutchrt/hutch/runtime/user"
)

func TestExecPlan(t *testing.T) {
	spec := newSpec(specInput{
		ID: "abc", Dir: "/c/abc", LowerDir: "/img", Args: []string{"sleep", "100"}, Env: []string{"A=1"},
		Cwd: "/work", Hostname: "h", Home: "/root", Caps: caps.Sets([]string{"CAP_CHOWN", "CAP_KILL"}, 0),
		NoNewPrivileges: true, Network: "none", HostNofileHard: 20000,
	})
	var err error
	if spec.Linux.Seccomp, err = seccompProfile(securityOpts{}, false, spec); err != nil {
		t.Fatal(err)
	}
	o := ExecOptions{Args: []string{"sh", "-c", "id"}, User: "user", Workdir: "/etc", Tty: true}
	u := user.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}, Home: "/home/user", Name: "user"}
	join := oci.ExecJoin{Tasks: []int{5}}
	for i, kind := range oci.ExecNamespaces[1:] { // a hutch container has no user namespace
		join.NS = append(join.NS, oci.NsFd{Fd: 6 + i, Kind: kind})
	}
	p, err := oci.BuildExec(spec, execProcess(spec, o, u, []string{"FOO=bar", "A=2"}), join, 40)
	if err != nil {
		t.Fatal(err)
	}
	ops := planOps(t, p)
	var names []string
	for _, op := range ops {
		names = append(names, op[0])
	}
	// Into the cgroups, then the namespaces (the pid namespace takes the
	// fork), then what the container's init does for its command; with
	// no_new_privs the filter goes in last.
	want := []string{"tasks", "setns", "setns", "setns", "setns", "setns", "setns", "fork",
		"pty", "rlimit", "nnp", "identity", "chdir", "seccomp", "exec"}
	if !slices.Equal(names, want) {
		t.Fatalf("exec plan ops %v, want %v", names, want)
	}
	for i, kind := range []string{"cgroup", "ipc", "uts", "net", "pid", "mnt"} {
		if op := ops[1+i]; !slices.Equal(op, []string{"setns", itoa(6 + i), kind}) {
			t.Errorf("join %d: %q, want %s at fd %d", i, op, kind, 6+i)
		}
	}
	for _, want := range [][]string{{"tasks", "5"}, {"pty", "0"}, {"chdir", "/etc"},
		{"rlimit", itoa(unix.RLIMIT_NOFILE), "20000", "20000"},
		// A non-root user: the container's capabilities only in the bounding set.
		{"identity", "1000", "1000", "10", "40", "21", "0", "0", "0", "0"}} {
		if !slices.ContainsFunc(ops, func(op []string) bool { return slices.Equal(op, want) }) {
			t.Errorf("exec plan lacks %q: %q", want, ops)
		}
	}
	exec := ops[len(ops)-1]
	if exec[1] != "0" || !slices.Equal(exec[2:6], []string{"3", "sh", "-c", "id"}) {
		t.Errorf("exec %q: want no reaper and sh -c id", exec)
	}
	env := exec[7:]
	for _, e := range []string{"A=2", "FOO=bar", "HOME=/home/user", "HOSTNAME=h"} {
		if !slices.Contains(env, e) {
			t.Errorf("exec env %q lacks %s", env, e)
		}
	}
	if slices.Contains(env, "HOME=/root") || slices.Contains(env, "A=1") {
		t.Errorf("exec env %q: the container's HOME or A survived", env)
	}
}

func TestExecPlanDefaults(t *testing.T) {
	// No -u, -w, -t: the container's user, working directory, capabilities;
	// without no_new_privs the filter goes in before the identity.
	spec := newSpec(specInput{Dir: "/c/abc", Args: []string{"true"}, Cwd: "/work", Home: "/root",
		Caps: caps.Sets([]string{"CAP_CHOWN"}, 0), HostNofileHard: 1024})
	var err error
	if spec.Linux.Seccomp, err = seccompProfile(securityOpts{}, false, spec); err != nil {
		t.Fatal(err)
	}
	u := user.User{Home: "/root"}
	p, err := oci.BuildExec(spec, execProcess(spec, ExecOptions{Args: []string{"ls"}}, u, nil), oci.ExecJoin{}, 40)
	if err != nil {
		t.Fatal(err)
	}
	ops := planOps(t, p)
	if opIndex(ops, "pty") >= 0 || opIndex(ops, "nnp") >= 0 || opIndex(ops, "fork") != 0 {
		t.Errorf("exec plan %q: want fork first, no pty, no nnp", ops)
	}
	if s, id := opIndex(ops, "seccomp"), opIndex(ops, "identity"); s < 0 || s > id {
		t.Errorf("seccomp at %d, identity at %d: want the filter first", s, id)
	}
	if id := ops[opIndex(ops, "identity")]; !slices.Equal(id[1:3], []string{"0", "0"}) || id[5] != "1" || id[6] != "1" || id[7] != "1" {
		t.Errorf("root's identity %q: want CAP_CHOWN bounding, effective, permitted", id)
	}
	if !slices.ContainsFunc(ops, func(op []string) bool { return slices.Equal(op, []string{"chdir", "/work"}) }) {
		t.Errorf("exec plan %q: want the container's working directory", ops)
	}
	if env := ops[len(ops)-1]; !slices.Contains(env, "HOME=/root") {
		t.Errorf("exec %q: want the container's HOME", env)
	}
}
