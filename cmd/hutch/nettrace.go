package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/network/trace"
)

func networkTraceCommand() *cli.Command {
	return &cli.Command{
		Name: "trace", Usage: "show the path a packet takes, hop by hop, as the kernel decides it",
		ArgsUsage: "TARGET[:PORT][/PROTO]", OnUsageError: usageErr,
		Description: "TARGET is an IPv4 address or a container's name; PORT defaults to 80, PROTO to tcp.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Value: "host", Usage: "where the packet starts: a running container, host, or outside (arriving on a host interface)"},
			&cli.StringFlag{Name: "source", Usage: "with --from outside: the sender's address (default: a neighbour on the interface)"},
			&cli.StringFlag{Name: "format", Usage: "text or json"},
		},
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "a target"); err != nil {
				return err
			}
			if ctx.NArg() > 1 {
				return fmt.Errorf("network trace: one target, got %d", ctx.NArg())
			}
			if f := ctx.String("format"); f != "" && f != "text" && f != "json" {
				return fmt.Errorf("network trace: --format %q: want text or json", f)
			}
			t, err := trace.ParseTarget(ctx.Args().First())
			if err != nil {
				return fmt.Errorf("network trace: %w", err)
			}
			nets, err := openNetworks(ctx)
			if err != nil {
				return err
			}
			res, err := nets.Trace(t, ctx.String("from"), ctx.String("source"))
			if err != nil {
				return err
			}
			if ctx.String("format") == "json" {
				return res.WriteJSON(os.Stdout)
			}
			return res.WriteText(os.Stdout, term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "")
		},
	}
}
