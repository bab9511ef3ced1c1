package main

import (
	"slices"
	"strings"
	"testing"
)

func TestComplete(t *testing.T) {
	app := newApp()
	names := func(kind string) []string {
		return map[string][]string{
			"containers": {"web", "db"}, "images": {"busybox", "alpine:3"}, "networks": {"bridge", "front", "host", "none"},
			"volumes": {"data"},
		}[kind]
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"sto"}, []string{"stop"}},
		{[]string{"--root", "/x", "sto"}, []string{"stop"}},
		{[]string{"stop", ""}, []string{"db", "web"}},
		{[]string{"stop", "web", "w"}, []string{"web"}},
		{[]string{"stop", "-t", "5", ""}, []string{"db", "web"}},
		{[]string{"stop", "-t", ""}, nil}, // -t's value: nothing to offer
		{[]string{"logs", "-f", ""}, []string{"db", "web"}},
		{[]string{"logs", "web", ""}, nil}, // one container only
		{[]string{"run", "-d", ""}, []string{"alpine:3", "busybox"}},
		{[]string{"run", "busybox", ""}, nil}, // the command: the shell's own completion
		{[]string{"run", "--network", "f"}, []string{"front"}},
		{[]string{"run", "--net", ""}, []string{"bridge", "front", "host", "none"}},
		{[]string{"run", "--network=front", "--rm", ""}, []string{"alpine:3", "busybox"}},
		{[]string{"network", ""}, []string{"connect", "create", "disconnect", "graph", "inspect", "ls", "prune", "rm", "trace"}},
		{[]string{"network", "rm", "fr"}, []string{"front"}},
		{[]string{"network", "graph", "--ascii", "fr"}, []string{"front"}},
		{[]string{"network", "connect", "front", ""}, nil},
		{[]string{"image", "rm", ""}, []string{"alpine:3", "busybox"}},
		{[]string{"completion", ""}, []string{"bash", "zsh"}},
		{[]string{"volume", "rm", "-f", ""}, []string{"data"}},
		{[]string{"run", "--ulim"}, []string{"--ulimit"}},
		{[]string{"stop", "-"}, []string{"--help", "--time", "-h", "-t"}},
	} {
		if got := complete(app, tc.words, names); !slices.Equal(got, tc.want) {
			t.Errorf("complete(%q) = %q, want %q", tc.words, got, tc.want)
		}
	}
	// Every visible command is offered, the hidden __complete is not.
	all := complete(app, []string{""}, names)
	if !slices.Contains(all, "run") || !slices.Contains(all, "completion") || slices.Contains(all, completeCommand) {
		t.Errorf("commands offered: %q", all)
	}
	for _, f := range complete(app, []string{"run", "--"}, names) {
		if !strings.HasPrefix(f, "--") {
			t.Errorf("run --: offered %q", f)
		}
	}
}

func TestRootIn(t *testing.T) {
	for _, tc := range []struct {
		words []string
		root  string
		ok    bool
	}{
		{[]string{"--root", "/r", "ps", ""}, "/r", true},
		{[]string{"--root=/r", "ps", ""}, "/r", true},
		{[]string{"--root", ""}, "", false}, // the root itself is being typed
		{[]string{"ps", "--root", "/r", ""}, "", false},
	} {
		if root, ok := rootIn(tc.words); root != tc.root || ok != tc.ok {
			t.Errorf("rootIn(%q) = %q, %v, want %q, %v", tc.words, root, ok, tc.root, tc.ok)
		}
	}
}
