package main

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/trace"
	"github.com/hutchrt/hutch/runtime"
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
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			recs, err := traceRecords(s)
			if err != nil {
				return err
			}
			from, err := traceFrom(s, recs, ctx.String("from"), ctx.String("source"))
			if err != nil {
				return err
			}
			res, err := trace.Run(trace.Live{}, recs, from, t)
			if err != nil {
				return fmt.Errorf("network trace: %w", err)
			}
			if ctx.String("format") == "json" {
				return res.WriteJSON(os.Stdout)
			}
			return res.WriteText(os.Stdout, term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "")
		},
	}
}

// traceRecords is what hutch's records say: the networks and the running
// containers, to name what the kernel shows.
func traceRecords(s *runtime.Store) (trace.Records, error) {
	nets, err := s.Networks()
	if err != nil {
		return trace.Records{}, err
	}
	recs := trace.Records{Table: nets.Table.Name}
	all, err := nets.List()
	if err != nil {
		return recs, err
	}
	bridges := map[string]string{}
	for _, n := range all {
		recs.Networks = append(recs.Networks, trace.Network{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet})
		bridges[n.ID] = n.Bridge
	}
	cs, err := s.List()
	if err != nil {
		return recs, err
	}
	for _, c := range cs {
		if !c.Running() || c.Pid == 0 {
			continue
		}
		tc := trace.Container{Name: c.Name, Pid: c.Pid, NoDNS: true}
		for _, e := range c.Endpoints {
			tc.NoDNS = tc.NoDNS && e.Network == network.DefaultName
			tc.Endpoints = append(tc.Endpoints, trace.Endpoint{Network: e.Network, Bridge: bridges[e.NetworkID],
				IP: e.IP, IfName: e.IfName, HostIf: e.HostIf, Aliases: e.Aliases})
		}
		recs.Containers = append(recs.Containers, tc)
	}
	return recs, nil
}

// traceFrom reads --from and --source.
func traceFrom(s *runtime.Store, recs trace.Records, from, source string) (trace.From, error) {
	var f trace.From
	if source != "" {
		a, err := netip.ParseAddr(source)
		if err != nil || !a.Is4() {
			return f, fmt.Errorf("network trace: --source %q is not an IPv4 address", source)
		}
		if from != "outside" {
			return f, fmt.Errorf("network trace: --source goes with --from outside")
		}
		f.Source = a
	}
	switch from {
	case "host":
		f.Host = true
		return f, nil
	case "outside":
		f.Outside = true
		return f, nil
	}
	c, err := s.Get(from)
	if err != nil {
		return f, fmt.Errorf("network trace: --from %s: %w", from, err)
	}
	for i := range recs.Containers {
		if recs.Containers[i].Name == c.Name {
			tc := recs.Containers[i]
			if len(tc.Endpoints) == 0 {
				return f, fmt.Errorf("network trace: --from %s: the container is on no bridge network (network %s)", from, c.Network)
			}
			f.Container = &tc
			return f, nil
		}
	}
	return f, fmt.Errorf("network trace: --from %s: container %s is not running", from, c.Name)
}
