//go:build integration

package integration

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImageConfigStopSignal: an image whose config names StopSignal SIGUSR1 is stopped by
// SIGUSR1 (a shell that traps only USR1 exits with its trap's code, not 137), --stop-signal
// overrides the image's, and inspect records both the signal and --stop-timeout.
func TestImageConfigStopSignal(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "stop")
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.StopSignal = "SIGUSR1"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	ref := reg.addr + "/test/stopsig:1"
	reg.push(t, ref[len(reg.addr)+1:], img)
	e.ok("pull", ref)

	// Each shell traps one signal only and ignores TERM: the wrong signal would end in 137.
	script := func(sig string, code string) string {
		return `trap "" TERM; trap "echo got-` + sig + `; exit ` + code + `" ` + sig + `; echo ready; while :; do sleep 0.1; done`
	}
	e.lcRunDetached("--name", "img", "--entrypoint", "/bin/sh", ref, "-c", script("USR1", "5"))
	e.lcRunDetached("--name", "flag", "--stop-signal", "USR2", "--stop-timeout", "30", "--entrypoint", "/bin/sh", ref, "-c", script("USR2", "6"))
	if !lcWaitUntil(5*time.Second, func() bool { return e.ok("logs", "img") == "ready" && e.ok("logs", "flag") == "ready" }) {
		t.Fatal("the shells never became ready")
	}
	type stopConfig struct {
		StopSignal  string `json:"StopSignal"`
		StopTimeout *int   `json:"StopTimeout"`
	}
	inspect := func(ref string) (c stopConfig) {
		var ds []struct{ Config stopConfig }
		if err := json.Unmarshal([]byte(e.ok("inspect", ref)), &ds); err != nil || len(ds) != 1 {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		return ds[0].Config
	}
	ins := struct{ Config stopConfig }{inspect("img")}
	if ins.Config.StopSignal != "SIGUSR1" || ins.Config.StopTimeout != nil {
		t.Errorf("inspect img: Config %+v, want StopSignal SIGUSR1 and no StopTimeout", ins.Config)
	}
	ins.Config = inspect("flag")
	if ins.Config.StopSignal != "USR2" || ins.Config.StopTimeout == nil || *ins.Config.StopTimeout != 30 {
		t.Errorf("inspect flag: Config %+v, want StopSignal USR2, StopTimeout 30", ins.Config)
	}

	e.ok("stop", "-t", "30", "img")
	if d := e.lcInspect("img"); d.State.Running || d.State.ExitCode != 5 {
		t.Errorf("after stop of the image's USR1 trap: %+v, want exited 5", d.State)
	}
	if out := e.ok("logs", "img"); out != "ready\ngot-USR1" {
		t.Errorf("logs img = %q", out)
	}
	e.ok("stop", "flag")
	if d := e.lcInspect("flag"); d.State.Running || d.State.ExitCode != 6 {
		t.Errorf("after stop of the --stop-signal USR2 trap: %+v, want exited 6", d.State)
	}
	if out := e.ok("logs", "flag"); out != "ready\ngot-USR2" {
		t.Errorf("logs flag = %q", out)
	}
	e.ok("rm", "img", "flag")
}
