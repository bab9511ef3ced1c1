package main

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every flag of every command is wrapped (a new kind of flag would take the
// library's slow path unnoticed), and answers the names the library would.
func TestFlagsHaveFixedNames(t *testing.T) {
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				var lib cli.Flag
				switch w := f.(type) {
				case *boolFlag:
					lib = w.BoolFlag
				case *stringFlag:
					lib = w.StringFlag
				case *stringSliceFlag:
					lib = w.StringSliceFlag
				case *intFlag:
					lib = w.IntFlag
				case *int64Flag:
					lib = w.Int64Flag
				case *durationFlag:
					lib = w.DurationFlag
				default:
					t.Errorf("%s%s: flag %v (%T) is not wrapped by fixNames", path, c.Name, f.Names(), f)
					continue
				}
				if got, want := f.Names(), lib.Names(); !reflect.DeepEqual(got, want) {
					t.Errorf("%s%s: names %v, the library says %v", path, c.Name, got, want)
				}
			}
			walk(path+c.Name+" ", c.Subcommands)
		}
	}
	app := newApp()
	walk("", []*cli.Command{{Name: "hutch", Flags: app.Flags}})
	walk("", app.Commands)
}
