package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/cmd/hutch/format"
	"github.com/hutchrt/hutch/runtime"
	"github.com/hutchrt/hutch/runtime/logs"
)

// quoteCommand is Docker's COMMAND column: quoted, cut at 20 characters.
func quoteCommand(args []string) string {
	s := strings.Join(args, " ")
	if r := []rune(s); len(r) > 19 {
		s = string(r[:19]) + "…"
	}
	return strconv.Quote(s) // Docker's: inner quotes escaped
}

func statusText(c *runtime.Container, now time.Time) string {
	switch c.Status {
	case runtime.StatusRunning:
		if c.IsPaused() {
			return "Up " + humanDuration(now.Sub(c.StartedAt)) + " (Paused)"
		}
		return "Up " + humanDuration(now.Sub(c.StartedAt)) + c.HealthSuffix()
	case runtime.StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, humanDuration(now.Sub(c.FinishedAt)))
	case runtime.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.ExitCode, humanDuration(now.Sub(c.FinishedAt)))
	}
	return "Created"
}

// humanDuration follows Docker's (go-units) wording.
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Round(time.Hour).Hours()); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	default:
		return fmt.Sprintf("%d years", h/24/365)
	}
}

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "show a container's output",
		ArgsUsage: "CONTAINER",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new output until the container stops"},
			&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "number of lines from the end"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps"},
			&cli.StringFlag{Name: "since", Usage: "only output from then on: a duration before now (10m), Unix seconds or an RFC 3339 time"},
			&cli.StringFlag{Name: "until", Usage: "only output before then (same forms as --since)"},
			&cli.BoolFlag{Name: "details", Usage: "show the log's extra attributes (hutch records none: the output is unchanged)"},
		},
		OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "a container"); err != nil {
				return err
			}
			tail := -1
			if t := ctx.String("tail"); t != "all" {
				if _, err := fmt.Sscanf(t, "%d", &tail); err != nil || tail < 0 {
					return fmt.Errorf("logs: --tail %q: want a number or all", t)
				}
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			opt := logs.ReadOptions{Tail: tail, Timestamps: ctx.Bool("timestamps"), Follow: ctx.Bool("follow")}
			for name, dst := range map[string]*time.Time{"since": &opt.Since, "until": &opt.Until} {
				if v := ctx.String(name); v != "" {
					t, err := logs.ParseTime(v, time.Now())
					if err != nil {
						return fmt.Errorf("logs: --%s: %v", name, err)
					}
					*dst = t
				}
			}
			return s.Logs(ctx.Context, ctx.Args().First(), opt, os.Stdout, os.Stderr)
		},
	}
}

// eachContainer applies fn to every CONTAINER argument, printing the argument
// on success like Docker, and fails (after trying all) if any failed.
func eachContainer(ctx *cli.Context, fn func(s *runtime.Store, ref string) error) error {
	if err := needArgs(ctx, 1, "at least one container"); err != nil {
		return err
	}
	s, err := openStore(ctx)
	if err != nil {
		return err
	}
	var failed error
	for _, ref := range ctx.Args().Slice() {
		if err := fn(s, ref); err != nil {
			if failed != nil {
				fmt.Fprintf(os.Stderr, "hutch: %v\n", failed)
			}
			failed = err
			continue
		}
		fmt.Println(ref)
	}
	return failed
}

// perContainer is a verb applied to each CONTAINER argument in turn.
func perContainer(name, usage string, flags []cli.Flag, do func(ctx *cli.Context, s *runtime.Store, ref string) error) *cli.Command {
	each := eachContainer
	if name == "stop" || name == "kill" { // Docker's act on all at once
		each = eachContainerParallel
	}
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "CONTAINER...", Flags: flags, OnUsageError: usageErr,
		Action: func(ctx *cli.Context) error {
			return each(ctx, func(s *runtime.Store, ref string) error { return do(ctx, s, ref) })
		},
	}
}

func stopCommand() *cli.Command {
	return perContainer("stop", "stop containers (the stop signal, SIGTERM by default, then SIGKILL after a grace period)",
		[]cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "seconds to wait before killing (default: the container's --stop-timeout, else 10)"}},
		func(ctx *cli.Context, s *runtime.Store, ref string) error {
			var timeout *time.Duration
			if ctx.IsSet("time") {
				t := time.Duration(ctx.Int("time")) * time.Second
				timeout = &t
			}
			_, err := s.Stop(ref, timeout)
			return err
		})
}

func killCommand() *cli.Command {
	return perContainer("kill", "send a signal to containers",
		[]cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "signal name or number"}},
		func(ctx *cli.Context, s *runtime.Store, ref string) error {
			sig, err := runtime.ParseSignal(ctx.String("signal"))
			if err != nil {
				return err
			}
			_, err = s.Kill(ref, sig)
			return err
		})
}

func rmCommand() *cli.Command {
	return perContainer("rm", "remove containers",
		[]cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first"},
			&cli.BoolFlag{Name: "volumes", Aliases: []string{"v"}, Usage: "remove its anonymous volumes too"},
		},
		func(ctx *cli.Context, s *runtime.Store, ref string) error {
			c, err := s.Remove(ref, ctx.Bool("force"))
			if err == nil && c != nil && ctx.Bool("volumes") {
				err = s.RemoveAnonymousVolumes(c)
			}
			return err
		})
}

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:         "wait",
		Usage:        "wait for containers to stop and print their exit codes",
		ArgsUsage:    "CONTAINER...",
		OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "condition", Value: "not-running", Usage: "not-running, next-exit or removed"},
		},
		Action: func(ctx *cli.Context) error {
			if err := needArgs(ctx, 1, "at least one container"); err != nil {
				return err
			}
			s, err := openStore(ctx)
			if err != nil {
				return err
			}
			for _, ref := range ctx.Args().Slice() {
				code, err := s.WaitCondition(ref, ctx.String("condition"))
				if err != nil {
					return err
				}
				fmt.Println(code)
			}
			return nil
		},
	}
}

// formatFlag is inspect's -f/--format.
func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "a Go template over Docker's JSON keys, e.g. '{{.State.Status}}', or json"}
}

// printDetails is Docker's inspect output: a JSON array of what each
// argument describes, or with --format a line per one; the ones that fail
// are left out and their errors returned.
func printDetails(ctx *cli.Context, describe func(ref string) (any, error)) error {
	refs := ctx.Args().Slice()
	f := ctx.String("format")
	if f != "" && f != "json" {
		if _, err := format.Parse(f, format.Functions); err != nil {
			return err // a bad template: nothing looked up, as Docker
		}
	}
	out := []any{}
	var failed error
	for _, ref := range refs {
		d, err := describe(ref)
		if err != nil {
			failed = errors.Join(failed, err)
			continue
		}
		out = append(out, d)
	}
	if f != "" && f != "json" {
		if err := format.Details(os.Stdout, f, out); err != nil {
			return err
		}
		return failed
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "    ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return failed
}
