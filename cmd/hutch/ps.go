package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/cmd/hutch/format"
	"github.com/hutchrt/hutch/runtime"
)

const psTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

func psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list containers",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers, not only running ones"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show ids"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "KEY=VALUE: id, name, label, status, exited, network, ancestor, before, since, volume, publish, expose"},
			&cli.StringFlag{Name: "format", Usage: "a Go template, table TEMPLATE, or json"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate ids and commands"},
			&cli.IntFlag{Name: "last", Aliases: []string{"n"}, Value: -1, Usage: "show the N last created containers (all states)"},
			&cli.BoolFlag{Name: "latest", Aliases: []string{"l"}, Usage: "show the last created container (all states)"},
			&cli.BoolFlag{Name: "size", Aliases: []string{"s"}, Usage: "show the size each container wrote, and with its image (virtual)"},
		},
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := noArgs(ctx); err != nil {
				return err
			}
			filter, err := runtime.ParseFilter(ctx.StringSlice("filter"))
			if err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			if err := filter.Resolve(s.Get); err != nil {
				return err
			}
			all, err := s.List()
			if err != nil {
				return err
			}
			last := ctx.Int("last")
			if ctx.Bool("latest") {
				last = 1
			}
			everyState := ctx.Bool("all") || last > 0 || filter.WantsAll()
			// Sizes walk every upper directory: only when asked, or when the template shows them (as Docker).
			size := ctx.Bool("size") || strings.Contains(ctx.String("format"), ".Size")
			now := time.Now()
			var rows []any
			// Newest first, as Docker lists them.
			for i := len(all) - 1; i >= 0; i-- {
				c := all[i]
				if last > 0 && len(rows) == last { // counted after the filter, as Docker's limit
					break
				}
				if (!everyState && !c.Running() && !c.Restarting()) || !filter.Match(c) {
					continue
				}
				rows = append(rows, newPsRow(s, c, now, ctx.Bool("no-trunc"), size))
			}
			f := ctx.String("format")
			if ctx.Bool("quiet") {
				f = "{{.ID}}"
			}
			table := psTable
			if ctx.Bool("size") {
				table += "\t{{.Size}}"
			}
			return format.List(os.Stdout, f, table, psHeader, rows)
		},
	}
}

// psRow is what ps's templates see: Docker's fields for a container.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names string
	Labels, Mounts, Networks, LocalVolumes                                       string

	labels map[string]string
	header bool
}

// Label is one label's value ({{.Label "key"}}).
func (r psRow) Label(name string) string {
	if r.header {
		return "LABEL"
	}
	return r.labels[name]
}

// psHeader names each column as Docker's table does.
var psHeader = psRow{
	ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
	Ports: "PORTS", State: "STATE", Status: "STATUS", Size: "SIZE", Names: "NAMES", Labels: "LABELS",
	Mounts: "MOUNTS", Networks: "NETWORKS", LocalVolumes: "LOCAL VOLUMES", header: true,
}

func newPsRow(s *runtime.Store, c *runtime.Container, now time.Time, noTrunc, size bool) psRow {
	r := psRow{
		ID: c.ShortID(), Image: c.Image, Command: quoteCommand(c.Command),
		CreatedAt:  c.Created.Local().Truncate(time.Second).Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: humanDuration(now.Sub(c.Created)) + " ago", Ports: portsColumn(c.Ports),
		State: string(c.Status), Status: statusText(c, now), Names: c.Name,
		Labels: format.Labels(c.Labels), labels: c.Labels,
	}
	if noTrunc {
		r.ID, r.Command = c.ID, strconv.Quote(strings.Join(c.Command, " "))
	}
	var mounts []string
	volumes := 0
	for _, m := range c.Mounts {
		switch {
		case m.Type == "volume":
			mounts = append(mounts, m.Name)
			volumes++
		case m.Source != "":
			mounts = append(mounts, m.Source)
		}
	}
	r.Mounts, r.LocalVolumes = strings.Join(mounts, ","), strconv.Itoa(volumes)
	var nets []string
	for _, ep := range c.Endpoints {
		nets = append(nets, ep.Network)
	}
	if len(nets) == 0 {
		nets = []string{c.Network}
	}
	slices.Sort(nets)
	r.Networks = strings.Join(nets, ",")
	if size {
		rw, virtual := s.Size(c)
		r.Size = fmt.Sprintf("%s (virtual %s)", humanSize(rw), humanSize(virtual))
	}
	return r
}
