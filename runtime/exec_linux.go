package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/cgroups"
	_ "github.com/hutchrt/hutch/runtime/containerinit" // the container's init, before Go starts
	_ "github.com/hutchrt/hutch/runtime/nsenter"       // joins the container before Go starts
	"github.com/hutchrt/hutch/runtime/seccomp"
	_ "github.com/hutchrt/hutch/runtime/shim" // the idle half of a detached monitor
	"github.com/hutchrt/hutch/runtime/user"
)

// ExecCommand is the hidden argv[1] of the process that exec starts inside a
// container (after nsenter has joined it).
const ExecCommand = "_exec"

// ExecOptions is what `hutch exec` asks for.
type ExecOptions struct {
	Args        []string
	Env         []string
	Workdir     string
	User        string
	Interactive bool
	Tty         bool
}

// execConfig travels in the environment to the process inside.
type execConfig struct {
	Args            []string `json:"args"`
	Env             []string `json:"env"`
	Cwd             string   `json:"cwd"`
	User            string   `json:"user"` // resolved inside, against the container's /etc/passwd
	Caps            []string `json:"caps"`
	NoNewPrivileges bool     `json:"noNewPrivileges"`
	Seccomp         []byte   `json:"seccomp,omitempty"` // the container's filter, compiled (struct sock_filter[])
	SeccompFlags    uint     `json:"seccompFlags,omitempty"`
	Tty             bool     `json:"tty"` // fd 4 is a socket for the pty master
}

// Exec runs a command inside a running container, in all its namespaces and
// its cgroup, with its capabilities, and returns the command's exit code
// (126 or 127 when it cannot start); 125 and an error when hutch failed
// before the command could start (no such container, ...).
func (s *Store) Exec(ref string, o ExecOptions, stdin *os.File, stdout, stderr *os.File) (int, error) {
	// The exec's process tree is in its own session; pass on what reaches us.
	sigs := catchSignals()
	defer sigs.stop()
	if len(o.Args) == 0 {
		return 125, invalidf("exec: no command given")
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return 125, invalidf("working directory %q is not an absolute path", o.Workdir)
	}
	c, err := s.Get(ref)
	if err != nil {
		return 125, err
	}
	if !c.Running() || !alive(c.Pid, c.PidStart) {
		return 125, fmt.Errorf("container %s is not running", c.Name)
	}
	spec, err := loadSpec(s.Dir(c.ID))
	if err != nil {
		return 125, err
	}
	env := spec.Process.Env
	if o.User != "" {
		env = withoutEnv(env, "HOME") // the exec's user brings its own home
	}
	extra, err := (&RunOptions{Env: o.Env}).environment(os.LookupEnv)
	if err != nil {
		return 125, err
	}
	cfg := execConfig{
		Args: o.Args, Env: mergeEnv(env, extra), Cwd: spec.Process.Cwd, User: o.User,
		NoNewPrivileges: spec.Process.NoNewPrivileges, Tty: o.Tty,
	}
	if o.Workdir != "" {
		cfg.Cwd = o.Workdir
	}
	if o.User == "" {
		cfg.User = fmt.Sprintf("%d:%d", spec.Process.User.UID, spec.Process.User.GID)
	}
	if spec.Process.Capabilities != nil {
		cfg.Caps = spec.Process.Capabilities.Bounding
	}
	// Compiled here, outside: the process inside only loads it.
	filter, err := compileSeccomp(spec)
	if err != nil {
		return 125, err
	}
	if filter != nil {
		cfg.Seccomp, cfg.SeccompFlags = filter.Bytes(), filter.Flags
	}
	cg, err := cgroups.Load(c.ID)
	if err != nil || cg == nil {
		return 125, fmt.Errorf("exec: cgroup of %s: %v", c.Name, err)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return 125, err
	}
	self, err := sealedSelf()
	if err != nil {
		return 125, err
	}
	defer self.Close()

	cmd := exec.Command("/proc/self/fd/3", ExecCommand)
	cmd.ExtraFiles = []*os.File{self}
	cmd.Env = []string{
		"_HUTCH_NSENTER_PID=" + fmt.Sprint(c.Pid),
		"_HUTCH_NSENTER_CGROUPS=" + strings.Join(cg.TaskFiles(), ":"),
		"_HUTCH_EXEC=" + string(cfgJSON),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: unix.SIGKILL}
	// Cloned into the v2 group; nsenter writes to the v1 tasks files itself.
	unified, err := openUnified(cg)
	if err != nil {
		return 125, err
	}
	if unified != nil {
		defer unified.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(unified.Fd())
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if o.Interactive && !o.Tty {
		cmd.Stdin = stdin
	}
	var ptySock *os.File
	if o.Tty {
		// The process inside opens its pty in the container's devpts and
		// sends us the master over this socket (fd 4 inside).
		var child *os.File
		if ptySock, child, err = socketPair(); err != nil {
			return 125, err
		}
		defer ptySock.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, child)
		defer child.Close()
	}
	goruntime.LockOSThread() // Pdeathsig is per thread
	defer goruntime.UnlockOSThread()
	if sig := sigs.interrupted(); sig != 0 {
		return 128 + int(sig), interruptedError(sig)
	}
	if err := cmd.Start(); err != nil {
		return 125, fmt.Errorf("exec: %w", err)
	}
	var tty *terminal
	if ptySock != nil {
		cmd.ExtraFiles[1].Close()
		err := awaitInit(ptySock, func(ptmx *os.File) {
			tty = attachTerminal(ptmx, stdin, stdout, o.Interactive)
		})
		if err != nil {
			cmd.Process.Kill()
		}
	}
	sigs.forwardTo(cmd.Process.Pid)
	err = cmd.Wait()
	sigs.stop() // its pid is free for reuse now
	if tty != nil {
		tty.close(2 * time.Second)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(unix.WaitStatus(ee.Sys().(syscall.WaitStatus))), nil
	}
	if err != nil {
		return 125, fmt.Errorf("exec: %w", err)
	}
	return 0, nil
}

