package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/oci"
)

// hutch answers to runc's command line when it is called by one of these
// names (a link to the binary): that is how containerd's runc shim, and
// anything else that drives an OCI runtime, finds it (BinaryName).
var runcNames = map[string]bool{"hutch-runc": true, "runc": true}

// runcMain is the OCI runtime: runc's verbs and flags, exit 1 on error.
func runcMain(args []string) int {
	app := newRuncApp()
	if err := app.Run(args); err != nil {
		var code exitErr
		if errors.As(err, &code) {
			return int(code)
		}
		runcLogError(err)
		return 1
	}
	return 0
}

// exitErr is a command's own exit code (exec, run), not an error.
type exitErr int

func (e exitErr) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// runcLog is where errors also go as JSON lines (--log, --log-format json):
// containerd's shim reads the last one to say why a command failed.
var runcLog struct {
	path string
	json bool
}

func runcLogError(err error) {
	fmt.Fprintf(os.Stderr, "hutch-runc: %v\n", err)
	if runcLog.path == "" {
		return
	}
	f, ferr := os.OpenFile(runcLog.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	if runcLog.json {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().UTC().Format(time.RFC3339Nano)})
		f.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), err.Error())
}

func newRuncApp() *cli.App {
	return &cli.App{
		Name:                   "hutch-runc",
		Usage:                  "hutch as an OCI runtime, with runc's command line",
		Version:                "0.1.0 (runc-compatible)\nspec: " + specs.Version,
		UseShortOptionHandling: true,
		HideHelpCommand:        true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/hutch-runc", Usage: "directory for the containers' state"},
			&cli.StringFlag{Name: "log", Usage: "also write errors to this file"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "accepted for runc's sake"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "refused: hutch writes cgroups itself"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted: false or auto (hutch runs as root)"},
			&cli.StringFlag{Name: "criu", Hidden: true},
		},
		Before: func(ctx *cli.Context) error {
			runcLog.path, runcLog.json = ctx.String("log"), ctx.String("log-format") == "json"
			if f := ctx.String("log-format"); f != "text" && f != "json" {
				return fmt.Errorf("--log-format %q: not text or json", f)
			}
			if ctx.Bool("systemd-cgroup") {
				return errors.New("--systemd-cgroup: the systemd cgroup driver is not supported (hutch writes cgroups itself; set SystemdCgroup = false)")
			}
			if r := ctx.String("rootless"); r == "true" {
				return errors.New("--rootless true: not supported (hutch runs as root)")
			}
			oci.Warn = func(msg string) { runcLogError(errors.New("warning: " + msg)) }
			return nil
		},
		Commands: []*cli.Command{
			runcCreate(), runcStart(), runcState(), runcKill(), runcDelete(), runcExec(),
			runcPs(), runcPause(), runcResume(), runcUpdate(), runcFeatures(), runcSpec(),
			runcRun(), runcList(),
		},
		OnUsageError: func(ctx *cli.Context, err error, _ bool) error { return err },
		CommandNotFound: func(ctx *cli.Context, name string) {
			runcLogError(fmt.Errorf("%q is not a hutch-runc command", name))
			os.Exit(1)
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func runtimeOf(ctx *cli.Context) *oci.Runtime {
	return &oci.Runtime{Root: ctx.String("root")}
}

// oneID is the command's single argument, the container id.
func oneID(ctx *cli.Context) (string, error) {
	if ctx.NArg() != 1 {
		return "", fmt.Errorf("%s: needs exactly one container id, got %d arguments", ctx.Command.Name, ctx.NArg())
	}
	return ctx.Args().First(), nil
}

var stdio = []*os.File{os.Stdin, os.Stdout, os.Stderr}

func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "the bundle's directory"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the init's pid here"},
		&cli.StringFlag{Name: "console-socket", Usage: "a unix socket that receives the terminal's master"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "enter the root by moving it and chroot, not pivot_root (a root on a ramfs)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "accepted; no session keyring is made"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass the container's process this many descriptors from 3 on"},
	}
}

func createOptions(ctx *cli.Context) (oci.CreateOptions, error) {
	return oci.CreateOptions{PidFile: ctx.String("pid-file"), ConsoleSocket: ctx.String("console-socket"), Stdio: stdio,
		NoPivot: ctx.Bool("no-pivot"), PreserveFds: ctx.Int("preserve-fds")}, nil
}

func runcCreate() *cli.Command {
	return &cli.Command{
		Name: "create", Usage: "create a container from a bundle; its process waits for start", ArgsUsage: "ID",
		Flags: createFlags(),
		Action: func(ctx *cli.Context) error {
			id, err := oneID(ctx)
			if err != nil {
				return err
			}
			o, err := createOptions(ctx)
			if err != nil {
				return err
			}
			return runtimeOf(ctx).Create(id, ctx.String("bundle"), o)
		},
	}
}

func runcRun() *cli.Command {
	flags := append(createFlags(), &cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the container"})
	return &cli.Command{
		Name: "run", Usage: "create and start a container, wait for it and delete it", ArgsUsage: "ID",
		Flags: flags,
		Action: func(ctx *cli.Context) error {
			id, err := oneID(ctx)
			if err != nil {
				return err
			}
			o, err := createOptions(ctx)
			if err != nil {
				return err
			}
			code, err := runtimeOf(ctx).Run(id, ctx.String("bundle"), o, ctx.Bool("detach"))
			if err != nil {
				return err
			}
			if code != 0 {
				return exitErr(code)
			}
			return nil
		},
	}
}

func idCommand(name, usage string, do func(r *oci.Runtime, id string) error) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "ID",
		Action: func(ctx *cli.Context) error {
			id, err := oneID(ctx)
			if err != nil {
				return err
			}
			return do(runtimeOf(ctx), id)
		},
	}
}

