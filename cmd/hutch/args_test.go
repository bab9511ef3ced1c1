package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		// A flag keeps the form it is first given in: the library's errors name it as typed.
		{"run -e A=1 --env B=2 busybox env", "run -e A=1 -e B=2 busybox env"},
		{"run --env A=1 -e B=2 --env=C busybox", "run --env A=1 --env B=2 --env=C busybox"},
		{"run -dit -p 80:80 --publish=81:81 --tty busybox sh -c -e", "run -d -i -t -p 80:80 -p=81:81 -t busybox sh -c -e"},
		// A value that looks like a flag stays a value.
		{"run -e -v busybox", "run -e -v busybox"},
		{"run -v /a:/b --volume /c:/d busybox", "run -v /a:/b -v /c:/d busybox"},
		{"image ls -q --quiet", "image ls -q -q"},
		{"--root /r ps -a --all -q", "--root /r ps -a -a -q"},
		{"network ls --quiet -q -f name=x", "network ls --quiet --quiet -f name=x"},
		{"exec -e A=1 --env B c env -e", "exec -e A=1 -e B c env -e"},
		// Unknown flags and commands are left for the library to report.
		{"run --nope -x busybox", "run --nope -x busybox"},
		{"nope -e A --env B", "nope -e A --env B"},
		{"run -- -e", "run -- -e"},
		{"run -h", "run -h"},
		// Flags after arguments, as Docker's, but for the commands that run a command.
		{"images busybox -q", "images -q busybox"},
		{"image ls busybox --format {{.ID}} --no-trunc", "image ls --format {{.ID}} --no-trunc busybox"},
		{"rm a -f b --force -v", "rm -f -f -v a b"},
		{"logs c --tail 3 -f", "logs --tail 3 -f c"},
		{"network ls -q x -f name=y", "network ls -q -f name=y x"},
		{"rm a -- -f", "rm -- a -f"},
		{"cp c:/x - -a", "cp -a c:/x -"},
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
