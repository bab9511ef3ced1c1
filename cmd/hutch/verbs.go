package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/runtime"
)

// create and the day-two verbs of Docker's lifecycle.

// createCommand takes run's flags but -d: it makes the container and prints
// its id; `start` runs it.
func createCommand() *cli.Command {
	var flags []cli.Flag
	for _, f := range runCommand().Flags {
		if f.Names()[0] != "detach" {
			flags = append(flags, f)
		}
	}
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container without starting it",
		ArgsUsage: "IMAGE [COMMAND [ARG...]]",
		Flags:     flags,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "an image"); err != nil {
				return runFailed(err)
			}
			s, err := openStore(ctx)
			if err != nil {
				return runFailed(err)
			}
			o := runOptionsFrom(ctx)
			o.Detach = true // nobody monitors it until start
			o.PullOutput = os.Stderr
			c, err := s.Create(o)
			if err != nil {
				return runFailed(err)
			}
			fmt.Println(c.ID)
			return nil
		},
	}
}

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start created or stopped containers",
		ArgsUsage: "CONTAINER...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach its output and exit with its exit code"},
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "attach its stdin (and output)"},
		},
		Action: func(ctx *cli.Context) error {
			if !ctx.Bool("attach") && !ctx.Bool("interactive") {
				return eachContainer(ctx, func(s *runtime.Store, ref string) error {
					_, err := s.Start(ref)
					return err
				})
			}
			if err := needArgs(ctx, 1, "a container"); err != nil {
				return err
			}
			if ctx.NArg() > 1 {
				return fmt.Errorf("start: cannot start and attach several containers at once")
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			code, err := s.StartAttached(ctx.Args().First(), ctx.Bool("interactive"), os.Stdin, os.Stdout, os.Stderr)
			return containerExit(code, err)
		},
	}
}

// containerExit makes a command exit with the container's code; an error
// of hutch's own exits 1 unless it carries a code.
func containerExit(code int, err error) error {
	if err != nil && code == 0 {
		code = exitFailed
	}
	if code != 0 || err != nil {
		return &exitError{code: code, err: err}
	}
	return nil
}

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach to a running container's output (and stdin, if it was created with -i)",
		ArgsUsage: "CONTAINER",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stdin", Usage: "do not attach stdin"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return fmt.Errorf("attach: needs exactly one container (see 'hutch attach --help')")
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			code, err := s.Attach(ctx.Args().First(), !ctx.Bool("no-stdin"), os.Stdin, os.Stdout, os.Stderr)
			return containerExit(code, err)
		},
	}
}

func restartCommand() *cli.Command {
	return perContainer("restart", "stop containers (as stop does) and start them again",
		[]cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Usage: "seconds to wait before killing (default: the container's --stop-timeout, else 10)"}},
		func(ctx *cli.Context, s *runtime.Store, ref string) error {
			var timeout *time.Duration
			if ctx.IsSet("time") {
				if ctx.Int("time") < 0 {
					return fmt.Errorf("restart: --time %d: must be 0 or more seconds", ctx.Int("time"))
				}
				t := time.Duration(ctx.Int("time")) * time.Second
				timeout = &t
			}
			_, err := s.Restart(ref, timeout)
			return err
		})
}

func renameCommand() *cli.Command {
	return &cli.Command{
		Name:      "rename",
		Usage:     "rename a container",
		ArgsUsage: "CONTAINER NEW_NAME",
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 2 {
				return fmt.Errorf("rename: needs a container and its new name (see 'hutch rename --help')")
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			return s.Rename(ctx.Args().Get(0), ctx.Args().Get(1))
		},
	}
}

func pauseCommand() *cli.Command {
	return perContainer("pause", "freeze every process of containers", nil,
		func(_ *cli.Context, s *runtime.Store, ref string) error { return s.Pause(ref) })
}

func unpauseCommand() *cli.Command {
	return perContainer("unpause", "let paused containers run again", nil,
		func(_ *cli.Context, s *runtime.Store, ref string) error { return s.Unpause(ref) })
}

func topCommand() *cli.Command {
	return &cli.Command{
		Name:            "top",
		Usage:           "show a container's processes (the host's ps, default -ef, limited to them)",
		ArgsUsage:       "CONTAINER [ps OPTIONS]",
		SkipFlagParsing: true, // the rest is ps's
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "a container"); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			header, rows, err := s.Top(ctx.Args().First(), ctx.Args().Tail())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(header, "\t"))
			for _, r := range rows {
				fmt.Fprintln(tw, strings.Join(r, "\t"))
			}
			return tw.Flush()
		},
	}
}

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "list the files a container added (A), changed (C) or deleted (D)",
		ArgsUsage: "CONTAINER",
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return fmt.Errorf("diff: needs exactly one container (see 'hutch diff --help')")
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			changes, err := s.Diff(ctx.Args().First())
			if err != nil {
				return err
			}
			for _, c := range changes {
				fmt.Println(c.Kind, c.Path)
			}
			return nil
		},
	}
}

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change containers' memory, CPU and pids limits (live, and for their next start) or restart policy",
		ArgsUsage: "CONTAINER...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit (e.g. 256m)"},
			&cli.StringFlag{Name: "cpus", Usage: "number of CPUs (e.g. 1.5)"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes"},
			&cli.StringFlag{Name: "restart", Usage: "restart policy: no, on-failure[:max-retries], always or unless-stopped"},
		},
		Action: func(ctx *cli.Context) error {
			o := runtime.UpdateOptions{Memory: ctx.String("memory"), CPUs: ctx.String("cpus"), PidsLimit: ctx.Int64("pids-limit"), Restart: ctx.String("restart")}
			res, err := o.Resources() // checked once, before any container changes
			if err != nil {
				return err
			}
			policy, err := o.RestartPolicy()
			if err != nil {
				return err
			}
			return eachContainer(ctx, func(s *runtime.Store, ref string) error {
				if policy != nil {
					if err := s.SetRestartPolicy(ref, *policy); err != nil {
						return err
					}
				}
				if res == nil {
					return nil
				}
				return s.Update(ref, res)
			})
		},
	}
}