func runcStart() *cli.Command {
	return idCommand("start", "let a created container's process run", (*oci.Runtime).Start)
}

func runcPause() *cli.Command {
	return idCommand("pause", "freeze every process of a container", (*oci.Runtime).Pause)
}

func runcResume() *cli.Command {
	return idCommand("resume", "thaw a paused container", (*oci.Runtime).Resume)
}

func runcState() *cli.Command {
	return idCommand("state", "print a container's state (JSON)", func(r *oci.Runtime, id string) error {
		st, err := r.State(id)
		if err != nil {
			return err
		}
		return printJSON(st)
	})
}

func printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

func runcKill() *cli.Command {
	return &cli.Command{
		Name: "kill", Usage: "send a signal (default SIGTERM) to a container's process", ArgsUsage: "ID [SIGNAL]",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "to every process in its cgroup"}},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() < 1 || ctx.NArg() > 2 {
				return fmt.Errorf("kill: needs a container id and at most a signal")
			}
			sig := unix.SIGTERM
			if ctx.NArg() == 2 {
				var err error
				if sig, err = parseSignal(ctx.Args().Get(1)); err != nil {
					return err
				}
			}
			return runtimeOf(ctx).Kill(ctx.Args().First(), sig, ctx.Bool("all"))
		},
	}
}

// parseSignal reads "9", "KILL" or "SIGKILL".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %q: out of range", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: no such signal", s)
}

func runcDelete() *cli.Command {
	return &cli.Command{
		Name: "delete", Usage: "delete a stopped container (--force: any)", ArgsUsage: "ID",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill it first if it runs"}},
		Action: func(ctx *cli.Context) error {
			id, err := oneID(ctx)
			if err != nil {
				return err
			}
			return runtimeOf(ctx).Delete(id, ctx.Bool("force"))
		},
	}
}

func runcPs() *cli.Command {
	return &cli.Command{
		Name: "ps", Usage: "list a container's processes", ArgsUsage: "ID",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}},
		Action: func(ctx *cli.Context) error {
			id, err := oneID(ctx)
			if err != nil {
				return err
			}
			pids, err := runtimeOf(ctx).Pids(id)
			if err != nil {
				return err
			}
			switch ctx.String("format") {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				fmt.Println(string(b))
			case "table":
				fmt.Println("PID")
				for _, p := range pids {
					fmt.Println(p)
				}
			default:
				return fmt.Errorf("--format %q: not table or json", ctx.String("format"))
			}
			return nil
		},
	}
}

func runcUpdate() *cli.Command {
	return &cli.Command{
		Name: "update", Usage: "set a container's cgroup limits", ArgsUsage: "ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "LinuxResources JSON from this file, - for stdin"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "the pids limit"},
			&cli.StringFlag{Name: "memory", Usage: "the memory limit in bytes"},
		},
		Action: func(ctx *cli.Context) error {
			id, err := oneID(ctx)
			if err != nil {
				return err
			}
			res := &specs.LinuxResources{}
			if f := ctx.String("resources"); f != "" {
				var b []byte
				if f == "-" {
					b, err = io.ReadAll(os.Stdin)
				} else {
					b, err = os.ReadFile(f)
				}
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, res); err != nil {
					return fmt.Errorf("--resources: %w", err)
				}
			}
			if ctx.IsSet("pids-limit") {
				n := ctx.Int64("pids-limit")
				res.Pids = &specs.LinuxPids{Limit: &n}
			}
			if m := ctx.String("memory"); m != "" {
				n, err := strconv.ParseInt(m, 10, 64)
				if err != nil {
					return fmt.Errorf("--memory %q: not a number of bytes", m)
				}
				res.Memory = &specs.LinuxMemory{Limit: &n}
			}
			return runtimeOf(ctx).Update(id, res)
		},
	}
}

