package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:         "inspect",
		Usage:        "show containers (or images, networks, volumes) in detail, as JSON",
		ArgsUsage:    "NAME|ID...",
		Flags:        []cli.Flag{formatFlag(), &cli.StringFlag{Name: "type", Usage: "container, image, network or volume (default: the first that has the name)"}},
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "at least one container"); err != nil {
				return err
			}
			kind := ctx.String("type")
			switch kind {
			case "", "container", "image", "network", "volume":
			default:
				return fmt.Errorf("inspect: %q is not a valid value for --type", kind)
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			return printDetails(ctx, func(ref string) (any, error) { return inspectObject(s, kind, ref) })
		},
	}
}

// inspectObject is Docker's inspect: a container by that name, else an
// image, a network, a volume (or only the kind --type names).
func inspectObject(s *runtime.Store, kind, ref string) (any, error) {
	lookups := []struct {
		kind     string
		find     func() (any, error)
		notFound error
	}{
		{"container", func() (any, error) { return s.Inspect(ref) }, runtime.ErrNotFound},
		{"image", func() (any, error) {
			img, err := s.Images().Find(ref)
			if err != nil {
				return nil, err
			}
			return img.Inspect()
		}, rootfs.ErrNotFound},
		{"network", func() (any, error) {
			nets := runtime.NewNetworks(s.Root, s)
			if kind == "" && !nets.Exists(ref) {
				return nil, network.ErrNotFound
			}
			return nets.Inspect(ref)
		}, network.ErrNotFound},
		{"volume", func() (any, error) { return s.Volumes().Get(ref) }, rootfs.ErrNoVolume},
	}
	for _, l := range lookups {
		if kind != "" && kind != l.kind {
			continue
		}
		d, err := l.find()
		// Without --type, a name that cannot be an image or a network
		// (too long, bad characters) is just not one of them.
		if kind != "" || err == nil || l.kind == "container" && !errors.Is(err, l.notFound) {
			return d, err
		}
	}
	return nil, fmt.Errorf("no such object: %s", shortArg(ref))
}
