package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/runtime"
)

// eachContainerParallel is eachContainer with fn run for every argument at
// once, as Docker's stop and kill do (three containers that ignore SIGTERM
// stop in one grace period, not three). Results are reported in the
// arguments' order; the store's own file locks keep the records safe.
func eachContainerParallel(ctx *cli.Context, fn func(s *runtime.Store, ref string) error) error {
	if err := needArgs(ctx, 1, "at least one container"); err != nil {
		return err
	}
	s, err := openStore(ctx)
	if err != nil {
		return err
	}
	refs := ctx.Args().Slice()
	done := make([]chan error, len(refs))
	for i, ref := range refs {
		done[i] = make(chan error, 1)
		go func() { done[i] <- fn(s, ref) }()
	}
	var failed error
	for i, ref := range refs {
		if err := <-done[i]; err != nil {
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
