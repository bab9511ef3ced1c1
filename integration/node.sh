#!/usr/bin/env bash
# node.sh [HUTCH]: containerd and Kubernetes' node API (CRI) drive
# $RUNTIME_BIN as their runc. A private containerd (node-lib.sh: own root,
# state, socket, config; CNI bridge on 10.203.0.0/24; images imported from
# `hutch save`, nothing pulled) runs:
#   ctr: run (output, exit code), run -t, task exec [-t], ps, pause/resume,
#        kill (SIGTERM to a trap, kill -a SIGKILL), delete;
#   CRI: crictl runp (handler "hutch"), a pod of two containers talking over
#        the pod's localhost and one with a security context, exec [-t],
#        logs, update, stop, rm, stopp, rmp; the registry config;
# then tears it all down and checks that nothing of it is left.
#
#   RUNTIME_BIN   the runc to test (default: hutch-runc beside HUTCH, else
#                 a hutch-runc link to HUTCH)
#   ARGV_LOG      a file: every runtime call is appended there as "rc=N ARGS"
# Exit 0 when every check passed.
set -euo pipefail
HUTCH=$(realpath "${1:-bin/hutch}")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=integration/node-lib.sh
. "$here/node-lib.sh"
rt_dir=$(mktemp -d /tmp/hutch-node-rt.XXXXXX)
RUNTIME_BIN=${RUNTIME_BIN:-$(node_hutch_runc "$HUTCH" "$rt_dir")}

for t in containerd ctr jq script "$CRICTL" "$RUNTIME_BIN"; do
	command -v "$t" >/dev/null || {
		echo "node.sh: $t: not found (make deps; RUNTIME_BIN=$RUNTIME_BIN)" >&2
		rm -rf "$rt_dir"
		exit 1
	}
done

# What of ours the host has before, compared after the teardown: the CNI
# bridge and its veths, mounts under our dirs, iptables rules of CNI's or on
# our subnet, the namespace's cgroups, containerd's dirs, shims of ours.
# (Other hutch runs share the host: their hutch-* links and mounts are theirs.)
host_state() {
	local links err
	# A dump that other processes' link changes interrupt is retried.
	for _ in 1 2 3 4 5; do
		links=$(ip -o link show 2>"$NODE_ERRF") && err=$(cat "$NODE_ERRF") && [ -z "$err" ] && break
	done
	awk -F': ' '{sub(/@.*/, "", $2); print "link", $2}' <<<"$links" | grep -E "link (veth|$NODE_BRIDGE\$)" || true
	ip netns list | awk '{print "netns", $1}' | grep cni- || true
	awk '$5 ~ /hutch-node|k8s.io|containerd/ {print "mount", $5}' /proc/self/mountinfo
	iptables-save 2>/dev/null | grep -E "CNI|${NODE_SUBNET%.*}|$NODE_BRIDGE" | grep -v '^:' | sed 's/^/iptables /' || true
	find /sys/fs/cgroup -maxdepth 2 -name k8s.io -printf 'cgroup %p\n'
	ls -d /run/containerd /var/lib/cni 2>/dev/null | sed 's/^/dir /' || true
	pgrep -f 'containerd-shim-runc-v2 .*/tmp/hutch-node' | sed 's/^/shim /' || true
}
NODE_ERRF=$(mktemp /tmp/hutch-node-err.XXXXXX)
before=$(host_state | sort)

rt=$RUNTIME_BIN
argv_wrap=""
if [ -n "${ARGV_LOG:-}" ]; then
	argv_wrap=$(mktemp /tmp/hutch-node-argv.XXXXXX)
	cat >"$argv_wrap" <<EOF
#!/bin/sh
"$RUNTIME_BIN" "\$@"
rc=\$?
printf 'rc=%s %s\n' "\$rc" "\$*" >>"$ARGV_LOG"
exit \$rc
EOF
	chmod +x "$argv_wrap"
	rt=$argv_wrap
