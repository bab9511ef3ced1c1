package main

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime"
)

// version is hutch's release, as --version shows it too.
const version = "0.1.0"

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "show hutch's version",
		Action: func(ctx *cli.Context) error {
			if err := noArgs(ctx); err != nil {
				return err
			}
			fmt.Printf("Client: hutch (no daemon: the client is the runtime)\n Version:    %s\n Go version: %s\n OS/Arch:    %s/%s\n",
				version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
			return nil
		},
	}
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "show what this root holds and what the host offers",
		Action: func(ctx *cli.Context) error {
			if err := noArgs(ctx); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			all, err := s.List()
			if err != nil {
				return err
			}
			var running, paused, stopped int
			for _, c := range all {
				switch {
				case c.IsPaused():
					paused++
				case c.Running():
					running++
				default:
					stopped++
				}
			}
			images, err := s.Images().List()
			if err != nil {
				return err
			}
			var uts unix.Utsname
			unix.Uname(&uts)
			var si unix.Sysinfo_t
			unix.Sysinfo(&si)
			host, _ := os.Hostname()
			cgv := "1"
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				cgv = "2"
			}
			fmt.Printf("Containers: %d\n Running: %d\n Paused: %d\n Stopped: %d\nImages: %d\n", len(all), running, paused, stopped, len(images))
			fmt.Printf("Server Version: %s (hutch, daemonless)\nStorage Driver: overlay\nLogging Driver: json-file\nCgroup Driver: cgroupfs\nCgroup Version: %s\n", version, cgv)
			fmt.Printf("Kernel Version: %s\nOperating System: %s\nOSType: linux\nArchitecture: %s\nCPUs: %d\nTotal Memory: %s\nName: %s\nHutch Root Dir: %s\n",
				unix.ByteSliceToString(uts.Release[:]), osName(), unix.ByteSliceToString(uts.Machine[:]), goruntime.NumCPU(),
				binarySize(float64(uint64(si.Totalram)*uint64(si.Unit))), host, ctx.String("root"))
			return nil
		},
	}
}

// osName is os-release's PRETTY_NAME.
func osName() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}

// dfCommand is `system df`.
func dfCommand() *cli.Command {
	return &cli.Command{
		Name:  "df",
		Usage: "show the disk space images, containers and volumes use",
		Action: func(ctx *cli.Context) error {
			if err := noArgs(ctx); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			rows, err := runtime.NewSystem(s).DiskUsage()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Type, r.Total, r.Active, humanSize(r.Size), reclaimable(r))
			}
			return tw.Flush()
		},
	}
}

// reclaimable is Docker's RECLAIMABLE cell: the size and, but for
// volumes, its share of the total.
func reclaimable(r runtime.DiskUsage) string {
	if r.Type == "Local Volumes" {
		return humanSize(r.Reclaimable)
	}
	pct := 0
	if r.Size > 0 {
		pct = int(r.Reclaimable * 100 / r.Size)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(r.Reclaimable), pct)
}

func containerCommand() *cli.Command {
	return &cli.Command{
		Name:  "container",
		Usage: "manage containers",
		Subcommands: []*cli.Command{{
			Name: "prune", Usage: "remove every stopped container",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation"}},
			Action: func(ctx *cli.Context) error {
				if err := noArgs(ctx); err != nil {
					return err
				}
				if !ctx.Bool("force") && !confirm(os.Stdin, os.Stdout, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
					return nil
				}
				s, err := openStore(ctx)
				if err != nil {
					return err
				}
				ids, reclaimed, err := s.PruneContainers()
				fmt.Print(pruneOutput(ids, nil, reclaimed))
				return err
			},
		}},
	}
}
