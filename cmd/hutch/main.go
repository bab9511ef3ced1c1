// Command hutch is a minimal, daemonless, single-host container runtime.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/dns/resolver"
	"github.com/hutchrt/hutch/runtime"
)

// init keeps main on the process's main thread. A monitor execs into its
// shim from main; from any other thread, exec would leave the main thread a
// zombie for a moment, and a parallel hutch would take the monitor for dead.
func init() { goruntime.LockOSThread() }

func main() {
	if runcNames[filepath.Base(os.Args[0])] {
		os.Exit(runcMain(os.Args))
	}
	// The re-exec'd halves of hutch run before anything else.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case runtime.MonitorCommand:
			runtime.MonitorMain(os.Args[2], os.Args[3])
		case runtime.ExecDetachedCommand:
			runtime.ExecDetachedMain(os.Args[2], os.Args[3], os.Args[4])
		case runtime.FinishCommand:
			runtime.FinishMain(os.Args[2], os.Args[3], os.Args[4])
		case runtime.HealthCommand:
			runtime.HealthMain(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
		case resolver.ServeCommand: // the C resolver runs before main; here it could not start
			os.Exit(1)
		case resolver.RedirectCommand:
			resolver.RedirectMain(os.Args[2:])
		}
	}
	os.Exit(run(os.Args))
}

func run(args []string) int {
	code, err := exitCode(runApp(newApp(), args))
	if err != nil {
		fmt.Fprintf(os.Stderr, "hutch: %v\n", err)
	}
	return code
}

func newApp() *cli.App {
	return &cli.App{
		Name:                      "hutch",
		Usage:                     "run containers on this host, without a daemon",
		Version:                   version,
		HideHelpCommand:           true,
		UseShortOptionHandling:    true,
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			fixNames(&cli.StringFlag{Name: "root", Value: "/var/lib/hutch", EnvVars: []string{"HUTCH_ROOT"}, Usage: "directory for images, containers and state"}),
		},
		Commands: withDockerErrors(withFixedNames([]*cli.Command{
			runCommand(), psCommand(), logsCommand(), execCommand(), stopCommand(),
			killCommand(), withAllRestartable(startCommand()), waitCommand(), rmCommand(), inspectCommand(),
			imageCommand(), networkCommand(), portCommand(), systemCommand(), volumeCommand(),
			cpCommand(), exportCommand(),
			pullCommand(), imageLsCommand("images"), imageRmCommand("rmi"), tagCommand(),
			saveCommand(), loadCommand(),
			completionCommand(), completeCmd(),
			createCommand(), attachCommand(), restartCommand(), renameCommand(), pauseCommand(), unpauseCommand(), topCommand(), diffCommand(), updateCommand(), statsCommand(),
			versionCommand(), infoCommand(), containerCommand(),
			eventsCommand(),
		})),
		Action:         unknownCommand,
		OnUsageError:   usageErr,
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func openStore(ctx *cli.Context) (*runtime.Store, error) {
	return runtime.OpenStore(ctx.String("root"))
}

// openNetworks opens the network verbs of --root.
func openNetworks(ctx *cli.Context) (*runtime.Networks, error) {
	s, err := openStore(ctx)
	if err != nil {
		return nil, err
	}
	return runtime.NewNetworks(s.Root, s), nil
}

// openImages opens the image verbs of --root.
func openImages(ctx *cli.Context) (*runtime.Images, error) {
	s, err := openStore(ctx)
	if err != nil {
		return nil, err
	}
	return runtime.NewImages(s.Root), nil
}

// openVolumes opens the volume verbs of --root.
func openVolumes(ctx *cli.Context) (*runtime.Volumes, error) {
	s, err := openStore(ctx)
	if err != nil {
		return nil, err
	}
	return runtime.NewVolumes(s.Root, s), nil
}

// needArgs checks the count of positional arguments.
func needArgs(ctx *cli.Context, min int, what string) error {
	if ctx.NArg() < min {
		name := commandPath(ctx)
		return fmt.Errorf("%s: needs %s (see 'hutch %s --help')", name, what, name)
	}
	return nil
}

// noArgs refuses positional arguments to a command that takes none (Docker's
// cli.NoArgs: exit 1).
func noArgs(ctx *cli.Context) error {
	if ctx.NArg() > 0 {
		name := commandPath(ctx)
		return fmt.Errorf("%s: takes no arguments, got %q (see 'hutch %s --help')", name, shortArg(ctx.Args().First()), name)
	}
	return nil
}

// commandPath is the command as typed, e.g. "image import".
func commandPath(ctx *cli.Context) string {
	var names []string
	for _, c := range ctx.Lineage() {
		if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
			names = append([]string{c.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}
