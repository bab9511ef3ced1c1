package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func saveCommand() *cli.Command {
	return &cli.Command{
		Name: "save", Usage: "save images to a tar archive (Docker's format: OCI layout and docker-archive)",
		ArgsUsage: "IMAGE...", OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file instead of stdout"},
		},
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "at least one image"); err != nil {
				return err
			}
			return writeArchive(ctx.String("output"), "save",
				"cowardly refusing to save to a terminal. Use the -o flag or redirect",
				func(w io.Writer) error {
					images, err := openImages(ctx)
					if err != nil {
						return err
					}
					if err := images.Store.Save(w, ctx.Args().Slice()); err != nil {
						return err
					}
					for _, n := range ctx.Args().Slice() {
						images.Event("save", n, "name", n)
					}
					return nil
				})
		},
	}
}

func loadCommand() *cli.Command {
	return &cli.Command{
		Name: "load", Usage: "load images from a tar archive (docker save, OCI layout)", OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "input", Aliases: []string{"i"}, Usage: "read from a file instead of stdin"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output (there is none yet)"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return fmt.Errorf("load: takes no arguments (see 'hutch load --help')")
			}
			var in io.Reader = os.Stdin
			if p := ctx.String("input"); p != "" {
				f, err := os.Open(p)
				if err != nil {
					return fmt.Errorf("load: %w", err)
				}
				defer f.Close()
				in = f
			} else if term.IsTerminal(int(os.Stdin.Fd())) {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			images, err := openImages(ctx)
			if err != nil {
				return err
			}
			names, err := images.Store.Load(in)
			if err != nil {
				return err
			}
			for _, n := range names {
				images.Event("load", n, "name", n)
				if strings.HasPrefix(n, "sha256:") { // no name: Docker shows its ID
					fmt.Printf("Loaded image ID: %s\n", n)
				} else {
					fmt.Printf("Loaded image: %s\n", n)
				}
			}
			return nil
		},
	}
}
