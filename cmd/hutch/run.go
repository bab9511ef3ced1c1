package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/runtime"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command in a new container",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background and print the container id"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
			&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
			&cli.StringFlag{Name: "name", Usage: "container name"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable (K=V, or K to copy it from here)"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory (absolute)"},
			&cli.StringFlag{Name: "entrypoint", Usage: "override the image's entrypoint (\"\" clears it)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user: name|uid[:group|gid]"},
			&cli.StringFlag{Name: "hostname", Usage: "container host name"},
			&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Value: "bridge", Usage: "bridge, a network's name, none, host or container:NAME"},
			&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a port: [hostIP:][hostPort:]ctrPort[/tcp|/udp]"},
			&cli.BoolFlag{Name: "publish-all", Aliases: []string{"P"}, Usage: "publish every exposed port on a host port the kernel picks"},
			&cli.StringSliceFlag{Name: "expose", Usage: "expose a port or range: PORT[/tcp|/udp] or A-B[/proto] (published only with -P)"},
			&cli.StringSliceFlag{Name: "network-alias", Aliases: []string{"net-alias"}, Usage: "another name for the container on its network"},
			&cli.StringFlag{Name: "ip", Usage: "the container's IPv4 address on a user-defined network"},
			&cli.StringSliceFlag{Name: "add-host", Usage: "add NAME:IP to /etc/hosts"},
			&cli.StringSliceFlag{Name: "dns", Usage: "a nameserver for the container"},
			&cli.StringSliceFlag{Name: "cap-add", Usage: "add a Linux capability"},
			&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop a Linux capability"},
			&cli.BoolFlag{Name: "privileged", Usage: "every capability the host allows, no masked paths"},
			&cli.StringSliceFlag{Name: "security-opt", Usage: "no-new-privileges[:true|false], seccomp=unconfined|FILE.json"},
			&cli.BoolFlag{Name: "read-only", Usage: "mount the root filesystem read-only"},
			&cli.BoolFlag{Name: "init", Usage: "run a reaper as pid 1"},
			&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "mount: HOSTDIR:CTR[:ro], VOLUME:CTR[:ro] or CTR (an anonymous volume)"},
			&cli.StringSliceFlag{Name: "mount", Usage: "mount: type=bind|volume|tmpfs,source=,target=[,readonly]"},
			&cli.StringSliceFlag{Name: "tmpfs", Usage: "a tmpfs: CTR[:size=64m,mode=1777]"},
			&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit (e.g. 256m)"},
			&cli.StringFlag{Name: "cpus", Usage: "number of CPUs (e.g. 1.5)"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes (0: unlimited)"},
			&cli.StringFlag{Name: "pull", Usage: "pull the image first: missing (default), always or never"},
			&cli.StringFlag{Name: "stop-signal", Usage: "signal stop sends (default: the image's StopSignal, else SIGTERM)"},
			&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set metadata: KEY=VALUE or KEY"},
			&cli.StringSliceFlag{Name: "label-file", Usage: "read labels from a file (a KEY=VALUE per line)"},
			&cli.IntFlag{Name: "stop-timeout", Usage: "seconds stop waits before SIGKILL (default 10)"},
			&cli.StringFlag{Name: "restart", Usage: "restart policy: no (default), on-failure[:max-retries], always or unless-stopped"},
			&cli.StringFlag{Name: "health-cmd", Usage: "command to run to check health (in a shell)"},
			&cli.DurationFlag{Name: "health-interval", Usage: "time between checks (ms|s|m|h; default 30s)"},
			&cli.DurationFlag{Name: "health-timeout", Usage: "maximum time a check may take (ms|s|m|h; default 30s)"},
			&cli.DurationFlag{Name: "health-start-period", Usage: "time to start before failures count (ms|s|m|h; default 0s)"},
			&cli.DurationFlag{Name: "health-start-interval", Usage: "time between checks during the start period (ms|s|m|h; default 5s)"},
			&cli.IntFlag{Name: "health-retries", Usage: "failures in a row that make it unhealthy (default 3)"},
			&cli.BoolFlag{Name: "no-healthcheck", Usage: "disable any health check, the image's included"},
		}, moreRunFlags()...),
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "an image"); err != nil {
				return err
			}
			if err := checkInputTTY(ctx); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return runFailed(err)
			}
			o := runOptionsFrom(ctx)
			o.PullOutput = os.Stderr // an implicit pull reports here, as Docker's run
			code, c, err := s.Run(o, os.Stdin, os.Stdout, os.Stderr)
			if err == nil && o.Detach {
				fmt.Println(c.ID)
			}
			if err != nil && code == 0 {
				code = exitRunFailed
			}
			if code != 0 || err != nil {
				return &exitError{code: code, err: err}
			}
			return nil
		},
	}
}

// runOptionsFrom reads run's flags and arguments; everything after the image
// is the container's command, flags included.
func runOptionsFrom(ctx *cli.Context) runtime.RunOptions {
	var entrypoint *string
	if ctx.IsSet("entrypoint") {
		e := ctx.String("entrypoint")
		entrypoint = &e
	}
	var stopTimeout *int
	if ctx.IsSet("stop-timeout") {
		t := ctx.Int("stop-timeout")
		stopTimeout = &t
	}
	o := runtime.RunOptions{
		Pull:       ctx.String("pull"),
		Entrypoint: entrypoint, StopSignal: ctx.String("stop-signal"), StopTimeout: stopTimeout,
		Name: ctx.String("name"), Image: ctx.Args().First(), Args: ctx.Args().Tail(),
		Env: ctx.StringSlice("env"), EnvFiles: ctx.StringSlice("env-file"),
		Workdir: ctx.String("workdir"), User: ctx.String("user"), Hostname: ctx.String("hostname"),
		Network: ctx.String("network"), Publish: ctx.StringSlice("publish"),
		Expose: ctx.StringSlice("expose"), PublishAll: ctx.Bool("publish-all"),
		Aliases: ctx.StringSlice("network-alias"), IP: ctx.String("ip"),
		AddHosts: ctx.StringSlice("add-host"), DNS: ctx.StringSlice("dns"),
		CapAdd: ctx.StringSlice("cap-add"), CapDrop: ctx.StringSlice("cap-drop"),
		Privileged: ctx.Bool("privileged"), SecurityOpts: ctx.StringSlice("security-opt"),
		ReadOnly: ctx.Bool("read-only"), Init: ctx.Bool("init"),
		Volumes: ctx.StringSlice("volume"), Mounts: ctx.StringSlice("mount"), Tmpfs: ctx.StringSlice("tmpfs"),
		Memory: ctx.String("memory"), CPUs: ctx.String("cpus"), PidsLimit: ctx.Int64("pids-limit"),
		Tty: ctx.Bool("tty"), Interactive: ctx.Bool("interactive"),
		Detach: ctx.Bool("detach"), AutoRemove: ctx.Bool("rm"), Restart: ctx.String("restart"),
		Labels: ctx.StringSlice("label"), LabelFiles: ctx.StringSlice("label-file"),
		Health: runtime.HealthOptions{
			Cmd: ctx.String("health-cmd"), Interval: ctx.Duration("health-interval"), Timeout: ctx.Duration("health-timeout"),
			StartPeriod: ctx.Duration("health-start-period"), StartInterval: ctx.Duration("health-start-interval"),
			Retries: ctx.Int("health-retries"), None: ctx.Bool("no-healthcheck"),
		},
	}
	moreRunOptions(ctx, &o)
	return o
}