// sealedSelf is a sealed in-memory copy of the hutch binary. The process
// that enters a container runs from it, so nothing in the container can reach
// and overwrite the host's binary through /proc/<pid>/exe (CVE-2019-5736).
func sealedSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("hutch", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hutch-sealed")
	// A plain read/write copy: io.Copy would splice, and spliced pages still
	// pinned make F_SEAL_WRITE fail with EBUSY.
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{src}, make([]byte, 256<<10)); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return f, nil
}

// ExecInit runs inside the container (nsenter joined it): it becomes the
// requested user with the container's capabilities and execs the command.
func ExecInit() {
	goruntime.LockOSThread() // capabilities are per thread
	code, err := execInit()
	fmt.Fprintf(os.Stderr, "hutch: %v\n", err)
	os.Exit(code)
}

// execStartFailed is the exit code of an exec whose command never started
// (no such user, capabilities refused, ...): Docker's daemon gives such an
// exec 126, as it gives an exec whose command cannot be executed.
const execStartFailed = 126

func execInit() (int, error) {
	var cfg execConfig
	if err := json.Unmarshal([]byte(os.Getenv("_HUTCH_EXEC")), &cfg); err != nil {
		return execStartFailed, fmt.Errorf("exec: bad configuration: %w", err)
	}
	if cfg.Tty {
		// A session of its own, so the container's pty can be its controlling terminal.
		if _, err := unix.Setsid(); err != nil {
			return execStartFailed, fmt.Errorf("setsid: %w", err)
		}
		if _, err := takePty(os.NewFile(4, "pty-sock")); err != nil {
			return execStartFailed, err
		}
	}
	u, err := user.Lookup("/", cfg.User)
	if err != nil {
		return execStartFailed, err
	}
	env := cfg.Env
	if u.Home != "" && !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	var filter *seccomp.Filter
	if len(cfg.Seccomp) > 0 {
		if filter, err = seccomp.FromBytes(cfg.Seccomp, cfg.SeccompFlags); err != nil {
			return 125, err
		}
	}
	if cfg.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return execStartFailed, fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	// As in the container's init: before the capabilities go without
	// no_new_privs, else just before the exec. The filter binds this
	// thread (ExecInit locked it), the one that execs.
	if filter != nil && !cfg.NoNewPrivileges {
		if err := filter.Load(); err != nil {
			return 125, err
		}
	}
	if err := caps.Apply(caps.Sets(cfg.Caps, u.UID), u.UID, u.GID, u.AdditionalGids); err != nil {
		return execStartFailed, err
	}
	// A change of credentials clears the parent-death signal: set it again,
	// so the command still dies with the hutch exec that runs it.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return execStartFailed, fmt.Errorf("set parent-death signal: %w", err)
	}
	if err := unix.Chdir(cfg.Cwd); err != nil {
		return 126, fmt.Errorf("exec: working directory %s: %w", cfg.Cwd, err)
	}
	path, code, err := lookCommand(cfg.Args[0], env)
	if err != nil {
		return code, err
	}
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return execStartFailed, fmt.Errorf("close_range: %w", err)
	}
	if filter != nil && cfg.NoNewPrivileges {
		if err := filter.Load(); err != nil {
			return 125, err
		}
	}
	err = unix.Exec(path, cfg.Args, env)
	return execCode(err), fmt.Errorf("exec %s: %w", cfg.Args[0], err)
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if envKey(e) != key {
			out = append(out, e)
		}
	}
	return out
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if envKey(e) == key {
			return true
		}
	}
	return false
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

// exitStatus is Docker's exit code for a wait status: 128+n for signal n.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
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
