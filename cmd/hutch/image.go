package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/cmd/hutch/format"
	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime"
	"golang.org/x/term"
)

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "manage images",
		Subcommands: []*cli.Command{
			imageLsCommand("ls", "list"),
			{
				Name: "import", Usage: "import a root filesystem (directory, tar or tar.gz) as an image",
				ArgsUsage: "NAME SOURCE", OnUsageError: usageErr,
				Action: func(ctx *cli.Context) error {
					if err := needArgs(ctx, 2, "a name and a source"); err != nil {
						return err
					}
					images, err := openImages(ctx)
					if err != nil {
						return err
					}
					img, err := images.Import(ctx.Args().Get(0), ctx.Args().Get(1))
					if err != nil {
						return err
					}
					fmt.Println(img.ID)
					return nil
				},
			},
			imageRmCommand("rm"),
			imageInspectCommand(),
		},
	}
}

// humanSize is Docker's SIZE column (decimal units).
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name: "pull", Usage: "pull an image from a registry", ArgsUsage: "NAME[:TAG|@DIGEST]",
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "an image name"); err != nil {
				return err
			}
			images, err := openImages(ctx)
			if err != nil {
				return err
			}
			var progress io.Writer = os.Stdout // a line per layer's change; on a terminal, rows kept
			if term.IsTerminal(int(os.Stdout.Fd())) {
				progress = rootfs.TTY{W: os.Stdout}
			}
			var before rootfs.Image // what the name had: the same digest is "up to date", as Docker says
			if _, canon, err := rootfs.ParseReference(ctx.Args().First()); err == nil {
				before, _ = images.Store.Get(canon)
			}
			img, err := images.Store.Pull(ctx.Context, ctx.Args().First(), progress)
			if err != nil {
				return err
			}
			images.PullEvent(img.Name)
			fmt.Print(rootfs.PullStatus(img, before.Digest) + img.Name + "\n")
			return nil
		},
	}
}

// imageLsCommand is `image ls`, and `images` (Docker's alias) at the top.
func imageLsCommand(name string, aliases ...string) *cli.Command {
	return &cli.Command{
		Name: name, Aliases: aliases, Usage: "list images (of one repository, or REPOSITORY:TAG, if given)", ArgsUsage: "[REPOSITORY[:TAG]]",
		OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show ids"},
			&cli.StringFlag{Name: "format", Usage: "a Go template, table TEMPLATE, or json"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "show full ids"},
		},
		Action: func(ctx *cli.Context) error {
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			imgs, err := s.Images().List()
			if err != nil {
				return err
			}
			if ctx.NArg() > 1 {
				return fmt.Errorf("%s: at most one REPOSITORY[:TAG] (see 'hutch %s --help')", commandPath(ctx), commandPath(ctx))
			}
			var rows []any
			for _, img := range imgs {
				r := newImageRow(img, ctx.Bool("no-trunc"))
				if want := ctx.Args().First(); want != "" && want != r.Repository && want != r.Repository+":"+r.Tag {
					continue
				}
				rows = append(rows, r)
			}
			f := ctx.String("format")
			if ctx.Bool("quiet") {
				f = "{{.ID}}"
			}
			return format.List(os.Stdout, f, imageTable, imageHeader, rows)
		},
	}
}

// imageRmCommand is `image rm`, and `rmi` (Docker's alias) at the top.
func imageRmCommand(name string) *cli.Command {
	return &cli.Command{
		Name: name, Usage: "remove images", ArgsUsage: "IMAGE...", OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "at least one image"); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			for _, name := range ctx.Args().Slice() {
				if err := runtime.NewImages(s.Root).Remove(name, s); err != nil {
					return err
				}
				fmt.Println("Deleted: " + name)
			}
			return nil
		},
	}
}

func imageInspectCommand() *cli.Command {
	return &cli.Command{
		Name: "inspect", Usage: "show images in Docker's JSON shape", ArgsUsage: "IMAGE...", OnUsageError: usageErr,
		Flags: []cli.Flag{formatFlag()},
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "at least one image"); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			return printDetails(ctx, func(name string) (any, error) {
				img, err := s.Images().Find(name)
				if err != nil {
					return nil, err
				}
				return img.Inspect()
			})
		},
	}
}

func tagCommand() *cli.Command {
	return &cli.Command{
		Name: "tag", Usage: "give an image another name", ArgsUsage: "SOURCE TARGET", OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 2, "a source and a target"); err != nil {
				return err
			}
			images, err := openImages(ctx)
			if err != nil {
				return err
			}
			img, err := images.Store.Tag(ctx.Args().Get(0), ctx.Args().Get(1))
			if err == nil {
				images.Event("tag", "sha256:"+strings.TrimPrefix(img.ID, "sha256:"), "name", img.Name)
			}
			return err
		},
	}
}

const imageTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

// imageRow is what image ls's templates see: Docker's fields for an image.
type imageRow struct {
	Repository, Tag, Digest, ID, CreatedSince, CreatedAt, Size string
}

var imageHeader = imageRow{Repository: "REPOSITORY", Tag: "TAG", Digest: "DIGEST", ID: "IMAGE ID",
	CreatedSince: "CREATED", CreatedAt: "CREATED AT", Size: "SIZE"}

func newImageRow(img rootfs.Image, noTrunc bool) imageRow {
	repo, tag := img.Name, "latest"
	if len(img.Layers) > 0 {
		repo, tag = rootfs.Familiar(img.Name)
	}
	r := imageRow{Repository: repo, Tag: tag, Digest: "<none>", ID: img.ID[:12],
		CreatedSince: humanDuration(time.Since(img.Created)) + " ago",
		CreatedAt:    img.Created.Local().Truncate(time.Second).Format("2006-01-02 15:04:05 -0700 MST"),
		Size:         humanSize(img.Size)}
	if img.Digest != "" {
		r.Digest = img.Digest
	}
	if noTrunc {
		r.ID = "sha256:" + img.ID
	}
	return r
}
