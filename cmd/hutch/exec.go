package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/runtime"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in a running container",
		ArgsUsage: "CONTAINER COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin open"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory (absolute)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user: name|uid[:group|gid]"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run the command in the background"},
			&cli.BoolFlag{Name: "privileged", Usage: "give the command every capability"},
		},
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 2, "a container and a command"); err != nil {
				return err
			}
			if err := checkInputTTY(ctx); err != nil { // as Docker's exec
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			o := runtime.ExecOptions{
				Args: ctx.Args().Tail(), Env: ctx.StringSlice("env"), Workdir: ctx.String("workdir"),
				User: ctx.String("user"), Interactive: ctx.Bool("interactive"), Tty: ctx.Bool("tty"),
				Privileged: ctx.Bool("privileged"),
			}
			if ctx.Bool("detach") {
				return s.ExecDetached(ctx.Args().First(), o)
			}
			code, err := s.Exec(ctx.Args().First(), o, os.Stdin, os.Stdout, os.Stderr)
			if err != nil && code == exitRunFailed {
				code = exitFailed // hutch's own failure (no such container, ...), as Docker's exec
			}
			if code != 0 || err != nil {
				return &exitError{code: code, err: err}
			}
			return nil
		},
	}
}