fi
fails=0
# cleanup: on any exit, the teardown, then the check that it left nothing.
cleanup() {
	local rc=$? left
	[ "$rc" = 0 ] || [ "$fails" != 0 ] || fail "stopped early (exit $rc)"
	echo "== teardown"
	node_down
	[ -z "$argv_wrap" ] || rm -f "$argv_wrap"
	rm -rf "$rt_dir"
	left=$(comm -13 <(echo "$before") <(host_state | sort))
	rm -f "$NODE_ERRF"
	if [ -n "$left" ]; then
		fail "left behind:"
		sed 's/^/    /' <<<"$left" >&2
	else
		echo "ok: nothing left (links, netns, mounts, iptables, cgroups, dirs, shims)"
	fi
	[ "$fails" = 0 ] || { echo "node.sh: $fails checks failed" >&2; exit 1; }
	echo "node.sh: all passed"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
# check DESC RC REGEX CMD...: CMD's exit code is RC and its output (stdout
# and stderr) matches REGEX (grep -E).
check() {
	local desc=$1 want=$2 re=$3 out rc
	shift 3
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" != "$want" ] || ! grep -qE -- "$re" <<<"$out"; then
		fail "$desc: exit $rc (want $want), output not matching /$re/:"
		sed 's/^/    /' <<<"$out" >&2
		return 0
	fi
	echo "ok: $desc"
}
# tty_run CMD...: CMD under a terminal (script), its exit code kept.
tty_run() { script -qec "$(printf '%q ' "$@")" /dev/null </dev/null; }
# until_ok TRIES CMD...: CMD until it succeeds, 0.1 s apart.
until_ok() {
	local n=$1
	shift
	for ((; n > 0; n--)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
# streams CMD...: CMD's stdout and stderr, each on one line, labelled.
streams() {
	local o
	o=$("$@" 2>"$NODE/stderr")
	echo "stdout=[$o] stderr=[$(cat "$NODE/stderr")]"
}
task_status() { node_ctr tasks ls | awk -v id="$1" '$1 == id {print $3}'; }
is_status() { [ "$(task_status "$1")" = "$2" ]; }

node_up "$HUTCH" "$rt"
echo "node: containerd $NODE_PID in $NODE, runtime $RUNTIME_BIN"
img=docker.io/library/busybox:latest
crun() { node_ctr run --runc-binary "$rt" --runc-root "$NODE/runc" "$@"; }

echo "== ctr (io.containerd.runc.v2, --runc-binary)"
check "run: output and exit code" 3 '^out$' \
	crun --rm "$img" c1 sh -c 'echo out; exit 3'
check "run: stdout and stderr apart" 0 '^stdout=\[out\] stderr=\[err\]$' \
	streams crun --rm "$img" c1 sh -c 'echo out; echo err >&2'
check "run -t: a terminal, exit code" 4 '/dev/pts/[0-9]+' \
	tty_run ctr -a "$NODE/containerd.sock" -n k8s.io run -t --rm --runc-binary "$rt" --runc-root "$NODE/runc" \
	"$img" c2 sh -c 'tty; exit 4'
# A shell as pid 1 only dies of SIGTERM with a trap: its exit code says the signal came.
check "run -d" 0 '' crun -d "$img" c3 sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
check "task ls: running" 0 '' is_status c3 RUNNING
check "task exec: output and exit code" 5 '^in exec [0-9]+$' \
	node_ctr tasks exec --exec-id e1 c3 sh -c 'echo in exec $$; exit 5'
# The shim's exec is --detach: the runtime returns while the process runs on.
check "task exec: a process that outlives the runtime's exec" 0 '^slept$' \
	node_ctr tasks exec --exec-id e3 c3 sh -c 'sleep 0.5; echo slept'
check "task exec -t: a terminal" 0 '/dev/pts/[0-9]+' \
	tty_run ctr -a "$NODE/containerd.sock" -n k8s.io tasks exec -t --exec-id e2 c3 tty
check "task ps: the init's pid" 0 "^$(node_ctr tasks ls | awk '$1 == "c3" {print $2}') " node_ctr tasks ps c3
check "task pause" 0 '' node_ctr tasks pause c3
check "task ls: paused" 0 '' is_status c3 PAUSED
check "task resume" 0 '' node_ctr tasks resume c3
check "task ls: running again" 0 '' is_status c3 RUNNING
check "task kill (SIGTERM)" 0 '' node_ctr tasks kill c3
check "task ls: stopped" 0 '' until_ok 100 is_status c3 STOPPED
check "task delete: the trap's exit code" 0 'exit code 7' node_ctr tasks delete c3
check "run -d, then task kill -a -s SIGKILL" 0 '' crun -d "$img" c4 sleep 1000
check "task kill -a -s SIGKILL" 0 '' node_ctr tasks kill -a -s SIGKILL c4
check "task ls: stopped" 0 '' until_ok 100 is_status c4 STOPPED
check "task delete: killed by SIGKILL" 0 'exit code 137' node_ctr tasks delete c4
check "containers rm" 0 '' node_ctr containers rm c3 c4
check "nothing left in containerd" 0 '^$' node_ctr tasks ls -q
check "nothing left in the runtime's root" 0 '^$' ls -A "$NODE/runc/k8s.io"

echo "== CRI (crictl, runtime handler hutch)"
cat >"$NODE/pod.json" <<EOF
{"metadata": {"name": "web", "namespace": "hutch-node", "uid": "hutch-node-1", "attempt": 0},
 "hostname": "webpod", "log_directory": "$NODE/logs", "linux": {}}
EOF
# httpd on the pod's 127.0.0.1 only: the client reaches it through the netns they share.
cat >"$NODE/web.json" <<EOF
{"metadata": {"name": "httpd"}, "image": {"image": "$img"},
 "command": ["sh", "-c", "mkdir -p /www && echo hello from web >/www/index.html && echo web up && exec httpd -f -p 127.0.0.1:8080 -h /www"],
 "log_path": "httpd.log", "linux": {}}
EOF
cat >"$NODE/client.json" <<EOF
{"metadata": {"name": "client"}, "image": {"image": "$img"},
 "command": ["sh", "-c", "for i in \$(seq 100); do wget -q -O- http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1"],
 "log_path": "client.log", "linux": {}}
EOF
# A container with a security context: another user, a read-only root.
cat >"$NODE/secure.json" <<EOF
{"metadata": {"name": "secure"}, "image": {"image": "$img"},
 "command": ["sh", "-c", "id -u; touch /x 2>/dev/null && echo rw || echo ro"],
 "log_path": "secure.log",
 "linux": {"security_context": {"run_as_user": {"value": 1000}, "readonly_rootfs": true}}}
EOF
cri() { node_crictl "$@" 2> >(grep -v 'cgroup_parent is not set' >&2); }
pod=$(cri runp --runtime hutch "$NODE/pod.json") || { fail "runp"; exit 1; }
pstate() { node_crictl inspectp "$pod" | jq -r "$1"; }
check "runp: sandbox ready" 0 '^SANDBOX_READY$' pstate .status.state
check "runp: the pod's address from CNI's host-local" 0 '^10\.203\.0\.[0-9]+$' pstate .status.network.ip
web=$(cri create --no-pull "$pod" "$NODE/web.json" "$NODE/pod.json") || { fail "create httpd"; exit 1; }
client=$(cri create --no-pull "$pod" "$NODE/client.json" "$NODE/pod.json") || { fail "create client"; exit 1; }
check "start httpd" 0 '' cri start "$web"
check "start client" 0 '' cri start "$client"
cstate() { node_crictl inspect "$1" | jq -r "$2"; }
is_exited() { [ "$(cstate "$1" .status.state)" = CONTAINER_EXITED ]; }
check "client exits" 0 '' until_ok 300 is_exited "$client"
check "client: exit code 0" 0 '^0$' cstate "$client" .status.exitCode
check "logs client: the page from httpd over the pod's localhost" 0 '^hello from web$' cri logs "$client"
check "logs httpd" 0 '^web up$' cri logs "$web"
check "exec: output" 0 '^hello from web$' cri exec "$web" cat /www/index.html
check "exec: a process that outlives the runtime's exec" 0 '^slept$' cri exec "$web" sh -c 'sleep 0.5; echo slept'
check "exec: the pod's hostname" 0 '^webpod$' cri exec "$web" hostname
check "exec: the pod's eth0" 0 'inet 10\.203\.0\.' cri exec "$web" ip -4 -o addr show eth0
check "exec: exit code" 1 'exit code 3' cri exec "$web" sh -c 'exit 3'
check "exec -t: a terminal" 0 '/dev/pts/[0-9]+' tty_run "$CRICTL" -c "$NODE/crictl.yaml" exec -it "$web" tty
# update reaches the runtime as `update --resources - ID`, the JSON on stdin.
check "update --memory" 0 "$web" cri update --memory 100000000 "$web"
# mem_limit CID: the memory limit of the container's cgroup, as the host sees it.
mem_limit() {
	local pid path
	pid=$(cstate "$1" .info.pid)
	path=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
	if [ -n "$path" ]; then
		cat "/sys/fs/cgroup/memory$path/memory.limit_in_bytes"
	else
		path=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
		cat "$(findmnt -n -o TARGET -t cgroup2 | head -1)$path/memory.max"
	fi
}
check "update: the cgroup's memory limit (in pages)" 0 '^99999744$' mem_limit "$web"
secure=$(cri create --no-pull "$pod" "$NODE/secure.json" "$NODE/pod.json") || { fail "create secure"; exit 1; }
check "start a container with a security context" 0 '' cri start "$secure"
check "it exits" 0 '' until_ok 300 is_exited "$secure"
logs_joined() { node_crictl logs "$1" 2>&1 | paste -sd,; }
check "it ran as uid 1000 on a read-only root" 0 '^1000,ro$' logs_joined "$secure"
check "stop httpd" 0 "^$web\$" cri stop -t 2 "$web"
check "httpd exited" 0 '^CONTAINER_EXITED$' cstate "$web" .status.state
check "rm all three" 0 "$secure" cri rm "$web" "$client" "$secure"
check "ps -a: none left" 0 '^$' cri ps -aq
check "stopp" 0 'Stopped sandbox' cri stopp "$pod"
check "rmp" 0 'Removed sandbox' cri rmp "$pod"
check "pods: none left" 0 '^$' cri pods -q
check "the pod's netns pin gone" 0 '^$' find "$NODE/state/io.containerd.grpc.v1.cri/netns" -mindepth 1

echo "== registry config"
# Should anything pull, it asks a closed loopback port (node-lib.sh's hosts.toml
# for every registry). Checked with a registry that is loopback whatever the
# config, so that the check cannot leave the machine: the pull reads the
# hosts.toml, and one that containerd cannot read shows in its log.
check "a pull asks what hosts.toml says" 1 'http://127\.0\.0\.1:1/v2/hutch-node/nosuch/manifests/1' \
	node_crictl pull 127.0.0.1:1/hutch-node/nosuch:1
check "hosts.toml accepted" 1 '' grep -q 'failed to decode hosts.toml' "$NODE/containerd.log"
pulled_other() { grep 'PullImage' "$NODE/containerd.log" | grep -qv '127\.0\.0\.1:1/'; }
check "no other image pulled" 1 '' pulled_other
