package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes as Docker's CLI gives them (docker/cli: cmd/docker/docker.go
// exits with a StatusError's code, else 1; cli/cobra.go's FlagErrorFunc makes
// every flag error a StatusError of 125; the Args checks of cli/required.go
// and an unknown command are plain errors; run alone turns its failures into
// 125, or 126/127 when the command cannot be run).
const (
	exitFailed    = 1   // any command but run failed, or was given too few arguments
	exitFlagError = 125 // a flag did not parse, whatever the command
	exitRunFailed = 125 // run: hutch failed, not the container
)

// exitError carries an exit code other than exitFailed (the container's
// own, 125, or 126/127 for a command that cannot run).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// exitCode is the code for what a command returned, and the error to print.
func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.err
	}
	return exitFailed, err
}

// runFailed makes a failure of run exit 125, unless it already carries a
// code (the container's own, 126, 127).
func runFailed(err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitRunFailed, err: err}
}

// usageErr makes urfave/cli's flag errors one line naming the command.
func usageErr(ctx *cli.Context, err error, _ bool) error {
	if name := commandPath(ctx); name != "" {
		err = fmt.Errorf("%s: %v (see 'hutch %s --help')", name, err, name)
	} else {
		err = fmt.Errorf("%v (see 'hutch --help')", err)
	}
	return &exitError{code: exitFlagError, err: err}
}

// withDockerErrors gives every command that groups others (image, network,
// system) the flag errors of the rest and an action that names an unknown
// subcommand; hutch itself is given the same by newApp.
func withDockerErrors(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = usageErr
		}
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = unknownCommand
		}
		withDockerErrors(c.Subcommands)
	}
	return cmds
}

// unknownCommand shows the help of hutch or of a group of commands when it
// is given no command, and names the unknown one otherwise (exit 1, as
// Docker's "'X' is not a docker command").
func unknownCommand(ctx *cli.Context) error {
	name := commandPath(ctx)
	if !ctx.Args().Present() {
		if name == "" {
			return cli.ShowAppHelp(ctx)
		}
		return cli.ShowSubcommandHelp(ctx)
	}
	typed := strings.TrimSpace(name + " " + ctx.Args().First())
	// Docker's two lines: "docker: 'X' is not a docker command." and "See 'docker --help'".
	return fmt.Errorf("'%s' is not a hutch command.\nSee 'hutch %s'", shortArg(typed), strings.TrimSpace(name+" --help"))
}

// shortArg cuts what the user typed to a length an error line can carry.
func shortArg(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
