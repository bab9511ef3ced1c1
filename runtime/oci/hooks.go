package oci

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHook runs a hook in the runtime's namespaces (prestart,
// createRuntime, poststart, poststop) with the state on its stdin; it fails
// if the hook fails or outlives its timeout.
func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("hook %s: timed out after %d s", h.Path, *h.Timeout)
	}
	if err != nil {
		return fmt.Errorf("hook %s: %v: %s", h.Path, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
