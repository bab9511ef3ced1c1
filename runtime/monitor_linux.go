package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/logs"
	"github.com/hutchrt/hutch/runtime/oci"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// MonitorCommand is the hidden argv[1] of a detached monitor.
const MonitorCommand = "_monitor"

// attach says where a container's standard streams go.
type attach struct {
	detached    bool
	interactive bool
	tty         bool
	stdin       *os.File  // foreground: the user's stdin
	stdout      io.Writer // foreground: the user's terminal; detached: nil
	stderr      io.Writer
	signals     *signalCatcher // what reaches hutch, for the container
}

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
	go func() { released <- s.deleteRun(id) }() // kernel work: overlap it with the disk work
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
	relErr := errors.Join(<-released, netErr)
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

// running is a started container as its monitor sees it.
type running struct {
	pid       int
	cmd       *exec.Cmd
	outputs   []output              // the container's output streams, until copied
	stdinHold *os.File              // -di: the write end of stdin, held open
	onPty     func(master *os.File) // set with -t: takes the container's pty
	copiers   sync.WaitGroup
	cleanup   []func()
	net       *network.Attachment // its networks, with the host ports held while it runs
}

// output is one of the container's output streams and where it goes.
type output struct {
	r *os.File
	w io.Writer
}

func (r *running) kill() { unix.Kill(r.pid, unix.SIGKILL) }

// copyOutputs starts copying every output stream in this process.
func (r *running) copyOutputs() {
	for _, o := range r.outputs {
		r.copiers.Add(1)
		go func() { defer r.copiers.Done(); io.Copy(o.w, o.r); o.r.Close() }()
	}
	r.outputs = nil
}

// wait returns the container's exit code once it and its output are done.
func (r *running) wait() int {
	err := r.cmd.Wait()
	r.copiers.Wait()
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus)))
	}
	if err != nil {
		return 125
	}
	return 0
}

// startContainer creates the container through the OCI core (its init
// this thread's child), wires its network while the init builds its root,
// starts it and waits until the command runs. On error nothing is left.
func (s *Store) startContainer(c *Container, a attach) (_ *running, err error) {
	dir := s.Dir(c.ID)
	spec := c.spec // a foreground run's, from Create
	if spec == nil {
		if spec, err = loadSpec(dir); err != nil {
			return nil, err
		}
	}
	r := &running{}
	// The group exists before the clone: the init is cloned into its v2
	// group, and joins its v1 groups itself (see package cgroups).
	cg := c.cgroup // made by a foreground Create, with the directories
	c.cgroup = nil // this start owns it now, and hands it to the create
	if cg == nil {
		if cg, err = s.prepare(c.ID, spec.Linux.Resources); err != nil {
			return nil, err
		}
	}
	rt := s.ociRuntime()
	var child *oci.Child
	defer func() {
		if err == nil {
			return
		}
		switch {
		case child != nil:
			child.Kill()
			rt.Delete(c.ID, true)
		case cg != nil: // not handed over yet
			cg.Delete()
		}
		if r.net != nil {
			err = errors.Join(err, r.net.Detach())
		}
		r.copiers.Wait()
		for i := len(r.cleanup) - 1; i >= 0; i-- {
			r.cleanup[i]()
		}
	}()
	log, err := logs.CreateRotating(s.logPath(c), c.logConfig())
	if err != nil {
		return nil, err
	}
	r.cleanup = append(r.cleanup, func() { log.Close() })

	o := ociCreate(spec, dir)
	if target, ok := strings.CutPrefix(c.Network, "container:"); ok {
		ns, err := s.targetNetNS(target)
		if err != nil {
			return nil, err
		}
		defer ns.Close()
		o.NetNS = ns
	}
	stdio, childEnds, err := r.wireStdio(a, log)
	if err != nil {
		closeAll(childEnds)
		return nil, err
	}
	o.Stdio, o.OnConsole = stdio[:], r.onPty
	// The network is wired while the init mounts its root.
	o.Setup = func(pid int) error { r.pid = pid; return s.wire(c, r) }
	o.Cgroup, cg = cg, nil
	child, err = rt.CreateChild(c.ID, dir, o)
	closeAll(childEnds)
	if err != nil {
		return nil, err
	}
	r.cmd, r.pid = child.Cmd(), child.Pid()
	if a.signals != nil {
		if sig := a.signals.interrupted(); sig != 0 {
			return nil, interruptedError(sig)
		}
	}
	if err := child.Start(); err != nil {
		return nil, err
	}
	if a.signals != nil {
		a.signals.forwardTo(r.pid)
		r.cleanup = append(r.cleanup, a.signals.stop)
	}
	return r, nil
}

