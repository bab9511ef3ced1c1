package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"text/template"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/cmd/hutch/format"
	"github.com/hutchrt/hutch/runtime/events"
	"golang.org/x/sys/unix"
)

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name: "events", Usage: "show container, image, network and volume events (follows new ones until --until or ctrl-c)", OnUsageError: usageErr,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "container, event, image, label, network, type or volume=VALUE"},
			&cli.StringFlag{Name: "format", Usage: "a Go template, or json"},
			&cli.StringFlag{Name: "since", Usage: "show events since this time (Unix, RFC 3339 or a duration before now)"},
			&cli.StringFlag{Name: "until", Usage: "stop at this time"},
		},
		Action: eventsAction,
	}
}

func eventsAction(ctx *cli.Context) error {
	if err := noArgs(ctx); err != nil {
		return err
	}
	now := time.Now()
	since, err := events.ParseTime(ctx.String("since"), now)
	if err != nil {
		return fmt.Errorf("events: --since: %v", err)
	}
	until, err := events.ParseTime(ctx.String("until"), now)
	if err != nil {
		return fmt.Errorf("events: --until: %v", err)
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		return fmt.Errorf("events: --since %s is after --until %s", ctx.String("since"), ctx.String("until"))
	}
	filter, err := events.ParseFilter(ctx.StringSlice("filter"))
	if err != nil {
		return err
	}
	print, err := eventPrinter(ctx.String("format"))
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var printErr error
	show := func(e events.Event) {
		if printErr == nil && filter.Match(e) {
			if printErr = print(out, e); printErr == nil {
				printErr = out.Flush()
			}
		}
	}
	sigctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	defer stop()
	follow, cancel := context.WithCancel(sigctx)
	defer cancel()
	// Past events only with a bound, as Docker: without one, only new events.
	past := !since.IsZero() || !until.IsZero()
	if err := events.Follow(follow, ctx.String("root"), past, since, until, func(e events.Event) {
		if show(e); printErr != nil {
			cancel() // stdout closed: stop following
		}
	}); err != nil {
		return err
	}
	return printErr
}

// eventPrinter is Docker's default line, or --format's template (json:
// each event as JSON) over Docker's event fields.
func eventPrinter(f string) (func(*bufio.Writer, events.Event) error, error) {
	if f == "" {
		return func(w *bufio.Writer, e events.Event) error {
			_, err := fmt.Fprintln(w, events.Line(e))
			return err
		}, nil
	}
	if f == "json" {
		f = "{{json .}}"
	}
	t, err := format.Parse(f, format.Functions)
	if err != nil {
		return nil, err
	}
	return func(w *bufio.Writer, e events.Event) error { return execEvent(w, t, e) }, nil
}

func execEvent(w *bufio.Writer, t *template.Template, e events.Event) error {
	var b bytes.Buffer // nothing of a line that fails
	if err := t.Execute(&b, e); err != nil {
		return fmt.Errorf("template parsing error: %v", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
