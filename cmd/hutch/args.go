package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// runApp runs the app on args put in the shape urfave/cli parses as Docker
// would (see normalizeArgs).
func runApp(app *cli.App, args []string) error {
	return app.Run(normalizeArgs(app, args))
}

// normalizeArgs rewrites every flag to its flag's first name, so that a
// command mixing a flag's forms (`run -e A=1 --env B=2`) is accepted and
// its values merge in command-line order, as Docker's: urfave/cli refuses
// two forms of one flag ("Cannot use two forms of the same flag"), and all
// forms share one value, so one name changes nothing else. It walks the
// arguments as urfave/cli does (the app's flags, then each command's, up
// to the first argument), and leaves alone what it does not know: the
// library reports it as before.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	rest, done := normalizeFlags(app.Flags, args[1:], &out)
	if done {
		return out
	}
	cmds := app.Commands
	for len(rest) > 0 {
		c := findCommand(cmds, rest[0])
		if c == nil || c.SkipFlagParsing {
			break
		}
		out = append(out, rest[0])
		if rest, done = normalizeFlags(c.Flags, rest[1:], &out); done {
			return out
		}
		cmds = c.Subcommands
	}
	return append(out, rest...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		for _, n := range c.Names() {
			if n == name {
				return c
			}
		}
	}
	return nil
}

// normalizeFlags appends to out the flags at the head of args, each under
// its first name, and returns the arguments after them; done when it has
// consumed all of args (a "--" included).
func normalizeFlags(flags []cli.Flag, args []string, out *[]string) (rest []string, done bool) {
	byName := map[string]cli.Flag{}
	for _, f := range flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
	}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			*out = append(*out, args...)
			return nil, true
		}
		if len(a) < 2 || a[0] != '-' {
			return args, false
		}
		args = args[1:]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := byName[name]
		if f == nil {
			// -it: short bools run together, split as the library does.
			if split := splitShort(byName, a); split != nil {
				args = append(split, args...)
				continue
			}
			*out = append(*out, a) // unknown: the library's error
			continue
		}
		arg := dashed(f.Names()[0])
		if hasValue {
			arg += "=" + value
		}
		*out = append(*out, arg)
		if !hasValue && takesValue(f) && len(args) > 0 {
			*out = append(*out, args[0])
			args = args[1:]
		}
	}
	return nil, true
}

// splitShort splits "-abc" into "-a", "-b", "-c" when each is a flag.
func splitShort(byName map[string]cli.Flag, a string) []string {
	if strings.HasPrefix(a, "--") || len(a) <= 2 {
		return nil
	}
	var split []string
	for _, c := range a[1:] {
		if byName[string(c)] == nil {
			return nil
		}
		split = append(split, "-"+string(c))
	}
	return split
}
