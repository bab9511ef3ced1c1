# shellcheck shell=bash
# node-lib.sh: a private containerd (with its CRI plugin) whose runc is a
# binary of our choice, for node.sh and bench.sh. Sourced, not run.
#
#   node_up HUTCH RUNTIME_BIN [PREFIX...]   make $NODE, images, config; start
#                                           PREFIX... containerd; import images
#   node_ctr ARGS...                        ctr against it, namespace k8s.io
#   node_crictl ARGS...                     crictl against it
#   node_down                               stop it and remove all it made
#
# Nothing here reaches past the machine: containerd gets only images
# imported from archives made by `hutch save`, registry hosts it might ever
# ask are pointed at a closed loopback port, and crictl never pulls. The pod
# network is CNI's bridge on NODE_SUBNET (not in hutch's pool of 172.17-31
# and 192.168/16), without masquerade, so a pod reaches nothing but the node.
NODE_SUBNET=${NODE_SUBNET:-10.203.0.0/24}
NODE_BRIDGE=${NODE_BRIDGE:-hnode0}
NODE_PAUSE=localhost/hutch-pause:1
CRICTL=${CRICTL:-$(command -v crictl || echo "$HOME/go/bin/crictl")}

# node_images HUTCH: $NODE/busybox.tar (hutch's busybox, docker.io/library/busybox:latest)
# and $NODE/pause.tar ($NODE_PAUSE: the same layer, sleeping as the pod's
# sandbox; the CRI plugin stops a sandbox with SIGKILL, so it needs no signal
# handling).
node_images() {
	local hroot=$NODE/hutch lay=$NODE/pause cfg man d
	"$1" --root "$hroot" save -o "$NODE/busybox.tar" busybox >/dev/null
	"$1" --root "$hroot" system reset -f >/dev/null
	rm -rf "$hroot"
	mkdir -p "$lay" && tar -C "$lay" -xf "$NODE/busybox.tar" oci-layout blobs index.json
	man=$(jq -r '.manifests[0].digest' "$lay/index.json" | cut -d: -f2)
	cfg=$(jq -r '.config.digest' "$lay/blobs/sha256/$man" | cut -d: -f2)
	jq -c '.config = {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Entrypoint: ["/bin/sleep", "2147483647"]}' "$lay/blobs/sha256/$cfg" >"$lay/cfg"
	d=$(sha256sum "$lay/cfg" | cut -d' ' -f1) && mv "$lay/cfg" "$lay/blobs/sha256/$d"
	jq -c --arg d "sha256:$d" --argjson s "$(stat -c %s "$lay/blobs/sha256/$d")" \
		'.config.digest = $d | .config.size = $s' "$lay/blobs/sha256/$man" >"$lay/man"
	d=$(sha256sum "$lay/man" | cut -d' ' -f1) && mv "$lay/man" "$lay/blobs/sha256/$d"
	jq -c --arg d "sha256:$d" --argjson s "$(stat -c %s "$lay/blobs/sha256/$d")" --arg n "$NODE_PAUSE" \
		'.manifests = [.manifests[0] | .digest = $d | .size = $s |
			.annotations = {"io.containerd.image.name": $n, "org.opencontainers.image.ref.name": "1"}]' \
		"$lay/index.json" >"$lay/index" && mv "$lay/index" "$lay/index.json"
	tar -C "$lay" -cf "$NODE/pause.tar" oci-layout index.json blobs
	rm -rf "$lay"
}

