//go:build integration

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// devHostChar returns "major minor" of a host character device outside
// Docker's allowed list that root opens without a capability beyond
// CAP_DAC_OVERRIDE: without device rules, a container's root can make a node
// for it and open it (the host's console, its screen, the loop control).
func devHostChar(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/dev/vcs", "/dev/tty0", "/dev/loop-control"} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR {
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			f.Close()
			return fmt.Sprintf("%d %d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
	}
	t.Skip("no host character device to try (/dev/vcs, /dev/tty0, /dev/loop-control)")
	return ""
}

// devOpenScript makes a node for the device "major minor" and opens it for
// reading: it prints "mknod ok", then "open ok" or head's error.
func devOpenScript(dev string) string {
	return fmt.Sprintf(`mknod /tmp/d c %s && echo mknod ok && { head -c0 /tmp/d 2>&1 && echo open ok; }; true`, dev)
}

// A container may make a node for a host device (mknod is allowed, as in
// Docker) but the device cgroup refuses to open it; the standard devices
// of its /dev stay usable, and so does a node it makes for one of them.
func TestRunDevicesDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := devHostChar(t)
	out := e.runSh(devOpenScript(dev) + `
echo x > /dev/null && echo null ok
head -c1 /dev/zero | wc -c; head -c1 /dev/urandom | wc -c; head -c1 /dev/random | wc -c
echo x 2>&1 > /dev/full | grep -q 'No space left' && echo full ok
mknod /tmp/n c 1 3 && echo x > /tmp/n && echo own null ok`)
	want := []string{"mknod ok", "head: /tmp/d: Operation not permitted", "null ok", "1", "1", "1", "full ok", "own null ok"}
	if got := runLines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("device %s in a container:\n%s\nwant:\n%s", dev, out, strings.Join(want, "\n"))
	}
}

// --privileged allows every device, as in Docker.
func TestRunDevicesPrivileged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := devHostChar(t)
	if out := e.runSh(devOpenScript(dev), "--privileged"); out != "mknod ok\nopen ok" {
		t.Errorf("device %s with --privileged: %q, want mknod ok, open ok", dev, out)
	}
}

// With -t, the terminal devices are usable: the controlling terminal
// (/dev/tty), /dev/console, the pty itself and a new pty from /dev/ptmx.
func TestRunDevicesTty(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.runStartPty(24, 80, "run", "--rm", "-t", "busybox", "sh", "-c",
		`echo x > /dev/tty && echo x > /dev/console && echo x > "$(tty)" && exec 3<>/dev/ptmx && echo "ttys ok"`)
	if code := s.wait(15 * time.Second); code != 0 || !strings.Contains(s.output(), "ttys ok") {
		t.Errorf("run -t: exit %d, terminal shows %q, want ttys ok", code, s.output())
	}
}

// An exec'd process is held by the same rules, and a container started
// again (start after stop) gets them back.
func TestRunDevicesExecAndRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := devHostChar(t)
	id := e.lcRunDetached("busybox", "sleep", "300")
	want := "mknod ok\nhead: /tmp/d: Operation not permitted"
	if out := e.ok("exec", id, "sh", "-c", devOpenScript(dev)); out != want {
		t.Errorf("exec: %q, want %q", out, want)
	}
	e.ok("stop", "-t", "0", id)
	e.ok("start", id)
	if out := e.ok("exec", id, "sh", "-c", "rm -f /tmp/d; "+devOpenScript(dev)); out != want {
		t.Errorf("exec after a restart: %q, want %q", out, want)
	}
	e.ok("rm", "-f", id)
}
