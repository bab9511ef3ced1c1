//go:build integration

package integration

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestNode runs node.sh: a private containerd, and its CRI plugin with a
// runtime handler, drive hutch as hutch-runc (or $RUNTIME_BIN, else
// $OCI_RUNTIME, e.g. /usr/sbin/runc) through ctr and crictl, down to a pod
// of two containers talking over localhost; the script checks every step's
// output and that its teardown left nothing.
func TestNode(t *testing.T) {
	rt := os.Getenv("RUNTIME_BIN")
	if rt == "" {
		rt = os.Getenv("OCI_RUNTIME")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "node.sh", hutchBin)
	// Empty: node.sh runs hutch as hutch-runc.
	cmd.Env = append(os.Environ(), "RUNTIME_BIN="+rt)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node.sh (RUNTIME_BIN=%q): %v\n%s", rt, err, out)
	}
	t.Logf("%s", out)
}
