package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/runtime/caps"
)

// InitCommand is the hidden argv[1] of the re-exec'd init.
const InitCommand = "_init"

// Init is the container side of the re-exec: it becomes the container's
// command (or, with --init, its reaper). It never returns.
func Init(dir string) {
	// Capabilities, the cgroup namespace and Pdeathsig are per thread: stay on one.
	goruntime.LockOSThread()
	// Until exec, nothing in the container may open /proc/1/exe (the host's hutch).
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	sync := os.NewFile(3, "sync")
	code, err := runInit(dir, sync)
	writeInitError(sync, code, err.Error())
	os.Exit(code)
}

// runInit returns only on failure, with the exit code to report.
func runInit(dir string, sync *os.File) (int, error) {
	spec, err := loadSpec(dir)
	if err != nil {
		return 125, err
	}
	if err := joinNetwork(spec.Annotations[annotNetwork]); err != nil {
		return 125, err
	}
	if err := waitFor(sync, "go"); err != nil {
		return 125, err
	}
	if err := setupRootfs(spec, filepath.Join(dir, "upper"), filepath.Join(dir, "work")); err != nil {
		return 125, err
	}
	// Cloned into its v2 cgroup, the init joins its v1 cgroups itself; the
	// group then becomes the root of its cgroup namespace.
	if err := joinCgroups(os.Getenv(initTasksEnv)); err != nil {
		return 125, err
	}
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return 125, fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	// The monitor says run once the network is wired.
	if err := waitFor(sync, "run"); err != nil {
		return 125, err
	}
	if spec.Process.Terminal {
		if err := setupTerminal(sync); err != nil {
			return 125, err
		}
	}
	if spec.Annotations[annotNetwork] != "host" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return 125, fmt.Errorf("set hostname: %w", err)
		}
	}
	p := spec.Process
	if err := setRlimits(p.Rlimits); err != nil {
		return 125, err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return 125, fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if err := caps.Apply(p.Capabilities, p.User.UID, p.User.GID, p.User.AdditionalGids); err != nil {
		return 125, err
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return 126, fmt.Errorf("working directory %s: %w", p.Cwd, err)
	}
	path, code, err := lookCommand(p.Args[0], p.Env)
	if err != nil {
		return code, err
	}
	if spec.Annotations[annotInit] == "true" {
		return reap(path, p, sync)
	}
	// Nothing of hutch's may leak into the container.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return 125, fmt.Errorf("close_range: %w", err)
	}
	err = unix.Exec(path, p.Args, p.Env)
	return execCode(err), fmt.Errorf("exec %s: %w", p.Args[0], err)
}

func loadSpec(dir string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read config.json: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode config.json: %w", err)
	}
	if s.Process == nil || len(s.Process.Args) == 0 || s.Root == nil || s.Linux == nil {
		return nil, errors.New("config.json: process, root or linux missing")
	}
	return &s, nil
}

var rlimitOf = map[string]int{"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC}

func setRlimits(limits []specs.POSIXRlimit) error {
	for _, l := range limits {
		res, ok := rlimitOf[l.Type]
		if !ok {
			return fmt.Errorf("rlimit %s: not supported", l.Type)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fmt.Errorf("set %s: %w", l.Type, err)
		}
	}
	return nil
}

// lookCommand finds the command in the container's PATH, with Docker's exit
// codes: 127 not found, 126 found but not executable.
func lookCommand(name string, env []string) (string, int, error) {
	os.Clearenv()
	for _, e := range env {
		k, v, _ := cutEnv(e)
		os.Setenv(k, v)
	}
	path, err := exec.LookPath(name)
	if err == nil {
		return path, 0, nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return "", 127, fmt.Errorf("exec: %q: executable file not found in $PATH", name)
	}
	return "", 126, fmt.Errorf("exec: %q: permission denied", name)
}

func cutEnv(e string) (k, v string, ok bool) {
	for i := 0; i < len(e); i++ {
		if e[i] == '=' {
			return e[:i], e[i+1:], true
		}
	}
	return e, "", false
}

func execCode(err error) int {
	if errors.Is(err, unix.ENOENT) {
		return 127
	}
	return 126
}

// reap is --init: hutch stays pid 1, runs the command as its child, passes
// signals on and reaps every orphan, and exits with the child's status.
func reap(path string, p *specs.Process, sync *os.File) (int, error) {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := exec.Command(path)
	cmd.Args = p.Args
	cmd.Env = p.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child gets its own process group, in the foreground of the
	// terminal if there is one (the reaper keeps the terminal as its own).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: p.Terminal, Ctty: 0}
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return 125, fmt.Errorf("close_range: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return execCode(err), fmt.Errorf("exec %s: %w", p.Args[0], err)
	}
	sync.Write([]byte("{}"))
	sync.Close()
	child := cmd.Process.Pid
	for sig := range sigs {
		if sig == unix.SIGCHLD {
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || pid <= 0 {
					break
				}
				if pid == child {
					os.Exit(exitStatus(ws))
				}
			}
			continue
		}
		if sig == unix.SIGURG { // the Go scheduler's own preemption signal
			continue
		}
		unix.Kill(child, sig.(unix.Signal))
	}
	return 125, errors.New("init: signal channel closed")
}

// exitStatus is Docker's exit code for a wait status: 128+n for signal n.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// setupTerminal opens a pty in the container's own devpts (so the command
// sees /dev/pts/0 as Docker's do), hands the master to the monitor, and makes
// the slave the init's stdio, controlling terminal and /dev/console.
func setupTerminal(sync *os.File) error {
	n, err := takePty(sync)
	if err != nil {
		return err
	}
	console := "/dev/console"
	if f, err := os.OpenFile(console, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		f.Close()
	}
	if err := unix.Mount(fmt.Sprintf("/dev/pts/%d", n), console, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/console: %w", err)
	}
	return nil
}

// takePty opens a pty in the devpts of the current mount namespace, sends
// the master over sync to whoever copies it, and makes the slave this
// process's stdio and controlling terminal (the caller is a session leader).
// It returns the pty's number.
func takePty(sync *os.File) (uint32, error) {
	master, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open pty: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return 0, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return 0, fmt.Errorf("pty number: %w", err)
	}
	// TIOCGPTPEER opens the slave from the master; its argument is the open flags.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
	if errno != 0 {
		return 0, fmt.Errorf("open pty slave: %w", errno)
	}
	slave := int(r)
	defer unix.Close(slave)
	if err := sendPty(sync, master); err != nil {
		return 0, err
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return 0, fmt.Errorf("pty as stdio: %w", err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return 0, fmt.Errorf("set controlling terminal: %w", err)
	}
	return n, nil
}

// joinCgroups writes "0" to each tasks file, the comma-separated
// descriptors in fds, which moves this thread alone: the thread that execs
// the command.
func joinCgroups(fds string) error {
	if fds == "" {
		return nil
	}
	for _, s := range strings.Split(fds, ",") {
		fd, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("join cgroup: bad descriptor %q", s)
		}
		_, err = unix.Write(fd, []byte("0"))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// joinNetwork enters the network namespace of --network container:NAME
// (fd 4, from the monitor) or brings up the loopback of the container's own.
// Before the mounts: /sys shows the namespace of whoever mounts it.
func joinNetwork(mode string) error {
	if strings.HasPrefix(mode, "container:") {
		// This thread execs the command, so it takes the namespace along.
		if err := unix.Setns(4, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("join network of %s: %w", mode, err)
		}
		return unix.Close(4)
	}
	if mode == "host" {
		return nil
	}
	return link.LoopbackUp()
}
