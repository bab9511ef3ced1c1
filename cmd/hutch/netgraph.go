package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/network/topology"
)

// network graph: the live topology, drawn (network/topology).
func networkGraphCommand() *cli.Command {
	return &cli.Command{
		Name: "graph", Usage: "draw the networks as the kernel has them", ArgsUsage: "[NETWORK...]", OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, dot (Graphviz), svg or json"},
			&cli.BoolFlag{Name: "ascii", Usage: "plain ASCII, no colour (the default when not on a terminal)"},
		},
		Action: func(ctx *cli.Context) error {
			f := ctx.String("format")
			switch f {
			case "text", "dot", "svg", "json":
			default:
				return fmt.Errorf("network graph: --format %q: want text, dot, svg or json", f)
			}
			nets, err := openNetworks(ctx)
			if err != nil {
				return err
			}
			t, err := nets.Topology(ctx.Args().Slice()...)
			if err != nil {
				return err
			}
			switch f {
			case "dot":
				return topology.Dot(os.Stdout, t)
			case "json":
				return topology.JSON(os.Stdout, t)
			case "svg":
				if ok, err := topology.GraphvizSVG(os.Stdout, t); ok {
					return err
				}
				return topology.SVG(os.Stdout, t)
			}
			tty := term.IsTerminal(int(os.Stdout.Fd()))
			ascii := ctx.Bool("ascii") || !tty
			_, noColor := os.LookupEnv("NO_COLOR")
			return topology.Text(os.Stdout, t, topology.Style{ASCII: ascii, Color: !ascii && !noColor})
		},
	}
}
