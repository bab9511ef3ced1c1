package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/runtime"
)

func networkCommand() *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "manage networks",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a bridge network", ArgsUsage: "NAME", OnUsageError: usageErr,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "subnet", Usage: "IPv4 subnet in CIDR form (default: a free one)"},
					&cli.StringFlag{Name: "gateway", Usage: "the bridge's address (default: the subnet's first)"},
					&cli.BoolFlag{Name: "internal", Usage: "no outside access"},
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "bridge", Usage: "only bridge"},
					&cli.StringSliceFlag{Name: "label", Usage: "set metadata: KEY=VALUE or KEY"},
				},
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 1, "a network name"); err != nil {
						return err
					}
					if d := ctx.String("driver"); d != "bridge" {
						return fmt.Errorf("network create: driver %q is not supported (only bridge)", d)
					}
					labels, err := runtime.ParseLabels(ctx.StringSlice("label"), nil)
					if err != nil {
						return err
					}
					nets, err := openNetworks(ctx)
					if err != nil {
						return err
					}
					n, err := nets.Create(ctx.Args().First(), network.CreateOptions{
						Subnet: ctx.String("subnet"), Gateway: ctx.String("gateway"), Internal: ctx.Bool("internal"), Labels: labels,
					})
					if err != nil {
						return err
					}
					warnForwardDrops(nets)
					fmt.Println(n.ID)
					return nil
				},
			},
			networkLsCommand(),
			networkGraphCommand(),
			networkTraceCommand(),
			{
				Name: "inspect", Usage: "show networks in detail, as JSON", ArgsUsage: "NETWORK...", OnUsageError: usageErr,
				Flags: []cli.Flag{formatFlag()},
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 1, "at least one network"); err != nil {
						return err
					}
					nets, err := openNetworks(ctx)
					if err != nil {
						return err
					}
					return printDetails(ctx, func(ref string) (any, error) { return nets.Inspect(ref) })
				},
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove networks", ArgsUsage: "NETWORK...", OnUsageError: usageErr,
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 1, "at least one network"); err != nil {
						return err
					}
					nets, err := openNetworks(ctx)
					if err != nil {
						return err
					}
					var failed error
					for _, ref := range ctx.Args().Slice() {
						if _, err := nets.Remove(ref); err != nil {
							failed = errors.Join(failed, err)
							continue
						}
						fmt.Println(ref)
					}
					return failed
				},
			},
			{
				Name: "prune", Usage: "remove every user-defined network no container uses", OnUsageError: usageErr,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask (hutch never asks)"}},
				Action: func(ctx *cli.Context) error {
					if err := noArgs(ctx); err != nil {
						return err
					}
					nets, err := openNetworks(ctx)
					if err != nil {
						return err
					}
					removed, err := nets.Prune()
					if len(removed) > 0 {
						fmt.Println("Deleted Networks:")
						for _, name := range removed {
							fmt.Println(name)
						}
					}
					return err
				},
			},
			{
				Name: "connect", Usage: "connect a container to a network", ArgsUsage: "NETWORK CONTAINER", OnUsageError: usageErr,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "ip", Usage: "the container's IPv4 address on this network"},
					&cli.StringSliceFlag{Name: "alias", Usage: "another name for the container on this network"},
				},
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 2, "a network and a container"); err != nil {
						return err
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					err = s.Connect(ctx.Args().Get(1), ctx.Args().Get(0), ctx.String("ip"), ctx.StringSlice("alias"))
					if err == nil {
						warnForwardDrops(runtime.NewNetworks(s.Root, s))
					}
					return err
				},
			},
			{
				Name: "disconnect", Usage: "disconnect a container from a network", ArgsUsage: "NETWORK CONTAINER", OnUsageError: usageErr,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "accepted for Docker compatibility"}},
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 2, "a network and a container"); err != nil {
						return err
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					return s.Disconnect(ctx.Args().Get(1), ctx.Args().Get(0))
				},
			},
		},
	}
}

func portCommand() *cli.Command {
	return &cli.Command{
		Name: "port", Usage: "list a container's published ports", ArgsUsage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "a container"); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			c, err := s.Get(ctx.Args().First())
			if err != nil {
				return err
			}
			lines, err := portLines(c, ctx.Args().Get(1))
			if err != nil {
				return err
			}
			for _, l := range lines {
				if ctx.Args().Get(1) != "" { // Docker prints only the host side then
					_, l, _ = strings.Cut(l, " -> ")
				}
				fmt.Println(l)
			}
			return nil
		},
	}
}

// warnForwardDrops tells the user when another nftables table would drop
// the traffic hutch forwards: hutch's accept cannot overrule it.
func warnForwardDrops(nets *runtime.Networks) {
	for _, chain := range nets.ForwardDrops() {
		fmt.Fprintf(os.Stderr, "hutch: warning: %s drops forwarded packets (policy drop), so containers may get no outside access "+
			"and published ports may not answer; allow hutch's bridges there, e.g. `nft insert rule %s iifname \"hutch*\" accept` "+
			"and `nft insert rule %s oifname \"hutch*\" accept`\n", chain, chainRef(chain), chainRef(chain))
	}
}

// chainRef turns "table ip filter chain FORWARD" into nft's "ip filter FORWARD".
func chainRef(chain string) string {
	return strings.Replace(strings.TrimPrefix(chain, "table "), " chain ", " ", 1)
}
