package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"run -e A=1 --env B=2 busybox env", "run --env A=1 --env B=2 busybox env"},
		{"run -dit -p 80:80 --publish=81:81 busybox sh -c -e", "run --detach --interactive --tty --publish 80:80 --publish=81:81 busybox sh -c -e"},
		// A value that looks like a flag stays a value.
		{"run -e -v busybox", "run --env -v busybox"},
		{"run -v /a:/b --volume /c:/d busybox", "run --volume /a:/b --volume /c:/d busybox"},
		{"image ls -q --quiet", "image ls --quiet --quiet"},
		{"--root /r ps -a -q", "--root /r ps --all --quiet"},
		{"network ls -q -f name=x", "network ls --quiet --filter name=x"},
		{"exec -e A=1 c env -e", "exec --env A=1 c env -e"},
		// Unknown flags and commands are left for the library to report.
		{"run --nope -x busybox", "run --nope -x busybox"},
		{"nope -e A", "nope -e A"},
		{"run -- -e", "run -- -e"},
		{"run -h", "run -h"},
		// Flags after arguments, as Docker's, but for the commands that run a command.
		{"images busybox -q", "images --quiet busybox"},
		{"image ls busybox --format {{.ID}} --no-trunc", "image ls --format {{.ID}} --no-trunc busybox"},
		{"rm a -f b -v", "rm --force --volumes a b"},
		{"logs c --tail 3 -f", "logs --tail 3 --follow c"},
		{"network ls -q x -f name=y", "network ls --quiet --filter name=y x"},
		{"rm a -- -f", "rm -- a -f"},
		{"cp c:/x - -a", "cp --archive c:/x -"},
		{"exec c ls -e", "exec c ls -e"},
		{"create busybox ls -q", "create busybox ls -q"},
		{"top c -ef", "top c -ef"},
		{"run busybox --rm -it", "run busybox --rm -it"},
	}
	app := newApp()
	for _, tt := range tests {
		got := normalizeArgs(app, append([]string{"hutch"}, strings.Fields(tt.in)...))
		want := append([]string{"hutch"}, strings.Fields(tt.want)...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.in, got, want)
		}
	}
}