// prepareStart is the part of a foreground start that Create does alongside
// writing the record (both are mostly waiting on the kernel).
func (s *Store) prepareStart(c *Container) *sideTask {
	return &sideTask{
		run: func() (err error) {
			c.cgroup, err = s.prepare(c.ID, c.spec.Linux.Resources)
			return err
		},
		undo: func() {
			if c.cgroup != nil {
				c.cgroup.Delete()
				c.cgroup = nil
			}
		},
	}
}

// prepare makes what a start needs before the clone: the cgroup, and the
// overlay's upper and work directories and the root's mount point (those
// that exist are kept). On error no cgroup is left.
func (s *Store) prepare(id string, res *specs.LinuxResources) (*cgroups.Cgroup, error) {
	cg, err := cgroups.Create(id, res)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir(id), d), 0o755); err != nil {
			cg.Delete()
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	return cg, nil
}

// wireStdio makes the init's stdio (nil: /dev/null) and readies the
// copiers. It returns the child's ends, which the caller closes once the
// child has them.
func (r *running) wireStdio(a attach, log *logs.Writer) (stdio [3]*os.File, childEnds []*os.File, err error) {
	out := log.Stream("stdout")
	errw := log.Stream("stderr")
	if a.stdout != nil {
		out = io.MultiWriter(a.stdout, out)
		errw = io.MultiWriter(a.stderr, errw)
	}
	if a.tty {
		r.wirePty(a, out)
		return stdio, nil, nil
	}
	for _, w := range []io.Writer{out, errw} {
		pr, pw, err := os.Pipe()
		if err != nil {
			return stdio, childEnds, err
		}
		childEnds = append(childEnds, pw)
		r.outputs = append(r.outputs, output{pr, w})
	}
	stdio[1], stdio[2] = childEnds[0], childEnds[1]
	switch {
	case a.interactive && !a.detached:
		stdio[0] = a.stdin // passed straight through: EOF and all
	case a.interactive:
		// -di: keep stdin open (like Docker) with a pipe nobody writes to.
		pr, pw, err := os.Pipe()
		if err != nil {
			return stdio, childEnds, err
		}
		stdio[0] = pr
		childEnds = append(childEnds, pr)
		r.stdinHold = pw
		r.cleanup = append(r.cleanup, func() { pw.Close() })
	}
	return stdio, childEnds, nil
}

// wirePty prepares for the pty the init opens inside the container: once
// its master arrives, it is attached to the log (and, in the foreground, to
// the user's terminal).
func (r *running) wirePty(a attach, out io.Writer) {
	r.onPty = func(ptmx *os.File) {
		if a.detached { // nobody types into it: copy it like a pipe
			r.outputs = append(r.outputs, output{ptmx, out})
			r.cleanup = append(r.cleanup, func() { ptmx.Close() })
			return
		}
		var stdin *os.File
		if !a.detached {
			stdin = a.stdin
		}
		t := attachTerminal(ptmx, stdin, out, a.interactive)
		r.copiers.Add(1)
		go func() { <-t.drained; r.copiers.Done() }()
		r.cleanup = append(r.cleanup, func() { t.close(0) })
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
