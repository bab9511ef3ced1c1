//go:build integration

package integration

import (
	"bytes"
	"crypto/sha256"
	"os"
	"slices"
	"strings"
	"testing"
)

// Only stdio reaches the container: descriptors hutch itself holds, and
// ones its caller leaked to it, are closed before the command runs.
func TestRunClosesFds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := runLines(e.runSh("ls /proc/self/fd")); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("fds inside: %q, want 0 1 2 and ls's own 3", got)
	}
	// hutch started with three more open descriptors (3, 4, 5).
	var extra []*os.File
	for i := 0; i < 3; i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	for _, flags := range [][]string{nil, {"--init"}, {"--privileged"}, {"-i"}} {
		cmd := e.command(append(append([]string{"run", "--rm"}, flags...), "busybox", "sh", "-c", "ls /proc/self/fd; ls /proc/1/fd | wc -l")...)
		cmd.ExtraFiles = extra
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Errorf("run %v with extra fds: %v: %q %q", flags, err, out.String(), errb.String())
			continue
		}
		got := runLines(out.String())
		if len(got) != 5 || !slices.Equal(got[:4], []string{"0", "1", "2", "3"}) {
			t.Errorf("run %v, hutch holding fds 3-5: fds inside %q, want 0 1 2 3", flags, got)
		}
	}
}

// The host's hutch binary cannot be written from inside a container, even
// through pid 1 being hutch's init (the runc CVE-2019-5736 class), with or
// without --privileged. A copy of the binary is used, so that a failure
// cannot damage the one other tests run.
func TestRunCannotOverwriteHostBinary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bin := runCopyHutch(t)
	sum := func() [32]byte {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	before := sum()
	run := func(args ...string) result {
		r, err := execHutch(bin, e.root, "", nil, args...)
		if err != nil {
			t.Fatalf("%s %v: %v", bin, args, err)
		}
		return r
	}
	attacks := map[string]string{
		"append":   `echo x >> /proc/1/exe; echo rc=$?`,
		"truncate": `(: > /proc/1/exe); echo rc=$?`,
		"via fd":   `(exec 3< /proc/1/exe && echo x >> /proc/self/fd/3); echo rc=$?`,
		"dd":       `dd if=/dev/zero of=/proc/1/exe bs=1 count=1 conv=notrunc 2>/dev/null; echo rc=$?`,
		"cp over":  `cp /bin/busybox /proc/1/exe 2>/dev/null; echo rc=$?`,
	}
	for _, flags := range [][]string{{"--init"}, {"--init", "--privileged"}, {"--privileged"}} {
		for name, script := range attacks {
			r := run(append(append([]string{"run", "--rm"}, flags...), "busybox", "sh", "-c", script)...)
			if r.code != 0 || strings.Contains(r.stdout, "rc=0") || !strings.Contains(r.stdout, "rc=") {
				t.Errorf("%v %s: %s: want the write to fail", flags, name, r)
			}
		}
	}
	if sum() != before {
		t.Fatalf("the hutch binary %s changed from inside a container", bin)
	}
	// The copy still works.
	if r := run("run", "--rm", "busybox", "true"); r.code != 0 {
		t.Errorf("the copied hutch no longer runs: %s", r)
	}
}
