package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hutchrt/hutch/runtime"
	"github.com/urfave/cli/v2"
)

func systemCommand() *cli.Command {
	force := func() cli.Flag {
		return &cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt for confirmation"}
	}
	return &cli.Command{
		Name:  "system",
		Usage: "manage this root as a whole",
		Subcommands: []*cli.Command{
			dfCommand(),
			{
				Name: "prune", Usage: "remove stopped containers and unused networks", OnUsageError: usageErr,
				Flags: []cli.Flag{force()},
				Action: func(ctx *cli.Context) error {
					if err := noArgs(ctx); err != nil {
						return err
					}
					if !ctx.Bool("force") && !confirm(os.Stdin, os.Stdout, pruneWarning) {
						return nil // as Docker: not confirmed is not an error
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					r, err := runtime.NewSystem(s).Prune()
					fmt.Print(pruneOutput(r.Containers, r.Networks, r.Reclaimed))
					return err
				},
			},
			{
				Name: "reset", Usage: "remove every container, network and image of this root, and the root", OnUsageError: usageErr,
				Flags: []cli.Flag{force()},
				Action: func(ctx *cli.Context) error {
					if err := noArgs(ctx); err != nil {
						return err
					}
					if !ctx.Bool("force") && !confirm(os.Stdin, os.Stdout, resetWarning(ctx.String("root"))) {
						return nil // as Podman
					}
					s, err := openStore(ctx)
					if err != nil {
						return err
					}
					_, err = runtime.NewSystem(s).Reset()
					return err
				},
			},
		},
	}
}

// Docker's and Podman's warnings, for what hutch has.
const pruneWarning = `WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container

Are you sure you want to continue?`

func resetWarning(root string) string {
	return fmt.Sprintf(`WARNING! This will remove:
        - all containers
        - all networks
        - all images
        - all volumes
        - the root directory: %q
Are you sure you want to continue?`, root)
}

// confirm prints msg and " [y/N] " and reads one line: only y or Y is
// yes, as in Docker. No answer (end of input, as from a script with no
// stdin) is no, as in Docker and Podman.
func confirm(in io.Reader, out io.Writer, msg string) bool {
	fmt.Fprint(out, msg+" [y/N] ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out) // end the prompt's line
		return false
	}
	return strings.EqualFold(strings.TrimSpace(line), "y")
}

// pruneOutput is Docker's `system prune` report: each non-empty section,
// then the total.
func pruneOutput(containers, networks []string, reclaimed int64) string {
	var b strings.Builder
	for _, sec := range []struct {
		title string
		items []string
	}{{"Deleted Containers:", containers}, {"Deleted Networks:", networks}} {
		if len(sec.items) == 0 {
			continue
		}
		b.WriteString(sec.title + "\n")
		for _, it := range sec.items {
			b.WriteString(it + "\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Total reclaimed space: %s\n", humanSize(reclaimed))
	return b.String()
}
