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

// normalizeArgs puts args in the shape Docker's CLI would read them as:
//   - every flag of a command under the form it is first given in, so that
//     a command may mix a flag's forms (`run -e A=1 --env B=2`), their
//     values merging in command-line order: urfave/cli refuses two forms of
//     one flag ("Cannot use two forms of the same flag"), and all forms
//     share one value, so one name changes nothing else (and the library's
//     errors name the flag as typed);
//   - flags after arguments (`images busybox -q`) moved before them, except
//     for the commands whose arguments after the first are a command (see
//     flagsAnywhere): urfave/cli stops at the first argument.
//
// It walks the arguments as urfave/cli does (the app's flags, then each
// command's), and leaves alone what it does not know: the library reports
// it as before.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	flags, rest := normalizeFlags(app.Flags, args[1:], map[cli.Flag]string{})
	out := append([]string{args[0]}, flags...)
	cmds := app.Commands
	for len(rest) > 0 && rest[0] != "--" {
		c := commandNamed(cmds, rest[0])
		if c == nil || c.SkipFlagParsing {
			break
		}
		out = append(out, rest[0])
		used := map[cli.Flag]string{}
		flags, rest = normalizeFlags(c.Flags, rest[1:], used)
		out = append(out, flags...)
		if len(c.Subcommands) > 0 {
			cmds = c.Subcommands
			continue
		}
		if !flagsAnywhere(c) {
			break
		}
		var positional []string
		for len(rest) > 0 && rest[0] != "--" {
			positional = append(positional, rest[0])
			flags, rest = normalizeFlags(c.Flags, rest[1:], used)
			out = append(out, flags...)
		}
		if len(rest) > 0 { // "--": what follows is arguments, whatever it looks like
			out = append(out, "--")
			rest = rest[1:]
		}
		return append(append(out, positional...), rest...)
	}
	return append(out, rest...)
}

// flagsAnywhere tells whether c takes flags after its arguments: Docker's
// commands do, but for those that run a command given after their first
// argument (cobra's SetInterspersed(false)).
func flagsAnywhere(c *cli.Command) bool {
	switch c.Name {
	case "run", "create", "exec", "top":
		return false
	}
	return true
}

// normalizeFlags returns the flags at the head of args, each under the
// name used records for it (set at its first use), and the arguments after
// them (from the first that is not a flag, or from "--").
func normalizeFlags(flags []cli.Flag, args []string, used map[cli.Flag]string) (out, rest []string) {
	for len(args) > 0 {
		a := args[0]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return out, args
		}
		args = args[1:]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := flagNamed(flags, name)
		if f == nil {
			// -it: short bools run together, split as the library does.
			if split := splitShort(flags, a); split != nil {
				args = append(split, args...)
				continue
			}
			out = append(out, a) // unknown: the library's error
			continue
		}
		if _, ok := used[f]; !ok {
			used[f] = name
		}
		arg := dashed(used[f])
		if hasValue {
			arg += "=" + value
		}
		out = append(out, arg)
		if !hasValue && takesValue(f) && len(args) > 0 {
			out = append(out, args[0])
			args = args[1:]
		}
	}
	return out, nil
}

// splitShort splits "-abc" into "-a", "-b", "-c" when each is a flag.
func splitShort(flags []cli.Flag, a string) []string {
	if strings.HasPrefix(a, "--") || len(a) <= 2 {
		return nil
	}
	var split []string
	for _, c := range a[1:] {
		if flagNamed(flags, string(c)) == nil {
			return nil
		}
		split = append(split, "-"+string(c))
	}
	return split
}
