package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/hutchrt/hutch/rootfs"
)

// Pull policies of run's --pull, as Docker's.
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// ParsePullPolicy reads --pull; "" is missing, Docker's default.
func ParsePullPolicy(s string) (string, error) {
	switch s {
	case "", PullMissing:
		return PullMissing, nil
	case PullAlways, PullNever:
		return s, nil
	}
	return "", invalidf("invalid pull option: %q: must be one of \"always\", \"missing\" or \"never\"", s)
}

// forRun finds run's image, pulling it first as o.Pull says. A local image (the built-in
// busybox, an import) is never pulled: `run busybox` works on a machine with no registry.
// Messages go to o.PullOutput, as Docker's run writes them on stderr.
func (im *Images) forRun(o RunOptions) (rootfs.Image, error) {
	policy, err := ParsePullPolicy(o.Pull)
	if err != nil {
		return rootfs.Image{}, err
	}
	images := im.Store
	img, err := images.Get(o.Image)
	missing := errors.Is(err, rootfs.ErrNotFound)
	switch {
	case err != nil && !missing:
		return img, err
	case policy == PullNever, !missing && (policy == PullMissing || len(img.Layers) == 0):
		return img, err
	}
	out := o.PullOutput
	if out == nil {
		out = io.Discard
	}
	if missing {
		fmt.Fprintf(out, "Unable to find image '%s' locally\n", o.Image)
	}
	var progress io.Writer // on a terminal only, as pull's rows kept in place
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = rootfs.TTY{W: f}
	}
	img, err = images.Pull(context.Background(), o.Image, progress)
	if err != nil {
		return img, err
	}
	im.PullEvent(img.Name)
	fmt.Fprint(out, rootfs.PullStatus(img, "")) // "Downloaded newer image", even for --pull always of an unchanged one
	return img, nil
}