# node_config RUNTIME_BIN: containerd's config.toml, the CNI conflist, crictl's config.
node_config() {
	local cri='plugins."io.containerd.grpc.v1.cri"' gw
	gw=$(awk -F'[./]' '{print $1"."$2"."$3"."$4+1}' <<<"$NODE_SUBNET")
	mkdir -p "$NODE/cni" "$NODE/hosts" "$NODE/logs"
	cat >"$NODE/config.toml" <<EOF
version = 2
root = "$NODE/root"
state = "$NODE/state"
[grpc]
  address = "$NODE/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE/opt"
[$cri]
  sandbox_image = "$NODE_PAUSE"
  # The pods' netns pins under the state dir, not /run/netns.
  netns_mounts_under_state_dir = true
  # A sandbox asks for oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE,
  # which a host that is itself a container may not have: clamp to ours.
  restrict_oom_score_adj = $( [ "$(( (0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24) & 1 ))" = 1 ] && echo false || echo true )
  [$cri.registry]
    config_path = "$NODE/hosts"
  [$cri.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "hutch"
    [$cri.containerd.runtimes.hutch]
      runtime_type = "io.containerd.runc.v2"
      [$cri.containerd.runtimes.hutch.options]
        BinaryName = "$1"
        Root = "$NODE/runc"
  [$cri.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni"
EOF
	# Should anything ask a registry after all, any registry, it asks a
	# closed loopback port: _default is every host without a dir of its own.
	# (containerd 1.6 refuses a hosts.toml without a host table, "invalid
	# `host` tree", and then falls back to the real registry.)
	mkdir -p "$NODE/hosts/_default"
	printf 'server = "http://127.0.0.1:1"\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n' \
		>"$NODE/hosts/_default/hosts.toml"
	# containerd adds the loopback plugin (from bin_dir) for lo itself.
	cat >"$NODE/cni/10-hutch-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hutch-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE/cni-ipam",
        "ranges": [[{"subnet": "$NODE_SUBNET", "gateway": "$gw"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
	cat >"$NODE/crictl.yaml" <<EOF
runtime-endpoint: unix://$NODE/containerd.sock
image-endpoint: unix://$NODE/containerd.sock
timeout: 30
pull-image-on-create: false
EOF
}

# node_hutch_runc HUTCH DIR: hutch under its runc name: the hutch-runc beside
# HUTCH, else a link made in DIR (hutch answers runc's command line by that name).
node_hutch_runc() {
	local sib
	sib=$(realpath "$(dirname "$1")")/hutch-runc # absolute: containerd runs it from elsewhere
	if [ -x "$sib" ]; then
		echo "$sib"
	else
		ln -sfn "$(realpath "$1")" "$2/hutch-runc" && echo "$2/hutch-runc"
	fi
}

node_ctr() { ctr -a "$NODE/containerd.sock" -n k8s.io "$@"; }
node_crictl() { "$CRICTL" -c "$NODE/crictl.yaml" "$@"; }

# node_up HUTCH RUNTIME_BIN [PREFIX...]: the node, running, images imported.
node_up() {
	local hutch=$1 rt=$2 d
	shift 2
	NODE=$(mktemp -d /tmp/hutch-node.XXXXXX)
	# Dirs outside $NODE that containerd, its shim and CNI make when missing,
	# and the namespace's parent cgroups (runc never removes a parent). Kept
	# children first, for rmdir.
	NODE_OUTSIDE=""
	for d in /run/containerd /run/containerd/fifo /run/containerd/s /var/lib/cni /var/lib/cni/results \
		/sys/fs/cgroup/k8s.io $(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d -printf '%p/k8s.io\n'); do
		[ -e "$d" ] || NODE_OUTSIDE="$d $NODE_OUTSIDE"
	done
	node_images "$hutch"
	node_config "$rt"
	"$@" containerd --config "$NODE/config.toml" >"$NODE/containerd.log" 2>&1 </dev/null &
	NODE_PID=$!
	for _ in $(seq 100); do
		node_ctr version >/dev/null 2>&1 && break
		kill -0 "$NODE_PID" 2>/dev/null || { echo "node: containerd died:" >&2; tail -5 "$NODE/containerd.log" >&2; return 1; }
		sleep 0.1
	done
	node_ctr images import "$NODE/busybox.tar" >/dev/null
	node_ctr images import "$NODE/pause.tar" >/dev/null
}

# node_down: pods and tasks removed through containerd (so that the shims
# exit and CNI undoes its part), then containerd stopped by pid, then
# whatever is left of theirs removed by hand: shims, mounts under $NODE,
# the bridge, the state. Safe to call twice and after a failed node_up.
node_down() {
	[ -n "${NODE:-}" ] || return 0
	local p c pids m d
	if [ -n "${NODE_PID:-}" ] && kill -0 "$NODE_PID" 2>/dev/null; then
		for p in $(node_crictl pods -q 2>/dev/null); do
			node_crictl stopp "$p" >/dev/null 2>&1 || true
			node_crictl rmp -f "$p" >/dev/null 2>&1 || true
		done
		for c in $(node_ctr containers ls -q 2>/dev/null); do
			node_ctr tasks delete -f "$c" >/dev/null 2>&1 || true # kills it first
			node_ctr containers rm "$c" >/dev/null 2>&1 || true
		done
		kill "$NODE_PID"
		wait "$NODE_PID" 2>/dev/null || true
	fi
	NODE_PID=""
	# A shim outlives containerd: ours are those started with our socket.
	pids=$(pgrep -f "containerd-shim-runc-v2 .*-address $NODE/containerd.sock" || true)
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	# Mounts under $NODE (snapshots, netns pins, shm), deepest first.
	for m in $(awk -v n="$NODE/" 'index($5, n) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	ip link del "$NODE_BRIDGE" 2>/dev/null || true
	# CNI's result cache (libcni keeps it in /var/lib/cni whatever the config).
	rm -f /var/lib/cni/results/hutch-node-* 2>/dev/null || true
	for d in ${NODE_OUTSIDE:-}; do rmdir "$d" 2>/dev/null || true; done
	rm -rf "$NODE"
	NODE=""
}
