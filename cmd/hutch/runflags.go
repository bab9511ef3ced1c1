package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/runtime"
)

// moreRunFlags are run's flags for limits, devices, DNS and the like (see
// runtime/runflags.go).
func moreRunFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "ulimit", Usage: "a resource limit: NAME=SOFT[:HARD], e.g. nofile=1024:2048"},
		&cli.StringSliceFlag{Name: "sysctl", Usage: "a namespaced sysctl: KEY=VALUE (net.*, kernel.shm*/msg*/sem, fs.mqueue.*)"},
		&cli.StringSliceFlag{Name: "device", Usage: "a host device: HOST[:CONTAINER][:rwm]"},
		&cli.StringFlag{Name: "shm-size", Usage: "size of /dev/shm (default 64m)"},
		&cli.StringSliceFlag{Name: "dns-search", Usage: "a DNS search domain (\".\": none)"},
		&cli.StringSliceFlag{Name: "dns-option", Usage: "a resolv.conf option, e.g. ndots:2"},
		&cli.StringFlag{Name: "mac-address", Usage: "the container's MAC address on its network"},
		&cli.StringFlag{Name: "cgroupns", Usage: "cgroup namespace: private (default) or host"},
		&cli.StringFlag{Name: "platform", Usage: "only this host's platform (linux/amd64) is supported"},
		&cli.StringFlag{Name: "log-driver", Usage: "json-file (default) or none"},
		&cli.StringSliceFlag{Name: "log-opt", Usage: "json-file's rotation: max-size=10m, max-file=3"},
	}
}

// moreRunOptions reads moreRunFlags into o.
func moreRunOptions(ctx *cli.Context, o *runtime.RunOptions) {
	o.Ulimits, o.Sysctls, o.Devices = ctx.StringSlice("ulimit"), ctx.StringSlice("sysctl"), ctx.StringSlice("device")
	o.ShmSize, o.Cgroupns, o.Platform = ctx.String("shm-size"), ctx.String("cgroupns"), ctx.String("platform")
	o.DNSSearch, o.DNSOptions = ctx.StringSlice("dns-search"), ctx.StringSlice("dns-option")
	o.MacAddress = ctx.String("mac-address")
	o.LogDriver, o.LogOpts = ctx.String("log-driver"), ctx.StringSlice("log-opt")
}

// checkInputTTY refuses -it when stdin is not a terminal, as Docker's CLI
// does for run and exec (a plain error: exit 1): a pty fed from a pipe
// echoes and mangles it.
func checkInputTTY(ctx *cli.Context) error {
	if ctx.Bool("tty") && ctx.Bool("interactive") && !ctx.Bool("detach") && !term.IsTerminal(int(os.Stdin.Fd())) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}
