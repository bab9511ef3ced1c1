package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/cmd/hutch/format"
	"github.com/hutchrt/hutch/rootfs"
)

func volumeCommand() *cli.Command {
	return &cli.Command{
		Name:  "volume",
		Usage: "manage volumes",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a volume (a random name if none is given)", ArgsUsage: "[NAME]", OnUsageError: usageErr,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "local", Usage: "only local"},
					&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "KEY=VALUE"},
				},
				Action: func(ctx *cli.Context) error {
					if d := ctx.String("driver"); d != "local" {
						return fmt.Errorf("volume create: driver %q is not supported (only local)", d)
					}
					if ctx.NArg() > 1 {
						return fmt.Errorf("volume create: at most one name (see 'hutch volume create --help')")
					}
					var labels map[string]string
					for _, l := range ctx.StringSlice("label") {
						k, v, _ := strings.Cut(l, "=")
						if k == "" {
							return fmt.Errorf("volume create: label %q: no key", l)
						}
						if labels == nil {
							labels = map[string]string{}
						}
						labels[k] = v
					}
					vols, err := openVolumes(ctx)
					if err != nil {
						return err
					}
					v, err := vols.Create(ctx.Args().First(), labels)
					if err != nil {
						return err
					}
					fmt.Println(v.Name)
					return nil
				},
			},
			{
				Name: "ls", Aliases: []string{"list"}, Usage: "list volumes", OnUsageError: usageErr,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show names"},
					&cli.StringFlag{Name: "format", Usage: "a Go template, table TEMPLATE, or json"},
				},
				Action: func(ctx *cli.Context) error {
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					all, err := s.Volumes().List()
					if err != nil {
						return err
					}
					var rows []any
					for _, v := range all {
						rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope,
							Labels: format.Labels(v.Labels), Links: "N/A", Size: "N/A", labels: v.Labels})
					}
					f := ctx.String("format")
					if ctx.Bool("quiet") {
						f = "{{.Name}}"
					}
					return format.List(os.Stdout, f, "table {{.Driver}}\t{{.Name}}", volumeHeader, rows)
				},
			},
			{
				Name: "inspect", Usage: "show volumes in detail (a JSON array)", ArgsUsage: "VOLUME...", OnUsageError: usageErr,
				Flags: []cli.Flag{formatFlag()},
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 1, "at least one volume"); err != nil {
						return err
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					return printDetails(ctx, func(name string) (any, error) {
						return s.Volumes().Get(name)
					})
				},
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove volumes (not while a container uses them)", ArgsUsage: "VOLUME...", OnUsageError: usageErr,
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "no error for a volume that does not exist"}},
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 1, "at least one volume"); err != nil {
						return err
					}
					vols, err := openVolumes(ctx)
					if err != nil {
						return err
					}
					var failed error
					for _, name := range ctx.Args().Slice() {
						err := vols.Remove(name)
						if errors.Is(err, rootfs.ErrNoVolume) && ctx.Bool("force") {
							continue
						}
						if err != nil {
							if failed != nil {
								fmt.Fprintf(os.Stderr, "hutch: %v\n", failed)
							}
							failed = err
							continue
						}
						fmt.Println(name)
					}
					return failed
				},
			},
			{
				Name: "prune", Usage: "remove anonymous volumes no container uses (--all: every unused one)", OnUsageError: usageErr,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation"},
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "named volumes too"},
				},
				Action: func(ctx *cli.Context) error {
					warning := volumePruneWarning
					if ctx.Bool("all") {
						warning = strings.Replace(warning, "anonymous local volumes", "all local volumes", 1)
					}
					if !ctx.Bool("force") && !confirm(os.Stdin, os.Stdout, warning) {
						return nil
					}
					vols, err := openVolumes(ctx)
					if err != nil {
						return err
					}
					removed, reclaimed, err := vols.Prune(ctx.Bool("all"))
					if len(removed) > 0 {
						fmt.Println("Deleted Volumes:")
						for _, n := range removed {
							fmt.Println(n)
						}
						fmt.Println()
					}
					fmt.Printf("Total reclaimed space: %s\n", humanSize(reclaimed))
					return err
				},
			},
		},
	}
}

// Docker's warning for `volume prune`.
const volumePruneWarning = `WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue?`

// volumeRow is what volume ls's templates see: Docker's fields for a volume.
type volumeRow struct {
	Driver, Name, Mountpoint, Scope, Labels, Links, Size string

	labels map[string]string
	header bool
}

// Label is one label's value ({{.Label "key"}}).
func (r volumeRow) Label(name string) string {
	if r.header {
		return "LABEL"
	}
	return r.labels[name]
}

var volumeHeader = volumeRow{Driver: "DRIVER", Name: "VOLUME NAME", Mountpoint: "MOUNTPOINT", Scope: "SCOPE",
	Labels: "LABELS", Links: "LINKS", Size: "SIZE", header: true}
