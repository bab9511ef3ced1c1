package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hutchrt/hutch/runtime"
)

// parseRun runs the real app with run's Action replaced by a recorder.
func parseRun(t *testing.T, args ...string) (runtime.RunOptions, error) {
	t.Helper()
	app := newApp()
	var got runtime.RunOptions
	for _, c := range app.Commands {
		if c.Name == "run" {
			c.Action = func(ctx *cli.Context) error { got = runOptionsFrom(ctx); return nil }
		}
	}
	err := runApp(app, append([]string{"hutch", "run"}, args...))
	return got, err
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		args []string
		want runtime.RunOptions
	}{
		{[]string{"busybox"}, runtime.RunOptions{Image: "busybox", Args: []string{}, Network: "bridge"}},
		{[]string{"-it", "--rm", "busybox", "sh"}, runtime.RunOptions{Image: "busybox", Args: []string{"sh"}, Network: "bridge", Tty: true, Interactive: true, AutoRemove: true}},
		{[]string{"-dit", "--name", "web", "busybox"}, runtime.RunOptions{Name: "web", Image: "busybox", Args: []string{}, Network: "bridge", Tty: true, Interactive: true, Detach: true}},
		// Commas stay inside one value; flags after the image are the command's.
		{[]string{"-e", "A=1,2", "-e", "B", "busybox", "ls", "-l", "--rm"}, runtime.RunOptions{Image: "busybox", Args: []string{"ls", "-l", "--rm"}, Env: []string{"A=1,2", "B"}, Network: "bridge"}},
		{[]string{"-u", "1000:1000", "-w", "/tmp", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only", "--init", "--privileged", "--network", "host", "--hostname", "h", "--env-file", "f", "busybox"},
			runtime.RunOptions{Image: "busybox", Args: []string{}, User: "1000:1000", Workdir: "/tmp", Memory: "64m", CPUs: "0.5", PidsLimit: 20,
				CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, SecurityOpts: []string{"no-new-privileges"}, ReadOnly: true, Init: true,
				Privileged: true, Network: "host", Hostname: "h", EnvFiles: []string{"f"}}},
		{[]string{"-P", "--expose", "80", "--expose", "53/udp", "--pull", "never", "--stop-signal", "USR1", "--stop-timeout", "3", "busybox"},
			runtime.RunOptions{Image: "busybox", Args: []string{}, Network: "bridge",
				PublishAll: true, Expose: []string{"80", "53/udp"}, Pull: "never", StopSignal: "USR1", StopTimeout: ptr(3)}},
		{[]string{"--restart", "on-failure:3", "--health-cmd", "test -f /ok", "--health-interval", "2s", "--health-timeout", "500ms",
			"--health-start-period", "1m", "--health-start-interval", "100ms", "--health-retries", "4", "busybox"},
			runtime.RunOptions{Image: "busybox", Args: []string{}, Network: "bridge", Restart: "on-failure:3",
				Health: runtime.HealthOptions{Cmd: "test -f /ok", Interval: 2 * time.Second, Timeout: 500 * time.Millisecond,
					StartPeriod: time.Minute, StartInterval: 100 * time.Millisecond, Retries: 4}}},
		// A flag's short and long forms mix, and merge in command-line order (Docker's).
		{[]string{"-e", "A=1", "--env", "B=2", "-l", "a=1", "--label=b=2", "--env=C", "-it", "--tty", "busybox", "-e", "x"},
			runtime.RunOptions{Image: "busybox", Args: []string{"-e", "x"}, Network: "bridge", Env: []string{"A=1", "B=2", "C"},
				Labels: []string{"a=1", "b=2"}, Tty: true, Interactive: true}},
		{[]string{"--no-healthcheck", "busybox"},
			runtime.RunOptions{Image: "busybox", Args: []string{}, Network: "bridge", Health: runtime.HealthOptions{None: true}}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := parseRun(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--nope", "busybox"}, {"--pids-limit", "x", "busybox"}} {
		if _, err := parseRun(t, args...); err == nil || !strings.Contains(err.Error(), "run:") {
			t.Errorf("run %v: error %v, want a one-line error naming run", args, err)
		}
	}
}

func TestExitCodes(t *testing.T) {
	if got := run([]string{"hutch", "run", "--nope"}); got != 125 {
		t.Errorf("bad flag exits %d, want 125", got)
	}
}

func TestHumanDuration(t *testing.T) {
	for secs, want := range map[int]string{0: "Less than a second", 1: "1 second", 59: "59 seconds", 60: "About a minute", 150: "2 minutes", 3600: "About an hour", 7200: "2 hours"} {
		if got := humanDuration(secondsToDuration(secs)); got != want {
			t.Errorf("humanDuration(%ds) = %q, want %q", secs, got, want)
		}
	}
}

func secondsToDuration(s int) time.Duration { return time.Duration(s) * time.Second }

func ptr[T any](v T) *T { return &v }
