package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns/resolver"
	"github.com/hutchrt/hutch/dns/resolver/watchdog"
	"github.com/hutchrt/hutch/runtime/mountinfo"
)

// `system prune` and `system reset`: the two ways to give back what a root
// holds, Docker's and Podman's; and `system df`, what it holds.

// System is the verbs over everything a root holds: its containers,
// networks, images and volumes.
type System struct {
	ctrs   *Store
	nets   *Networks
	images *Images
}

// NewSystem gives the system verbs of the root of ctrs.
func NewSystem(ctrs *Store) *System {
	return &System{ctrs: ctrs, nets: NewNetworks(ctrs.Root, ctrs), images: NewImages(ctrs.Root)}
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Containers []string // ids
	Networks   []string // names
	Reclaimed  int64    // bytes of the removed containers' own files
}

// Prune is Docker's `system prune`: every container that is not running,
// then every user-defined network no container uses. The default network
// stays; images stay (hutch has no dangling ones).
func (sys *System) Prune() (PruneReport, error) {
	var r PruneReport
	var err error
	r.Containers, r.Reclaimed, err = sys.ctrs.PruneContainers()
	if err != nil && r.Containers == nil {
		return r, err
	}
	var netErr error
	r.Networks, netErr = sys.nets.Prune()
	return r, errors.Join(err, netErr)
}

// PruneContainers is Docker's `container prune`: every container that is
// not running goes; it returns their ids and the bytes of their own files.
func (s *Store) PruneContainers() (ids []string, reclaimed int64, _ error) {
	var r PruneReport
	all, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	var errs []error
	for _, c := range all {
		if c.MonitorPid != 0 {
			continue // running, or being started
		}
		size := diskUsage(s.Dir(c.ID))
		if _, err := s.Remove(c.ID, false); err != nil {
			cur, getErr := s.Get(c.ID)
			if getErr != nil || cur.MonitorPid != 0 {
				continue // removed or started meanwhile: not ours to report
			}
			errs = append(errs, err)
			continue
		}
		r.Containers = append(r.Containers, c.ID)
		r.Reclaimed += size
	}
	if r.Containers == nil {
		r.Containers = []string{}
	}
	return r.Containers, r.Reclaimed, errors.Join(errs...)
}

// diskUsage is the bytes of the regular files under dir (not following
// links, not crossing into mounts: a container's are not in this namespace).
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// ResetReport is what Reset removed.
type ResetReport struct {
	Containers  []string // ids
	Networks    []string // names
	Images      []string // names
	RootRemoved bool     // the root directory itself is gone (it held nothing else)
}

// rootEntries are the entries hutch makes in a root. Reset removes these,
// then the root itself if nothing else is left in it.
var rootEntries = []string{"containers", "oci", "networks", "images", "volumes", "dns", "run", "events.log", "events.log.1"}

// Reset is Podman's `system reset` for one root: every container (running
// ones are killed), every network (the default one too) with its bridge,
// the root's nftables table, every image, the resolver and any other hutch
// process of the root, mounts under the root, and its directories. The
// root directory goes too unless something not hutch's is in it: Podman
// removes its whole storage root, but a --root may be a directory the user
// also keeps other things in. Afterwards the host is as before the root was
// first used, except for what every root shares (the host-wide subnet lock
// file in /run/lock and the parent "hutch" cgroups).
//
// It keeps going past a failure, so one stuck object does not leave the
// rest; what failed is returned, and a second Reset tries it again.
func (sys *System) Reset() (ResetReport, error) {
	s := sys.ctrs
	var r ResetReport
	var errs []error
	all, err := s.List() // also sweeps creates that died half-way, and their cgroups
	errs = append(errs, err)
	for _, c := range all {
		if _, err := s.Remove(c.ID, true); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		r.Containers = append(r.Containers, c.ID)
	}
	// What no record names any more: a monitor whose record is gone (its
	// container dies with it; its cgroup goes here), the resolver (which
	// exits with its last container, but need not be idle yet), a `finish`
	// half-way.
	orphans, err := killRootProcesses(s.Root)
	errs = append(errs, err)
	for _, id := range orphans {
		errs = append(errs, s.deleteRun(id))
	}
	errs = append(errs, s.deleteOrphanRuns())
	nets, err := s.Networks()
	if err == nil {
		r.Networks, err = nets.Reset()
	}
	errs = append(errs, err)
	r.Images, err = sys.images.Store.Reset()
	errs = append(errs, err)
	errs = append(errs, unmountUnder(s.Root))
	if err := errors.Join(errs...); err != nil {
		return r, err // the records of what is left stay, for the next reset
	}
	for _, name := range rootEntries {
		if err := os.RemoveAll(filepath.Join(s.Root, name)); err != nil {
			errs = append(errs, fmt.Errorf("reset: %w", err))
		}
	}
	if err := os.Remove(s.Root); err == nil || errors.Is(err, fs.ErrNotExist) {
		r.RootRemoved = true
	}
	return r, errors.Join(errs...)
}

// killRootProcesses kills every hutch process that works for this root
// (monitors, shims, finishes, the resolver and its watchdog), found by the
// argv they are started with, and waits until they are gone. The watchdogs
// go first: a watchdog outliving its resolver would start it again. It
// returns the ids of the containers whose monitors it killed.
func killRootProcesses(root string) (ids []string, err error) {
	roots := map[string]bool{root: true}
	if abs, err := filepath.Abs(root); err == nil {
		roots[abs] = true
	}
	dns := map[string]bool{}
	for root := range roots {
		dns[filepath.Join(root, "dns")] = true
	}
	var watchdogs, others []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone
		}
		argv := strings.Split(string(b), "\x00")
		if len(argv) < 3 {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		switch {
		case argv[1] == watchdog.Command && dns[argv[2]]:
			watchdogs = append(watchdogs, pid)
		case argv[1] == resolver.ServeCommand && dns[argv[2]]:
			others = append(others, pid)
		case (argv[1] == MonitorCommand || argv[1] == FinishCommand) && roots[argv[2]]:
			others = append(others, pid)
			if len(argv) > 3 && isID(argv[3]) {
				ids = append(ids, argv[3])
			}
		}
	}
	var errs []error
	for _, pid := range append(watchdogs, others...) {
		errs = append(errs, killAndWait(pid))
	}
	return ids, errors.Join(errs...)
}

// killAndWait sends SIGKILL to pid through a pidfd (so a reused pid is
// never hit) and waits until it has exited.
func killAndWait(pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // gone already
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process %d: %w", pid, err)
	}
	if !waitFd(fd, 10*time.Second) {
		return fmt.Errorf("process %d did not exit after SIGKILL", pid)
	}
	return nil
}

// unmountUnder detaches every mount at or below dir in this mount
// namespace, deepest first. hutch mounts nothing there itself (a
// container's overlay lives in its own namespace), but a crash or a user's
// bind mount may have left one, and the root cannot be removed past it.
func unmountUnder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := mountinfo.Unescape(f[4])
		if p == abs || strings.HasPrefix(p, abs+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
