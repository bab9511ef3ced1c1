package main

import "github.com/urfave/cli/v2"

// urfave/cli works out a flag's names with a regexp each time it asks, and
// it asks for every flag of a command once per flag while parsing (to run
// flag actions): some 1,500 regexp calls, 0.3 ms of every `hutch run`.
// withFixedNames wraps each flag so that it answers with names computed
// once. The wrappers embed the library's own flag types, so parsing, help
// and values are the library's.
func withFixedNames(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		for i, f := range c.Flags {
			c.Flags[i] = fixNames(f)
		}
		withFixedNames(c.Subcommands)
	}
	return cmds
}

func fixNames(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return &boolFlag{f, namesOf(f.Name, f.Aliases)}
	case *cli.StringFlag:
		return &stringFlag{f, namesOf(f.Name, f.Aliases)}
	case *cli.StringSliceFlag:
		return &stringSliceFlag{f, namesOf(f.Name, f.Aliases)}
	case *cli.IntFlag:
		return &intFlag{f, namesOf(f.Name, f.Aliases)}
	case *cli.Int64Flag:
		return &int64Flag{f, namesOf(f.Name, f.Aliases)}
	case *cli.DurationFlag:
		return &durationFlag{f, namesOf(f.Name, f.Aliases)}
	}
	return f // another kind: the library's slow path, still correct
}

func namesOf(name string, aliases []string) []string {
	return append([]string{name}, aliases...)
}

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

type stringFlag struct {
	*cli.StringFlag
	names []string
}

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

type intFlag struct {
	*cli.IntFlag
	names []string
}

type int64Flag struct {
	*cli.Int64Flag
	names []string
}

func (f *boolFlag) Names() []string        { return f.names }
func (f *stringFlag) Names() []string      { return f.names }
func (f *stringSliceFlag) Names() []string { return f.names }
func (f *intFlag) Names() []string         { return f.names }
func (f *int64Flag) Names() []string       { return f.names }

type durationFlag struct {
	*cli.DurationFlag
	names []string
}

func (f *durationFlag) Names() []string { return f.names }
