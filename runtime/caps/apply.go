package caps

import (
	"fmt"
	"syscall"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Apply makes the calling thread the container's user (uid, gid and exactly
// groups as supplementary groups) holding exactly the capabilities in c; a
// nil c means none at all. Call it as root on a thread locked with
// runtime.LockOSThread, right before execve: capabilities are per thread, and
// only this thread survives the exec. The ids change for every thread of the
// process (Go's syscall.Setuid and friends do that), which is harmless here.
func Apply(c *specs.LinuxCapabilities, uid, gid uint32, groups []uint32) error {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	want, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	want.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for _, s := range []struct {
		which capability.CapType
		names []string
	}{
		{capability.BOUNDING, c.Bounding},
		{capability.EFFECTIVE, c.Effective},
		{capability.PERMITTED, c.Permitted},
		{capability.INHERITABLE, c.Inheritable},
		{capability.AMBIENT, c.Ambient},
	} {
		for _, n := range s.names {
			v, ok := byName[n]
			if !ok {
				return fmt.Errorf("apply capabilities: unknown capability %q", n)
			}
			want.Set(s.which, v)
		}
	}

	// The bounding set can only shrink with CAP_SETPCAP in the effective
	// set, which we hold only while still root: drop it first.
	if err := want.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("drop bounding capabilities: %w", err)
	}
	if err := checkBounding(want); err != nil {
		return err
	}

	// Without KEEPCAPS, setuid from root to another user clears the
	// permitted set, and capset could not give anything back.
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	gids := make([]int, len(groups))
	for i, g := range groups {
		gids[i] = int(g)
	}
	// Always call setgroups, even with none: otherwise the container would
	// keep hutch's own supplementary groups.
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("set groups %v: %w", groups, err)
	}
	if err := syscall.Setgid(int(gid)); err != nil {
		return fmt.Errorf("set gid %d: %w", gid, err)
	}
	if err := syscall.Setuid(int(uid)); err != nil {
		return fmt.Errorf("set uid %d: %w", uid, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}

	// Only now set effective/permitted/inheritable (setuid emptied the
	// effective set), then ambient, which requires inheritable+permitted.
	if err := want.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	if err := want.Apply(capability.AMBS); err != nil {
		return fmt.Errorf("set ambient capabilities: %w", err)
	}
	return nil
}

// checkBounding verifies the bounding set really shrank: the library skips
// the drop silently when the thread lacks CAP_SETPCAP.
func checkBounding(want capability.Capabilities) error {
	supported, err := capability.ListSupported()
	if err != nil {
		return fmt.Errorf("list supported capabilities: %w", err)
	}
	for _, c := range supported {
		if want.Get(capability.BOUNDING, c) {
			continue
		}
		has, err := capability.GetBound(c)
		if err != nil {
			return fmt.Errorf("read bounding set: %w", err)
		}
		if has {
			return fmt.Errorf("drop bounding capability %s: not permitted (CAP_SETPCAP missing)", name(c))
		}
	}
	return nil
}
