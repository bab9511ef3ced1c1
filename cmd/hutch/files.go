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

	"github.com/hutchrt/hutch/runtime"
)

// Both commands fail with exit 1, as Docker's cp and export do (125 is run's and create's).

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a container's filesystem as a tar archive",
		ArgsUsage: "CONTAINER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to a file instead of stdout"},
		},
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 { // flags go before the container
				return fmt.Errorf("export: needs one container, flags first (see 'hutch export --help')")
			}
			return export(ctx)
		},
	}
}

func export(ctx *cli.Context) error {
	return writeArchive(ctx.String("output"), "export",
		"export: cowardly refusing to write a tar archive to a terminal: use -o FILE or redirect",
		func(w io.Writer) error {
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			return runtime.NewFiles(s).Export(ctx.Args().First(), w)
		})
}

// writeArchive has write make a tar archive on stdout, or in the file out:
// written beside it and renamed over it when complete, so that a failed
// write leaves no partial archive. A terminal as stdout is refused, with
// the refusal each Docker command words its own way, before write opens
// anything.
func writeArchive(out, what, refusal string, write func(io.Writer) error) error {
	if out == "" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return errors.New(refusal)
		}
		return write(os.Stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func cpCommand() *cli.Command {
	return &cli.Command{
		Name:  "cp",
		Usage: "copy files between a container and the host",
		ArgsUsage: "CONTAINER:SRC_PATH DEST_PATH|-\n" +
			"   hutch cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "archive", Aliases: []string{"a"}, Usage: "keep the source's owners (uid and gid)"},
			&cli.BoolFlag{Name: "follow-link", Aliases: []string{"L"}, Usage: "always follow a symbolic link in SRC_PATH"},
		},
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 2 {
				return fmt.Errorf("cp: needs a source and a destination (see 'hutch cp --help')")
			}
			return cp(ctx)
		},
	}
}

func cp(ctx *cli.Context) error {
	srcCtr, src := splitCpArg(ctx.Args().Get(0))
	dstCtr, dst := splitCpArg(ctx.Args().Get(1))
	switch {
	case src == "":
		return errors.New("cp: the source cannot be empty")
	case dst == "":
		return errors.New("cp: the destination cannot be empty")
	case srcCtr == "" && dstCtr == "":
		return errors.New("cp: one of the paths must be CONTAINER:PATH")
	case srcCtr != "" && dstCtr != "":
		return errors.New("cp: copying between containers is not supported")
	}
	s, err := openStore(ctx)
	if err != nil {
		return err
	}
	opt := runtime.CopyOptions{Archive: ctx.Bool("archive"), FollowLink: ctx.Bool("follow-link")}
	if srcCtr != "" {
		if dst == "-" && term.IsTerminal(int(os.Stdout.Fd())) {
			return errors.New("cp: cowardly refusing to write a tar archive to a terminal: redirect it")
		}
		return runtime.NewFiles(s).CopyFrom(srcCtr, src, dst, opt, os.Stdout)
	}
	return runtime.NewFiles(s).CopyTo(dstCtr, src, dst, opt, os.Stdin)
}

// splitCpArg splits CONTAINER:PATH as Docker does: an absolute path, or one starting with "."
// (./file:name), is a host path whatever colons it holds.
func splitCpArg(arg string) (container, path string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	container, path, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(container, ".") {
		return "", arg
	}
	return container, path
}
