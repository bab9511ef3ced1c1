//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventLine is Docker's default event line.
var eventLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (\w+) (\w+) (\S+)(?: \((.*)\))?$`)

type eventJSON struct {
	Status, ID, From string
	Type, Action     string
	Actor            struct {
		ID         string
		Attributes map[string]string
	}
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// TestEventsLifecycle: run, stop, rm; events --since/--until lists create,
// start, kill, die, stop, destroy in order, as Docker's lines and as JSON
// with Docker's fields; --filter and --format pick and shape them; bad
// input is one line and exit 1.
func TestEventsLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	since := time.Now().Format(time.RFC3339Nano)
	id := e.ok("run", "-d", "--name", "web", "-l", "app=x", "busybox", "sh", "-c", `trap "exit 3" TERM; sleep 30 & wait`)
	eventsTrapped(t, e, "web", 15)
	e.ok("stop", "web")
	e.ok("rm", "web")
	until := fmt.Sprintf("%.9f", float64(time.Now().UnixNano())/1e9) // a Unix time with a fraction
	bounds := []string{"events", "--since", since, "--until", until}

	lines := lcLines(e.ok(bounds...))
	want := []string{"create", "start", "kill", "die", "stop", "destroy"}
	if len(lines) != len(want) {
		t.Fatalf("events: %q, want %v", lines, want)
	}
	for i, l := range lines {
		m := eventLine.FindStringSubmatch(l)
		if m == nil || m[2] != "container" || m[3] != want[i] || m[4] != id {
			t.Errorf("line %d: %q, want container %s %s", i, l, want[i], id)
			continue
		}
		attrs := "app=x, image=busybox, name=web"
		switch want[i] {
		case "kill":
			attrs += ", signal=15"
		case "die":
			attrs = "app=x, exitCode=3, image=busybox, name=web"
		}
		if m[5] != attrs {
			t.Errorf("%s attributes (%s), want (%s)", want[i], m[5], attrs)
		}
	}

	// JSON: Docker's keys, legacy ones included, times in order.
	var prev int64
	for i, l := range lcLines(e.ok(append(bounds, "--format", "{{json .}}")...)) {
		var ev eventJSON
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("json line %q: %v", l, err)
		}
		if ev.Type != "container" || ev.Action != want[i] || ev.Status != want[i] || ev.ID != id || ev.From != "busybox" ||
			ev.Actor.ID != id || ev.Actor.Attributes["name"] != "web" || ev.Scope != "local" ||
			ev.Time != ev.TimeNano/1e9 || ev.TimeNano < prev {
			t.Errorf("json event %d: %+v", i, ev)
		}
		prev = ev.TimeNano
	}
	for _, key := range []string{`"Type"`, `"Action"`, `"Actor"`, `"Attributes"`, `"timeNano"`, `"scope"`, `"status"`, `"from"`} {
		if out := e.ok(append(bounds, "--format", "json")...); !strings.Contains(out, key) {
			t.Errorf("--format json lacks %s: %s", key, out)
		}
	}

	// Filters: OR within a key, AND across keys.
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--filter", "event=die", "--format", `{{.Action}} {{index .Actor.Attributes "exitCode"}}`}, "die 3"},
		{[]string{"-f", "container=web", "-f", "event=start", "-f", "event=stop", "--format", "{{.Action}}"}, "start\nstop"},
		{[]string{"-f", "container=" + id[:12], "-f", "event=create", "--format", "{{.Actor.Attributes.name}}"}, "web"},
		{[]string{"-f", "image=busybox:latest", "-f", "label=app=x", "-f", "event=destroy", "--format", "{{.Type}} {{.Status}}"}, "container destroy"},
		{[]string{"-f", "label=app=y"}, ""},
		{[]string{"-f", "type=network"}, ""},
		{[]string{"-f", "container=nosuch"}, ""},
	}
	for _, c := range cases {
		if got := e.ok(append(bounds, c.args...)...); got != c.want {
			t.Errorf("events %v: %q, want %q", c.args, got, c.want)
		}
	}
	// --until alone lists past events too (as Docker); --since after the last lists none.
	if got := lcLines(e.ok("events", "--until", until)); len(got) != len(want) {
		t.Errorf("events --until: %d lines, want %d", len(got), len(want))
	}
	if got := e.ok("events", "--since", until, "--until", until); got != "" {
		t.Errorf("events after the last one: %q", got)
	}

	e.fails(1, "invalid filter 'foo'", "events", "--filter", "foo=bar", "--until", until)
	e.fails(1, "bad format of filter", "events", "--filter", "nokey", "--until", until)
	e.fails(1, "unknown event type", "events", "--filter", "type=blob", "--until", until)
	e.fails(1, "--since", "events", "--since", "yesterday", "--until", until)
	e.fails(1, "can't evaluate field Nope", append(bounds, "--format", "{{.Nope}}")...)
	e.fails(1, "template parsing error", append(bounds, "--format", "{{.Action")...)
	e.fails(1, "is after --until", "events", "--since", until, "--until", since)

	// The journal is hutch's: reset takes it with the root.
	e.ok("system", "reset", "-f")
	if _, err := os.Stat(e.root); !os.IsNotExist(err) {
		t.Errorf("system reset left the root (%v)", err)
	}
}

// TestEventsObjects: networks (create, connect, disconnect, destroy),
// volumes (create, destroy), images (tag, untag, delete) and execs
// (exec_create, exec_start, exec_die) have events.
func TestEventsObjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	since := time.Now().Format(time.RFC3339Nano)
	e.ok("network", "create", "evnet")
	e.ok("volume", "create", "evvol")
	id := e.ok("run", "-d", "--name", "c", "--network", "evnet", "busybox", "sleep", "60")
	if r := e.run("exec", "c", "sh", "-c", "exit 4"); r.code != 4 {
		t.Fatalf("exec: %s", r)
	}
	e.ok("network", "disconnect", "evnet", "c")
	e.ok("network", "connect", "evnet", "c")
	e.ok("rm", "-f", "c")
	e.ok("volume", "rm", "evvol")
	e.ok("network", "rm", "evnet")
	e.ok("tag", "busybox", "evbox")
	e.ok("rmi", "evbox")
	bounds := []string{"events", "--since", since, "--until", "0s", "--format", `{{.Type}} {{.Action}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "container"}}`}
	got := e.ok(append(bounds, "-f", "type=network", "-f", "type=volume", "-f", "type=image")...)
	want := strings.Join([]string{
		"network create evnet ",
		"volume create  ",
		"network disconnect evnet " + id,
		"network connect evnet " + id,
		"volume destroy  ",
		"network destroy evnet ",
		"image tag evbox ",
		"image untag evbox ",
		"image delete evbox ",
	}, "\n")
	if got != strings.TrimSpace(want) {
		t.Errorf("events:\n%s\nwant\n%s", got, want)
	}
	execs := e.ok("events", "--since", since, "--until", "0s", "-f", "container=c", "-f", "event=exec_create", "-f", "event=exec_start", "-f", "event=exec_die",
		"--format", `{{.Action}} {{index .Actor.Attributes "exitCode"}} {{len (index .Actor.Attributes "execID")}}`)
	if execs != "exec_create: sh -c exit 4  64\nexec_start: sh -c exit 4  64\nexec_die 4 64" {
		t.Errorf("exec events: %q", execs)
	}
	if got := e.ok(append(bounds, "-f", "volume=evvol")...); got != "volume create  \nvolume destroy" {
		t.Errorf("-f volume=evvol: %q", got)
	}
	if got := e.ok(append(bounds, "-f", "network=evnet", "-f", "event=connect")...); got != "network connect evnet "+id {
		t.Errorf("-f network=evnet -f event=connect: %q", got)
	}
	if got := e.ok(append(bounds, "-f", "image=evbox", "-f", "type=image", "-f", "event=delete")...); got != "image delete evbox" {
		t.Errorf("-f image=evbox: %q", got)
	}
}

// TestEventsFollow: without --since, events shows only new events and
// follows the journal until interrupted; ctrl-c ends it with 0.
func TestEventsFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("volume", "create", "before") // past: not shown without --since
	cmd := e.command("events", "--format", `{{.Type}} {{.Action}} {{index .Actor.Attributes "name"}}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		go io.Copy(io.Discard, out)
		cmd.Wait()
		return cmd.ProcessState.ExitCode()
	}
	defer stop()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("the follower printed nothing in 20 s")
			return ""
		}
	}
	// Until the follower is at the journal's end, an event may come before
	// it: poke with containers until one shows, then check a whole run.
	var first string
	for i := 0; first == "" && i < 100; i++ {
		e.ok("rm", e.ok("create", "--name", fmt.Sprintf("poke%d", i), "busybox", "true"))
		select {
		case first = <-lines:
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !strings.HasPrefix(first, "container create poke") && !strings.HasPrefix(first, "container destroy poke") {
		t.Fatalf("follower's first line %q, want a poke container's event", first)
	}
	if strings.Contains(first, "before") {
		t.Fatalf("a past event followed: %q", first)
	}
	e.ok("run", "--rm", "--name", "fol", "busybox", "true")
	var got []string
	for len(got) < 4 {
		l := next()
		if strings.HasSuffix(l, " fol") {
			got = append(got, l)
		}
	}
	if want := "container create fol|container start fol|container die fol|container destroy fol"; strings.Join(got, "|") != want {
		t.Errorf("followed %q, want %s", got, want)
	}
	if code := stop(); code != 0 {
		t.Errorf("events after SIGINT exited %d, want 0", code)
	}
}

// TestEventsVerbs: pause, unpause, rename (oldName), kill (signal),
// restart (the verb's kill, die, stop, start, restart) and a restart
// policy's loop (die, restart, start) have Docker's events.
func TestEventsVerbs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	since := time.Now().Format(time.RFC3339Nano)
	e.ok("run", "-d", "--name", "v1", "busybox", "sh", "-c", `trap "exit 5" TERM; trap "exit 6" USR1; sleep 60 & wait`)
	eventsTrapped(t, e, "v1", 15, 10)
	e.ok("pause", "v1")
	e.ok("unpause", "v1")
	e.ok("rename", "v1", "v2")
	e.ok("kill", "-s", "USR1", "v2")
	e.lcWaitExited("v2", 20*time.Second)
	e.ok("start", "v2")
	eventsTrapped(t, e, "v2", 15, 10)
	e.ok("restart", "-t", "5", "v2")
	e.ok("rm", "-f", "v2")
	e.ok("run", "-d", "--name", "loop", "--restart", "on-failure:1", "busybox", "sh", "-c", "exit 1")
	if out := e.ok("wait", "loop"); out != "1" {
		t.Fatalf("wait loop: %q", out)
	}
	lcWaitUntil(20*time.Second, func() bool { return e.lcInspect("loop").State.Status == "exited" })
	f := `{{.Action}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "oldName"}}{{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}`
	got := lcLines(e.ok("events", "--since", since, "--until", "0s", "--format", f))
	want := []string{
		"create v1 ", "start v1 ", "pause v1 ", "unpause v1 ", "rename v2 v1", "kill v2 10", "die v2 6",
		"start v2 ", "kill v2 15", "die v2 5", "stop v2 ", "start v2 ", "restart v2 ",
		"kill v2 9", "die v2 137", "destroy v2 ",
		"create loop ", "start loop ", "die loop 1", "restart loop ", "start loop ", "die loop 1",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// eventsTrapped waits until the container's shell has set its traps (its
// SigCgt has the signals): a PID 1 ignores a signal it has no handler for.
func eventsTrapped(t *testing.T, e *env, ref string, sigs ...uint) {
	t.Helper()
	pid := strconv.Itoa(e.runPid(ref))
	runWaitFor(t, 20*time.Second, ref+"'s traps", func() bool {
		mask, err := strconv.ParseUint(lcProcStatus(t, pid, "SigCgt")["SigCgt"], 16, 64)
		caught := err == nil
		for _, sig := range sigs {
			caught = caught && mask&(1<<(sig-1)) != 0
		}
		return caught
	})
}

// TestEventsFollowSince: with --since and no --until, past events come
// first, then new ones as they happen, until ctrl-c.
func TestEventsFollowSince(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	since := time.Now().Format(time.RFC3339Nano)
	e.ok("create", "--name", "past", "busybox", "true")
	cmd := e.command("events", "--since", since, "--format", `{{.Action}} {{index .Actor.Attributes "name"}}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("events ended: %v", sc.Err())
		}
		return sc.Text()
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			t.Errorf("events after SIGINT: %v", err)
		}
	}()
	if l := next(); l != "create past" {
		t.Fatalf("first line %q, want the past create", l)
	}
	e.ok("rm", "past") // after the past line: the follower has the journal open
	if l := next(); l != "destroy past" {
		t.Errorf("followed %q, want destroy past", l)
	}
}
