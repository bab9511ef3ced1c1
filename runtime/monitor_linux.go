package runtime

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/logs"
	"github.com/hutchrt/hutch/runtime/oci"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// MonitorCommand is the hidden argv[1] of a detached monitor.
const MonitorCommand = "_monitor"

// now is the wall clock as records store it.
func now() time.Time { return time.Now().UTC() }

// monitor runs one container from start to exit and returns its exit code.
// ready is called once: nil when the command runs, or the start error.
// It must run on the goroutine that will live as long as the container.
func (s *Store) monitor(c *Container, a attach, ready func(error)) (code int, err error) {
	id := c.ID
	// Pdeathsig follows this thread: keep it for the container's whole life.
	goruntime.LockOSThread()
	start, err := selfStart()
	if err != nil {
		ready(err)
		return 125, err
	}
	if c.MonitorPid != os.Getpid() || c.MonitorStart != start { // not claimed when created
		c, err = s.claim(id, start)
	}
	if err != nil {
		ready(err)
		return 125, err
	}
	run, err := s.startContainer(c, a)
	if err != nil {
		ready(err)
		code := 125
		var ie *oci.InitError
		if errors.As(err, &ie) {
			code = ie.Code
		}
		s.finish(id, code, err, false)
		return code, err
	}
	c, err = s.update(id, func(c *Container) error {
		if c.ManuallyStopped { // a stop came while a restart started it
			return errStoppedWhileStarting
		}
		if err := c.moveTo(StatusRunning); err != nil {
			return err
		}
		c.ExitCode = 0
		c.Pid, c.PidStart, c.StartedAt = run.pid, procstart.Of(run.pid), now()
		c.Health = initialHealth(c.Healthcheck)
		if run.net != nil {
			c.Ports = run.net.Ports
		}
		return nil
	})
	if err != nil {
		run.kill()
	}
	if err == nil {
		err = s.startProber(c) // from this thread: see health_linux.go
		if err != nil {
			run.kill()
		}
	}
	if err == nil {
		s.containerEvent(c, "start")
	}
	ready(err)
	if a.detached && err == nil {
		err = run.execShim(s, c) // returns only if the exec failed
		s.update(id, func(c *Container) error {
			c.Error = fmt.Sprintf("monitor: %v (kept the Go monitor)", err)
			return nil
		})
	}
	run.copyOutputs()
	code = run.wait()
	if !a.detached && err == nil && s.handOff(c, code) {
		return code, nil // a detached finisher restarts it
	}
	s.finish(id, code, nil, true)
	return code, nil
}

// execShim turns this detached monitor into its idle C half (runtime/shim):
// same process, so it stays the init's parent, and exec'd from the thread
// that cloned the init, so Pdeathsig does not fire. The shim copies the
// output streams into the log and, when the container exits, execs
// `hutch _finish` to record it.
func (r *running) execShim(s *Store, c *Container) error {
	path, cfg := s.logPath(c), c.logConfig()
	if cfg.Driver == logs.None {
		path = os.DevNull
	}
	log, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	env := []string{"_HUTCH_SHIM=1", "_HUTCH_SHIM_ROOT=" + s.Root, "_HUTCH_SHIM_ID=" + c.ID,
		"_HUTCH_SHIM_CHILD=" + strconv.Itoa(r.pid), "_HUTCH_SHIM_LOG=" + fdString(log)}
	if cfg.Driver != logs.None && cfg.MaxSize > 0 {
		env = append(env, "_HUTCH_SHIM_LOG_PATH="+path, "_HUTCH_SHIM_LOG_MAX="+strconv.FormatInt(cfg.MaxSize, 10),
			"_HUTCH_SHIM_LOG_FILES="+strconv.Itoa(cfg.MaxFile))
	}
	keep := []*os.File{log, r.stdinHold}
	keep = append(keep, r.net.Files()...) // the shim holds the host ports
	for i, o := range r.outputs {
		env = append(env, []string{"_HUTCH_SHIM_STDOUT=", "_HUTCH_SHIM_STDERR="}[i]+fdString(o.r))
		keep = append(keep, o.r)
	}
	for _, f := range keep {
		if f != nil {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil { // survive the exec
				return err
			}
		}
	}
	err = unix.Exec("/proc/self/exe", []string{"/proc/self/exe", MonitorCommand, s.Root, c.ID}, env)
	log.Close()
	return fmt.Errorf("exec shim: %w", err)
}

