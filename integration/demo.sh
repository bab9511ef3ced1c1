#!/usr/bin/env bash
# The README's demo: a few containers, start to finish, with a throwaway root.
set -euo pipefail
HUTCH=${1:-bin/hutch}
root=$(mktemp -d /tmp/hutch-demo.XXXXXX)
h() {
	printf '$ hutch'
	for a in "$@"; do case $a in *[[:space:]\$\"]*) printf " '%s'" "$a" ;; *) printf ' %s' "$a" ;; esac; done
	echo
	"$HUTCH" --root "$root" "$@"
}
cleanup() { "$HUTCH" --root "$root" rm -f $("$HUTCH" --root "$root" ps -aq) >/dev/null 2>&1 || true; rm -rf "$root"; }
trap cleanup EXIT

h run --rm busybox echo "hello from a container"
h run --rm --hostname demo busybox sh -c 'echo "I am pid $$ on $(hostname), as $(id -un)"'
h run -d --name ticker busybox sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done'
sleep 1
h ps
h logs --tail 2 ticker
h exec ticker sh -c 'echo "exec sees: $(ps -o pid,comm | tail -n +2 | tr "\n" " ")"'
h stop -t 1 ticker
h ps -a
h run --rm busybox sh -c 'exit 3' || echo "(exit code $?)"
h rm ticker
h image ls
