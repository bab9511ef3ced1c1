package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// withAllRestartable adds --all-restartable to start: with no daemon to
// start containers at boot, a boot script (or unit) runs
// `hutch start --all-restartable`.
func withAllRestartable(cmd *cli.Command) *cli.Command {
	cmd.Flags = append(cmd.Flags, &cli.BoolFlag{Name: "all-restartable",
		Usage: "start every stopped container whose restart policy is always, or unless-stopped and not stopped by a user (for a boot script)"})
	action := cmd.Action
	cmd.Action = func(ctx *cli.Context) error {
		if !ctx.Bool("all-restartable") {
			return action(ctx)
		}
		if err := noArgs(ctx); err != nil {
			return err
		}
		s, err := openStore(ctx)
		if err != nil {
			return err
		}
		started, err := s.StartAllRestartable()
		for _, c := range started {
			fmt.Println(c.Name)
		}
		return err
	}
	return cmd
}