func fdString(f *os.File) string { return strconv.Itoa(int(f.Fd())) }

// FinishCommand is the hidden argv[1] the shim execs when the container exited.
const FinishCommand = "_finish"

// FinishMain records a detached container's exit: `_finish ROOT ID CODE`.
func FinishMain(root, id, code string) {
	s, err := OpenStore(root)
	n, convErr := strconv.Atoi(code)
	if err != nil || convErr != nil {
		os.Exit(125)
	}
	os.Exit(s.afterExit(id, n)) // or, under a restart policy, start it again (restart_linux.go)
}

// claim makes this process the container's monitor, unless another live
// monitor already is (a parallel start).
func (s *Store) claim(id string, start uint64) (*Container, error) {
	// A cp or export may have the stopped container's overlay mounted: wait until it is done.
	unlock, err := s.lockFiles(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.update(id, func(c *Container) error {
		if c.monitorLive() {
			return errAlreadyRunning
		}
		c.MonitorPid, c.MonitorStart, c.BootID = os.Getpid(), start, bootID()
		c.Error = ""
		c.ManuallyStopped, c.RestartCount, c.RestartDelay = false, 0, 0 // a user's start: a new loop
		return nil
	})
}

// finish records the end of a run (or of a failed start), frees what the
// container held and, with --rm, removes it. The run's OCI state and cgroup
// go whatever became of the record (rm -f may have removed it already).
func (s *Store) finish(id string, code int, startErr error, ran bool) {
	c, readErr := s.read(id)
	autoRemove := readErr == nil && c.AutoRemove
	cg, err := cgroups.Load(id)
	// Read before the group goes; a --rm container's record goes with it.
	oom := !autoRemove && err == nil && cg.OOMKilled()
	released := make(chan error, 1)
	go func() { released <- deleteCgroup(cg, err) }() // kernel work: overlap it with the disk work
	stateErr := s.ociRuntime().Delete(id, true)
	var netErr error
	if readErr == nil {
		netErr = s.unwire(c, false)
	}
	if readErr == nil && c.Status != StatusRestarting { // a restart's back-off journalled its die
		s.containerEvent(c, "die", "exitCode", strconv.Itoa(code))
	}
	if autoRemove {
		s.remove(id)
		s.containerEvent(c, "destroy")
		s.removeVolumes(anonymousVolumes(c))
		<-released
		s.tellWaiters(id, code)
		return
	}
	relErr := errors.Join(<-released, stateErr, netErr)
	s.update(id, func(c *Container) error {
		c.OOMKilled = oom
		if ran || c.Status != StatusCreated { // a failed first start stays created
			if err := c.moveTo(StatusExited); err != nil {
				return err
			}
			c.FinishedAt = now()
		}
		c.ExitCode = code
		if startErr != nil {
			c.Error = startErr.Error()
		} else if relErr != nil {
			c.Error = relErr.Error()
		}
		c.Pid, c.PidStart, c.MonitorPid, c.MonitorStart = 0, 0, 0, 0
		c.Ports = nil
		return nil
	})
}

// release frees what a container holds while it runs. Mounts need nothing:
// they live in the container's mount namespace and vanish with it.
func (s *Store) release(c *Container) error {
	err := s.unwire(c, true)
	c.Ports = nil
	return errors.Join(err, s.deleteRun(c.ID))
}

// deleteCgroup takes what cgroups.Load returned; no group is nothing to do.
func deleteCgroup(cg *cgroups.Cgroup, loadErr error) error {
	if errors.Is(loadErr, cgroups.ErrNotFound) {
		return nil
	}
	if loadErr != nil {
		return loadErr
	}
	return cg.Delete()
}
