package runtime

import (
	"errors"
	"fmt"
	"io"

	"github.com/hutchrt/hutch/runtime/oci"
)

// errAlreadyRunning is a start that found another monitor in charge.
var errAlreadyRunning = errors.New("container is already running")

// readyRunning is what a detached monitor writes to its ready pipe when it
// found the container already in another monitor's hands.
const readyRunning = "running"

// readInitResult reads a verdict from a plain stream (a detached monitor's
// ready pipe): nothing before EOF means success.
func readInitResult(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read from monitor: %w", err)
	}
	switch string(b) {
	case "":
		return nil
	case readyRunning:
		return errAlreadyRunning
	}
	return oci.ParseInitError(b)
}
