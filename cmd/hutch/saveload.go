package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
			out := ctx.String("output")
			if out == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			if out == "" {
				return s.Images().Save(os.Stdout, ctx.Args().Slice())
			}
			// A temp file beside the output, renamed over it when complete: a failed save
			// leaves no partial archive.
			f, err := os.CreateTemp(filepath.Dir(out), ".hutch-save-")
			if err != nil {
				return fmt.Errorf("save: %w", err)
			}
			defer os.Remove(f.Name())
			err = s.Images().Save(f, ctx.Args().Slice())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(f.Name(), 0o644)
			}
			if err == nil {
				err = os.Rename(f.Name(), out)
			}
			return err
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
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			names, err := s.Images().Load(in)
			if err != nil {
				return err
			}
			for _, n := range names {
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
