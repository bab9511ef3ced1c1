package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// ExecDetachedCommand is the hidden argv[1] of exec -d's background half.
const ExecDetachedCommand = "_exec"

// ExecDetached is exec -d: it checks the container, then leaves the command
// to a hutch of its own session (its stdio /dev/null) and returns; the
// command's fate is in nobody's terminal, as with Docker.
func (s *Store) ExecDetached(ref string, o ExecOptions) error {
	if len(o.Args) == 0 {
		return invalidf("exec: no command given")
	}
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	if !c.Running() {
		return fmt.Errorf("container %s is not running", c.Name)
	}
	if c.IsPaused() {
		return fmt.Errorf("container %s is paused: unpause it first", c.Name)
	}
	o.Interactive = false
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd := exec.Command("/proc/self/exe", ExecDetachedCommand, s.Root, c.ID, string(b))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return cmd.Process.Release()
}

// ExecDetachedMain is the background half: `_exec ROOT ID OPTIONS-JSON`.
func ExecDetachedMain(root, id, opts string) {
	var o ExecOptions
	s, err := OpenStore(root)
	if err != nil || json.Unmarshal([]byte(opts), &o) != nil {
		os.Exit(125)
	}
	code, _ := s.Exec(id, o, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(code)
}
