//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestImageConfigStopSignal: an image whose config names StopSignal SIGUSR1 is stopped by
// SIGUSR1 (a shell that traps only USR1 exits with its trap's code, not 137), --stop-signal
// overrides the image's, and inspect records both the signal and --stop-timeout.
func TestImageConfigStopSignal(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "stop")
	img = withConfig(t, img, func(cfg *v1.ConfigFile) { cfg.Config.StopSignal = "SIGUSR1" })
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

// TestImageConfigPublishAll: -P publishes the image's ExposedPorts and --expose on host ports the
// kernel picks, real HTTP reaches each through 127.0.0.1, a -p of an exposed port wins over -P;
// --expose alone publishes nothing but is recorded in inspect.
func TestImageConfigPublishAll(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "ports")
	img = withConfig(t, img, func(cfg *v1.ConfigFile) { cfg.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}, "81/tcp": {}} })
	reg.push(t, "test/ports:1", img)
	ref := reg.addr + "/test/ports:1"
	e.ok("pull", ref)
	e.netCreate("pall", "--subnet", "10.203.41.0/24")

	fixed := netFreePort(t)
	id := e.lcRunDetached("--network", "pall", "-P", "--expose", "8080", "-p", fmt.Sprintf("%d:81", fixed),
		"--entrypoint", "/bin/sh", ref, "-c", netWebScript(80, 81, 8080))
	for _, tc := range []struct {
		key  string
		body string
	}{{"80/tcp", "port80"}, {"81/tcp", "port81"}, {"8080/tcp", "port8080"}} {
		p := e.netHostPort(id, tc.key)
		if tc.key == "81/tcp" && p != fixed {
			t.Errorf("81/tcp on host port %d, want -p's %d (not a second -P binding)", p, fixed)
		}
		netWaitBody(t, "127.0.0.1 -> "+tc.key, tc.body, func() (string, error) { return netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", p)) })
	}
	_, rows := e.lcPs()
	if row := lcFind(rows, id[:12]); row == nil || !strings.Contains(row[5], "->80/tcp") || !strings.Contains(row[5], "->8080/tcp") {
		t.Errorf("ps PORTS of the -P container: %q", row)
	}

	// --expose without -P: recorded, nothing published.
	plain := e.lcRunDetached("--network", "pall", "--expose", "9000-9001/udp", "busybox", "sleep", "100")
	var ds []struct {
		Config          struct{ ExposedPorts map[string]struct{} }
		NetworkSettings struct{ Ports map[string][]any }
	}
	if err := json.Unmarshal([]byte(e.ok("inspect", plain)), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	got := ds[0].Config.ExposedPorts
	if _, ok := got["9000/udp"]; !ok || len(got) != 2 {
		t.Errorf("Config.ExposedPorts = %v, want 9000/udp and 9001/udp", got)
	} else if _, ok := got["9001/udp"]; !ok {
		t.Errorf("Config.ExposedPorts = %v, want 9000/udp and 9001/udp", got)
	}
	// A port published with -p is exposed too, as in Docker.
	pub := e.lcRunDetached("--network", "pall", "-p", fmt.Sprintf("127.0.0.1:%d:7000", netFreePort(t)), "busybox", "sleep", "100")
	var pds []struct {
		Config struct{ ExposedPorts map[string]struct{} }
	}
	if err := json.Unmarshal([]byte(e.ok("inspect", pub)), &pds); err != nil || len(pds) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if got := pds[0].Config.ExposedPorts; len(got) != 1 {
		t.Errorf("-p ...:7000: Config.ExposedPorts = %v, want 7000/tcp", got)
	} else if _, ok := got["7000/tcp"]; !ok {
		t.Errorf("-p ...:7000: Config.ExposedPorts = %v, want 7000/tcp", got)
	}
	e.ok("rm", "-f", pub)
	for _, k := range []string{"9000/udp", "9001/udp"} {
		if bs, ok := ds[0].NetworkSettings.Ports[k]; !ok || bs != nil {
			t.Errorf("NetworkSettings.Ports[%s] = %v (present %v), want present with no bindings", k, bs, ok)
		}
	}
	e.ok("rm", "-f", id, plain)
	e.ok("network", "rm", "pall")
}

// TestRunImplicitPull: run of an image not in the store pulls it from the loopback registry first
// (Docker's "Unable to find image" line on stderr), --pull never refuses a missing image with
// nothing made, --pull always pulls again, a failed pull is one error line with exit 125 and
// nothing left, and busybox stays the built-in image with --pull always.
func TestRunImplicitPull(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	reg.push(t, "test/implicit:1", appImage(t, e, "implicit"))
	ref := reg.addr + "/test/implicit:1"

	e.fails(125, ref, "run", "--rm", "--pull", "never", ref)
	if out := e.ok("image", "ls"); strings.Contains(out, "implicit") {
		t.Fatalf("--pull never of a missing image listed it:\n%s", out)
	}
	r := e.run("run", "--rm", ref)
	if r.code != 0 || r.stdout != "hi from /app\n" {
		t.Fatalf("run of a missing image: %s, want the image's command's output", r)
	}
	if !strings.HasPrefix(r.stderr, "Unable to find image '"+ref+"' locally\n") || !strings.Contains(r.stderr, "Status: Downloaded") {
		t.Errorf("stderr %q, want Docker's 'Unable to find image' line, then the pull's status", r.stderr)
	}
	if out := e.ok("image", "ls"); !strings.Contains(out, reg.addr+"/test/implicit") {
		t.Errorf("image ls after the implicit pull:\n%s", out)
	}
	// Present: missing does not pull; always does.
	if r := e.run("run", "--rm", ref); r.code != 0 || r.stderr != "" {
		t.Errorf("second run: %s, want no pull", r)
	}
	if r := e.run("run", "--rm", "--pull", "always", ref); r.code != 0 || strings.Contains(r.stderr, "Unable to find") || !strings.Contains(r.stderr, "Status: Downloaded") {
		t.Errorf("--pull always: %s, want a pull without 'Unable to find'", r)
	}
	// The built-in busybox never reaches a registry, even with --pull always.
	if r := e.run("run", "--rm", "--pull", "always", "busybox", "echo", "local"); r.code != 0 || r.stdout != "local\n" || r.stderr != "" {
		t.Errorf("run --pull always busybox: %s", r)
	}
	// A registry that does not answer (a closed loopback port): one error line, 125, nothing left.
	dead := fmt.Sprintf("127.0.0.1:%d/test/none:1", netFreePort(t))
	r = e.run("run", "-d", dead)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 125 || r.stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "Unable to find image") || !strings.Contains(lines[1], dead) {
		t.Errorf("run of an image on a dead registry: %s, want exit 125, the 'Unable to find' line and one error line", r)
	}
	if ids := e.ids(); len(ids) != 0 {
		t.Errorf("containers left after failed pulls: %v", ids)
	}
	if out := e.ok("image", "ls"); strings.Contains(out, "none") {
		t.Errorf("a failed pull is listed:\n%s", out)
	}
}

// TestImageConfigVolumes: each of the config's Volumes becomes an anonymous volume seeded from
// the image, listed by `volume ls` and removed by `rm -v`; a -v onto the same path replaces it.
func TestImageConfigVolumes(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := appImage(t, e, "vols")
	img = withConfig(t, img, func(cfg *v1.ConfigFile) { cfg.Config.Volumes = map[string]struct{}{"/app": {}} })
	reg.push(t, "test/vols:1", img)
	ref := reg.addr + "/test/vols:1"
	e.ok("pull", ref)

	out := e.ok("run", "--name", "v", "--entrypoint", "/bin/sh", ref, "-c", "cat /app/hello.txt; grep ' /app ' /proc/mounts | wc -l")
	if out != "hello from layer two vols\n1" {
		t.Errorf("run: %q, want the image's file seen through one mount on /app", out)
	}
	vols := strings.Fields(e.ok("volume", "ls", "-q"))
	if len(vols) != 1 || !lcFullID.MatchString(vols[0]) {
		t.Fatalf("volume ls -q = %v, want one anonymous (64-hex) volume", vols)
	}
	e.ok("rm", "-v", "v")
	if out := e.ok("volume", "ls", "-q"); out != "" {
		t.Errorf("volume ls after rm -v: %q", out)
	}

	// A named volume on the same path replaces the image's: no anonymous one is made.
	out = e.ok("run", "--rm", "-v", "mine:/app", "--entrypoint", "/bin/sh", ref, "-c", "grep -c ' /app ' /proc/mounts")
	if out != "1" {
		t.Errorf("-v mine:/app: %q mounts on /app, want 1", out)
	}
	if out := e.ok("volume", "ls", "-q"); out != "mine" {
		t.Errorf("volume ls after --rm with -v mine:/app: %q, want only mine", out)
	}
	e.ok("volume", "rm", "mine")
}

// TestTagLocalImages: the built-in busybox and an imported image can be tagged; the tag runs,
// lists with the source's IMAGE ID, and rmi of a tag removes only the tag.
func TestTagLocalImages(t *testing.T) {
	e := newEnv(t)
	e.ok("tag", "busybox", "mybox")
	if out := e.ok("run", "--rm", "--pull", "never", "mybox", "echo", "tagged"); out != "tagged" {
		t.Errorf("run mybox: %q", out)
	}
	ids := map[string]string{}
	for _, row := range imageRows(e.ok("image", "ls")) {
		f := strings.Fields(row)
		ids[f[0]] = f[2]
	}
	if ids["busybox"] == "" || ids["mybox"] != ids["busybox"] {
		t.Errorf("image ls IDs %v, want mybox with busybox's", ids)
	}
	e.ok("rmi", "mybox")
	if out := e.ok("run", "--rm", "--pull", "never", "busybox", "echo", "still"); out != "still" {
		t.Errorf("busybox after rmi of its tag: %q", out)
	}
	e.fails(125, "mybox", "run", "--rm", "--pull", "never", "mybox", "true")

	// An imported image (busybox's files, re-imported), tagged, its source removed: the tag runs.
	tarPath := t.TempDir() + "/bb.tar"
	if out, err := exec.Command("tar", "-C", e.root+"/images/busybox/rootfs", "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	e.ok("image", "import", "imp", tarPath)
	e.ok("tag", "imp", "imp2")
	e.ok("rmi", "imp")
	if out := e.ok("run", "--rm", "--pull", "never", "imp2", "echo", "imported"); out != "imported" {
		t.Errorf("run imp2 after rmi imp: %q", out)
	}
	e.fails(1, "imp2", "tag", "busybox", "imp2") // the name is taken
	e.ok("rmi", "imp2")
}