func runcFeatures() *cli.Command {
	return &cli.Command{
		Name: "features", Usage: "print what this runtime implements (JSON)",
		Action: func(ctx *cli.Context) error { return printJSON(oci.Features()) },
	}
}

func runcSpec() *cli.Command {
	return &cli.Command{
		Name: "spec", Usage: "write a default config.json in the bundle",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "the bundle's directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "refused: hutch runs as root"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.Bool("rootless") {
				return errors.New("spec --rootless: not supported")
			}
			path := filepath.Join(ctx.String("bundle"), "config.json")
			b, err := json.MarshalIndent(oci.DefaultSpec(), "", "\t")
			if err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s exists already: remove it first", path)
			}
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write(append(b, '\n'))
			return err
		},
	}
}

func runcList() *cli.Command {
	return &cli.Command{
		Name: "list", Usage: "list the containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "ids only"},
		},
		Action: func(ctx *cli.Context) error {
			all, err := runtimeOf(ctx).List()
			if err != nil {
				return err
			}
			switch {
			case ctx.Bool("quiet"):
				for _, st := range all {
					fmt.Println(st.ID)
				}
			case ctx.String("format") == "json":
				if all == nil {
					all = []*oci.State{}
				}
				return printJSON(all)
			default:
				fmt.Printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED")
				for _, st := range all {
					fmt.Printf("%-20s %-8d %-10s %-40s %s\n", st.ID, st.Pid, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano))
				}
			}
			return nil
		},
	}
}

func runcExec() *cli.Command {
	return &cli.Command{
		Name: "exec", Usage: "run a process in a running container", ArgsUsage: "ID [COMMAND [ARG...]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "the process, as config.json's process (JSON file)"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "on a terminal"},
			&cli.StringFlag{Name: "console-socket", Usage: "a unix socket that receives the terminal's master"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid here"},
			&cli.StringFlag{Name: "cwd", Usage: "the working directory"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "KEY=VALUE, more than once"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID]"},
			&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "a supplementary group, more than once"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "a capability to add, more than once"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass the process this many descriptors from 3 on"},
			&cli.StringFlag{Name: "apparmor", Usage: "the AppArmor profile"},
			&cli.StringFlag{Name: "process-label", Hidden: true},
			&cli.BoolFlag{Name: "ignore-paused", Hidden: true},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() < 1 {
				return errors.New("exec: needs a container id")
			}
			r := runtimeOf(ctx)
			id := ctx.Args().First()
			proc, err := execProcessOf(ctx, r, id)
			if err != nil {
				return err
			}
			code, err := r.Exec(id, proc, oci.ExecOptions{
				Detach: ctx.Bool("detach"), PidFile: ctx.String("pid-file"),
				ConsoleSocket: ctx.String("console-socket"), Stdio: stdio,
				PreserveFds: ctx.Int("preserve-fds"),
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitErr(code)
			}
			return nil
		},
	}
}

// execProcessOf is the process runc exec runs: --process's, or the
// container's own with the command and flags given.
func execProcessOf(ctx *cli.Context, r *oci.Runtime, id string) (*specs.Process, error) {
	if f := ctx.String("process"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", f, err)
		}
		return &p, nil
	}
	if ctx.NArg() < 2 {
		return nil, errors.New("exec: needs a command or --process")
	}
	base, err := r.Process(id)
	if err != nil {
		return nil, err
	}
	p := *base
	p.Args = ctx.Args().Slice()[1:]
	p.Terminal = ctx.Bool("tty")
	p.Env = append(append([]string{}, p.Env...), ctx.StringSlice("env")...)
	if c := ctx.String("cwd"); c != "" {
		p.Cwd = c
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, _ := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: not UID[:GID]", u)
		}
		p.User.UID = uint32(n)
		if gid != "" {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: not UID[:GID]", u)
			}
			p.User.GID = uint32(g)
		}
	}
	for _, g := range ctx.StringSlice("additional-gids") {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if add := ctx.StringSlice("cap"); len(add) > 0 {
		if _, err := caps.Mask(add); err != nil {
			return nil, err
		}
		c := specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			c = *p.Capabilities
		}
		c.Bounding = append(append([]string{}, c.Bounding...), add...)
		c.Effective = append(append([]string{}, c.Effective...), add...)
		c.Permitted = append(append([]string{}, c.Permitted...), add...)
		p.Capabilities = &c
	}
	if ctx.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if a := ctx.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	return &p, nil
}
