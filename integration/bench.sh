#!/usr/bin/env bash
# make bench: start-up time against the kernel floor and other runtimes,
# the memory of an idle monitor, save and load, `ps` with 50 containers, start-up on a
# user-defined network against a hand-made floor (also with 200 containers
# on it, and the resolver's memory with 50), the embedded DNS with dnsperf
# (latency also against aardvark-dns, Podman's resolver, when installed), and
# iperf3 through a published port; a bind mount's cost, pull against skopeo copy and cp against
# the host's cp; start-up through containerd's runc shim with hutch-runc against crun.
# Medians of N runs.
# Traffic goes only to this host's own addresses and the bench's namespaces.
set -euo pipefail
HUTCH=$(realpath "${1:-bin/hutch}") # absolute: containerd runs hutch-runc from elsewhere
N=${N:-51}
root=$(mktemp -d /tmp/hutch-bench.XXXXXX)
bundle=$(mktemp -d /tmp/hutch-bench-oci.XXXXXX)
h() { "$HUTCH" --root "$root" "$@"; }
cleanup() {
	[ -n "${iperf_pid:-}" ] && kill "$iperf_pid" 2>/dev/null || true
	[ -n "${reg_pid:-}" ] && { kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; } || true
	[ -n "${files_dir:-}" ] && rm -rf "$files_dir"
	h system reset -f >/dev/null 2>&1 || true
	ip netns del hbench-floor 2>/dev/null || true
	[ -n "${aard_pid:-}" ] && kill "$aard_pid" 2>/dev/null || true
	ip netns del hbench-aardc 2>/dev/null || true
	ip netns del hbench-aard 2>/dev/null || true
	[ -n "${aard_dir:-}" ] && rm -rf "$aard_dir"
	ip link del hbench-br 2>/dev/null || true
	nft delete table ip hbench-floor 2>/dev/null || true
	declare -F node_down >/dev/null && node_down
	rm -rf "$root" "$bundle"
}
trap cleanup EXIT

# median_ms CMD...: run CMD N times (after 3 warm-ups), print the median in
# ms. A failed run stops the bench: a failure is not a start.
median_ms() {
	local times=() t0 t1 rc
	for _ in 1 2 3; do "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }; done
	for ((i = 0; i < N; i++)); do
		t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>&1; rc=$?; t1=${EPOCHREALTIME/./} # microseconds, no subprocess
		[ $rc = 0 ] || { echo "bench: failed (exit $rc): $*" >&2; return 1; }
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# paired_ms RESET_A A RESET_B B: runs A and B (functions) in turn FILES_N times, each after
# its RESET (untimed), and prints the median of A's times, of B's (ms) and of the pairs' ratios
# A/B: a pair's two runs see the same load, which drifts between two blocks of runs.
paired_ms() {
	local as=() bs=() rs=() t0 t1 t2 t3
	for _ in 1 2; do
		$1; $2 >/dev/null 2>&1 || { echo "bench: failed: $2" >&2; return 1; }
		$3; $4 >/dev/null 2>&1 || { echo "bench: failed: $4" >&2; return 1; }
	done
	for ((i = 0; i < FILES_N; i++)); do
		$1; t0=${EPOCHREALTIME/./}; $2 >/dev/null 2>&1 || { echo "bench: failed: $2" >&2; return 1; }; t1=${EPOCHREALTIME/./}
		$3; t2=${EPOCHREALTIME/./}; $4 >/dev/null 2>&1 || { echo "bench: failed: $4" >&2; return 1; }; t3=${EPOCHREALTIME/./}
		as+=($((t1 - t0))); bs+=($((t3 - t2))); rs+=($(((t1 - t0) * 1000 / (t3 - t2))))
	done
	med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	awk -v a="$(med "${as[@]}")" -v b="$(med "${bs[@]}")" -v r="$(med "${rs[@]}")" 'BEGIN {printf "%.1f %.1f %.2f\n", a/1000, b/1000, r/1000}'
}

# oci_blob FILE DIR: moves FILE into the OCI layout DIR under its digest, prints "DIGEST SIZE".
oci_blob() {
	local d
	d=$(sha256sum "$1" | cut -d' ' -f1)
	printf 'sha256:%s %s\n' "$d" "$(stat -c %s "$1")"
	mv "$1" "$2/blobs/sha256/$d"
}

# files_bench: pull of a 5-layer image from a loopback docker-registry against `skopeo copy`
# of it into a directory, and `cp` of a 100 MB file into a running container against the
# host's cp. FILES_N pairs.
files_bench() {
	FILES_N=${FILES_N:-11}
	files_dir=$(mktemp -d /tmp/hutch-bench-files.XXXXXX)
	echo "== pull of a 5-layer image (5 x 8 MB) from a loopback registry: $FILES_N pairs (ms)"
	if ! command -v skopeo >/dev/null || [ ! -x /usr/bin/docker-registry ]; then
		echo "skopeo or docker-registry: not installed (apt-get install skopeo docker-registry to measure)"
	else
		local lay=$files_dir/oci port diffs="" layers="" i d s
		mkdir -p "$lay/blobs/sha256"
		echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
		for i in 1 2 3 4 5; do # a layer: a directory with 8 MB that gzip cannot shrink
			mkdir -p "$files_dir/l$i/layer$i"
			head -c 8M /dev/urandom >"$files_dir/l$i/layer$i/data"
			tar -C "$files_dir/l$i" -cf "$files_dir/l$i.tar" .
			diffs+="${diffs:+,}\"sha256:$(sha256sum "$files_dir/l$i.tar" | cut -d' ' -f1)\""
			gzip -1 "$files_dir/l$i.tar"
			read -r d s < <(oci_blob "$files_dir/l$i.tar.gz" "$lay")
			layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s}"
		done
		printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffs" >"$files_dir/config"
		read -r d s < <(oci_blob "$files_dir/config" "$lay")
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' "$d" "$s" "$layers" >"$files_dir/manifest"
		read -r d s < <(oci_blob "$files_dir/manifest" "$lay")
		printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "$d" "$s" >"$lay/index.json"
		port=$((20000 + RANDOM % 20000))
		printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$files_dir/reg" "$port" >"$files_dir/reg.yml"
		/usr/bin/docker-registry serve "$files_dir/reg.yml" >/dev/null 2>&1 &
		reg_pid=$!
		for i in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
		local ref=127.0.0.1:$port/bench/five:1
		skopeo copy -q --dest-tls-verify=false "oci:$lay:1" "docker://$ref"
		pull_reset() { h rmi "$ref" >/dev/null 2>&1 || true; }
		pull_run() { h pull "$ref"; }
		skopeo_reset() { rm -rf "$files_dir/dir"; }
		skopeo_run() { skopeo copy -q --src-tls-verify=false "docker://$ref" "dir:$files_dir/dir"; }
		local pull_ms skopeo_ms r
		read -r pull_ms skopeo_ms r < <(paired_ms pull_reset pull_run skopeo_reset skopeo_run)
		printf '%-58s %8s ms\n' "hutch pull (layers fetched, checked, extracted)" "$pull_ms"
		printf '%-58s %8s ms\n' "skopeo copy docker://... dir:D (fetched, checked)" "$skopeo_ms"
		echo "hutch pull / skopeo copy, median of pairs: ${r}x (target: at most 1.5x)"
		pull_reset
		kill "$reg_pid" && wait "$reg_pid" 2>/dev/null || true
		reg_pid=""
	fi

	echo "== cp of a 100 MB file into a running container: $FILES_N pairs (ms)"
	head -c 100M /dev/urandom >"$files_dir/big"
	mkdir -p "$root/hostcp"
	local id cp_ms host_ms r
	id=$(h run -d --network none busybox sleep 1000)
	cp_rm() { h exec "$id" rm -f /big; }
	cp_run() { h cp "$files_dir/big" "$id:/big"; }
	host_rm() { rm -f "$root/hostcp/big"; }
	host_run() { cp "$files_dir/big" "$root/hostcp/big"; }
	read -r cp_ms host_ms r < <(paired_ms cp_rm cp_run host_rm host_run)
	printf '%-58s %8s ms\n' "hutch cp FILE CTR:/big (100 MB)" "$cp_ms"
	printf '%-58s %8s ms\n' "cp FILE DIR/big on the host, same filesystem" "$host_ms"
	echo "hutch cp / cp, median of pairs: ${r}x (target: at most 1.5x)"
	h rm -f "$id" >/dev/null
	rm -rf "$root/hostcp" "$files_dir"
	files_dir=""
}

# containerd_bench: `ctr run --rm` of busybox true through a private containerd
# (node-lib.sh) and its io.containerd.runc.v2 shim, with RUNTIME_BIN (default:
# hutch as hutch-runc) against crun as the shim's runc, in interleaved pairs, N
# of them.
containerd_bench() {
	local rt t err a b r label="same containerd"
	echo "== start-up through containerd (ctr run --rm busybox true, runc.v2 shim): $N pairs (ms)"
	. "$(dirname "$0")/node-lib.sh"
	rt=${RUNTIME_BIN:-$(node_hutch_runc "$HUTCH" "$bundle")}
	for t in containerd ctr crun "$rt"; do
		command -v "$t" >/dev/null || { echo "$t: not found, not timed (make deps; RUNTIME_BIN names the runtime)"; return 0; }
	done
	node_up "$HUTCH" "$rt"
	ctrd_run() { node_ctr run --rm --runc-binary "$1" --runc-root "$NODE/runc" docker.io/library/busybox:latest bench true; }
	if ! err=$(ctrd_run "$(command -v crun)" 2>&1); then
		if grep -q "hybrid mode not supported" <<<"$err" && [ -d /sys/fs/cgroup/unified ]; then
			# crun 1.8 refuses a hybrid host whose v2 tree has a controller: this
			# containerd (and so both runtimes' shims) runs in a private mount
			# namespace without the v2 mount, where the host looks v1-only.
			node_down
			node_up "$HUTCH" "$rt" unshare -m sh -c 'mount --make-rprivate / && umount /sys/fs/cgroup/unified && exec "$@"' _
			label="containerd in a private mount ns without the cgroup v2 mount"
		else
			echo "crun through containerd fails here, not timed: $(head -1 <<<"$err")"
			node_down
			return 0
		fi
	fi
	ctrd_rt() { ctrd_run "$rt"; }
	ctrd_crun() { ctrd_run "$(command -v crun)"; }
	ctrd_none() { :; }
	read -r a b r < <(FILES_N=$N paired_ms ctrd_none ctrd_rt ctrd_none ctrd_crun)
	printf '%-58s %8s ms\n' "ctr run --rm, runc binary $(basename "$rt")" "$a"
	printf '%-58s %8s ms\n' "ctr run --rm, runc binary crun" "$b"
	echo "$(basename "$rt") / crun through containerd, median of pairs: ${r}x (target: at most 1.2x; $label)"
	node_down
}

startup_bench() {
	echo "== start-up: medians of $N runs (ms)"
	hutch_ms=$(median_ms "$HUTCH" --root "$root" run --rm --network none busybox true)
	floor_ms=$(median_ms unshare --fork --pid --mount --uts --ipc --net --mount-proc chroot "$rootfs" /bin/true)
	printf '%-58s %8s ms\n' "hutch run --rm --network none busybox true" "$hutch_ms"
	# The bind mount's cost: runs with and without -v alternate, and the median of each pair's
	# difference is its cost, which a machine's drift between two blocks of runs would swamp.
	bind_pairs=()
	for ((i = 0; i < N; i++)); do
		t0=${EPOCHREALTIME/./}; h run --rm --network none busybox true >/dev/null
		t1=${EPOCHREALTIME/./}; h run --rm --network none -v "$rootfs:/data:ro" busybox true >/dev/null
		t2=${EPOCHREALTIME/./}
		bind_pairs+=($((t2 - t1 - (t1 - t0))))
	done
	bind_ms=$(printf '%s\n' "${bind_pairs[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%+.2f", a[int((NR+1)/2)]/1000}')
	printf '%-58s %8s ms   (target: at most +0.3 ms)\n' "the same with -v DIR:/data:ro, paired with it" "$bind_ms"
	printf '%-58s %8s ms\n' "floor: unshare --fork --pid ... chroot ROOTFS /bin/true" "$floor_ms"
	echo "hutch / floor: $(ratio "$hutch_ms" "$floor_ms")x"
	mkdir -p "$bundle/rootfs" && cp -a "$rootfs/." "$bundle/rootfs/"
	for rt in crun runc; do
		command -v $rt >/dev/null || { echo "$rt: not installed (apt-get install $rt to compare)"; continue; }
		rm -f "$bundle/config.json"
		(cd "$bundle" && $rt spec)
		sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' "$bundle/config.json"
		# Time only a runtime that works here: failing fast is not starting fast.
		label="$rt run (same rootfs)"
		if err=$($rt run --bundle "$bundle" "bench-$rt-$$" 2>&1 >/dev/null); then
			rt_ms=$(median_ms $rt run --bundle "$bundle" "bench-$rt-$$")
		elif grep -q "hybrid mode not supported" <<<"$err" && [ -d /sys/fs/cgroup/unified ]; then
			# crun 1.8 refuses a hybrid host whose v2 tree has a controller. In a
			# private mount namespace without the v2 mount it sees a v1-only host
			# and runs: timed there (its cgroups then go in v1 only; hutch's, in
			# the line above, in v1 and v2).
			label="$rt run (v2 unmounted in a private mount namespace)"
			export -f median_ms
			rt_ms=$(N=$N unshare -m bash -c 'mount --make-rprivate / && umount /sys/fs/cgroup/unified && median_ms "$@"' _ \
				$rt run --bundle "$bundle" "bench-$rt-$$") || rt_ms=""
		fi
		if [ -z "${rt_ms:-}" ]; then
			echo "$rt run: fails on this host, not timed: $(head -1 <<<"$err")"
			continue
		fi
		printf '%-58s %8s ms\n' "$label" "$rt_ms"
		echo "hutch / $rt: $(ratio "$hutch_ms" "$rt_ms")x"
		rt_ms=""
	done

}

h run --rm busybox true # builds the busybox image
rootfs="$root/images/busybox/rootfs"
if [ "${BENCH_ONLY:-}" = files ]; then # BENCH_ONLY=files: just pull and cp
	files_bench
	exit 0
fi
if [ "${BENCH_ONLY:-}" = containerd ]; then # BENCH_ONLY=containerd: just that
	containerd_bench
	exit 0
fi
if [ "${BENCH_ONLY:-}" = startup ]; then # BENCH_ONLY=startup: hutch, the floor, crun and runc
	startup_bench
	exit 0
fi

startup_bench
containerd_bench
files_bench

echo "== memory of one idle monitor"
id=$(h run -d busybox sleep 1000)
mon=$(pgrep -f "_monitor $root $id")
sleep 0.5
awk '/^Rss:/ {r+=$2} /^Pss:/ {p+=$2} END {printf "monitor RSS %.1f MiB, PSS %.1f MiB\n", r/1024, p/1024}' /proc/$mon/smaps_rollup
h rm -f "$id" >/dev/null

echo "== save and load of busybox (one 2 MB layer): medians of $N runs (ms)"
# The floors: tar writing the same root filesystem, and tar unpacking it into a fresh directory.
save_ms=$(median_ms "$HUTCH" --root "$root" save -o "$bundle/bb.tar" busybox)
tarc_ms=$(median_ms tar -C "$rootfs" -cf "$bundle/floor.tar" .)
load_once() { h load -i "$bundle/bb.tar" && h rmi docker.io/library/busybox:latest; }
untar_once() { mkdir "$bundle/x" && tar -C "$bundle/x" -xf "$bundle/floor.tar" && rm -rf "$bundle/x"; }
load_ms=$(median_ms load_once)
untar_ms=$(median_ms untar_once)
printf '%-58s %8s   (%s x tar -c)\n' "hutch save" "$save_ms" "$(ratio "$save_ms" "$tarc_ms")"
printf '%-58s %8s   (%s x tar -x + rm)\n' "hutch load + rmi" "$load_ms" "$(ratio "$load_ms" "$untar_ms")"
rm -f "$bundle/bb.tar" "$bundle/floor.tar"

echo "== ps with 50 containers"
for i in $(seq 50); do h run -d busybox sleep 1000 >/dev/null; done
ps_ms=$(median_ms "$HUTCH" --root "$root" ps)
echo "hutch ps (50 running): $ps_ms ms"

echo "== start-up on a user-defined network: medians of $N runs (ms)"
h rm -f $(h ps -aq) >/dev/null
h network create --subnet 10.252.0.0/16 benchnet >/dev/null
net_ms=$(median_ms "$HUTCH" --root "$root" run --rm --network benchnet busybox true)
# The floor by hand: a named netns, the veth made with its peer directly in
# it, addresses and routes in one ip batch, one nft batch publishing a port,
# then the same unshare as above.
ip link add hbench-br type bridge && ip addr add 10.253.0.1/24 dev hbench-br && ip link set hbench-br up
nft -f - <<'NFT'
table ip hbench-floor {
	map ports { type inet_proto . inet_service : ipv4_addr . inet_service; }
	chain prerouting { type nat hook prerouting priority dstnat; fib daddr type local dnat ip to meta l4proto . th dport map @ports; }
}
NFT
floor_net_once() {
	ip netns add hbench-floor
	ip link add hbench-v0 master hbench-br up type veth peer name eth0 netns hbench-floor
	ip -n hbench-floor -batch - <<'IP'
addr add 10.253.0.2/24 dev eth0
link set eth0 up
link set lo up
route add default via 10.253.0.1
IP
	nft add element ip hbench-floor ports '{ tcp . 18999 : 10.253.0.2 . 80 }'
	ip netns exec hbench-floor unshare --fork --pid --mount --uts --ipc --mount-proc chroot "$rootfs" /bin/true
	nft delete element ip hbench-floor ports '{ tcp . 18999 }'
	ip netns del hbench-floor
}
netfloor_ms=$(median_ms floor_net_once)
printf '%-58s %8s ms\n' "hutch run --rm --network benchnet busybox true" "$net_ms"
printf '%-58s %8s ms\n' "floor: netns + veth + ip -batch + nft + unshare" "$netfloor_ms"
echo "hutch / floor: $(ratio "$net_ms" "$netfloor_ms")x (target: at most 3x)"

for i in $(seq 50); do h run -d --network benchnet busybox sleep 1000 >/dev/null; done
# PSS: the resolver's share of the pages it maps; anon is its own memory,
# file the pages of the hutch binary it has mapped (whole page-cache folios).
pss() { awk '/^Rss:/ {r+=$2} /^Pss:/ {p+=$2} /^Pss_Anon:/ {a+=$2} /^Pss_File:/ {f+=$2}
	END {printf "PSS %.2f MiB (anon %.2f, file %.2f), RSS %.2f MiB", p/1024, a/1024, f/1024, r/1024}' "/proc/$1/smaps_rollup"; }
sleep 1
echo "resolver with 50 containers: $(pss "$(pgrep -f "_dns-serve $root/dns\$")") (target: PSS at most 3 MiB)"
echo "its watchdog: $(pss "$(pgrep -f "_dns-watch $root/dns\$")")"
for i in $(seq 149); do h run -d --network benchnet busybox sleep 1000 >/dev/null; done
net200_ms=$(median_ms "$HUTCH" --root "$root" run --rm --network benchnet busybox true)
none200_ms=$(median_ms "$HUTCH" --root "$root" run --rm --network none busybox true)
# The kernel's own growth: the same floor as at the top, now with 199 running.
floor200_ms=$(median_ms unshare --fork --pid --mount --uts --ipc --net --mount-proc chroot "$rootfs" /bin/true)
printf '%-58s %8s ms\n' "the same with 199 containers on benchnet" "$net200_ms"
echo "200th / 1st: $(ratio "$net200_ms" "$net_ms")x (target: about 1x)"
printf '%-58s %8s ms\n' "control: --network none, same 199 running" "$none200_ms"
echo "(the network's own share: $(awk -v a="$net200_ms" -v b="$none200_ms" -v c="$net_ms" -v d="$hutch_ms" 'BEGIN {printf "%.2f ms with 199, %.2f ms alone", a-b, c-d}'))"
printf '%-58s %8s ms\n' "floor (unshare ... chroot), same 199 running" "$floor200_ms"
echo "with 199 / with none: hutch $(ratio "$none200_ms" "$hutch_ms")x, floor $(ratio "$floor200_ms" "$floor_ms")x"
h rm -f $(h ps -aq) >/dev/null

# lookups OUT CMD...: CMD (a dnsperf with its server) makes the lookups of
# $qfile one at a time; each one's latency in seconds is appended to OUT. A
# lookup lost or answered other than NOERROR stops the bench.
lookups() {
	local out=$1
	shift
	"$@" -d "$qfile" -n 1 -c 1 -q 1 -v 2>&1 |
		awk -v out="$out" '$1 == ">" && $2 == "NOERROR" {print $NF >>out; n++; next} $1 == ">" {bad++}
			END {if (bad || !n) {print "bench: " bad + 0 " lookups lost or failed" >"/dev/stderr"; exit 1}}'
}
# latency FILE: the median and p99 (nearest rank) of FILE's seconds, in us.
latency() {
	sort -n "$1" | awk '{a[NR] = $1} END {printf "%.0f %.0f\n", a[int((NR + 1) / 2)] * 1e6, a[int(NR * 0.99 + 0.999)] * 1e6}'
}

upstream_packets() { ip -n hbench-aard -s -j link show up0 | grep -o '"tx":{[^}]*' | grep -o '"packets":[0-9]*' | cut -d: -f2; }

# dns_latency CPID QFILE: the sequential lookups of QFILE from the netns of
# CPID against 127.0.0.11, in DNS_ROUNDS rounds; when aardvark-dns (Podman's
# resolver) is installed, each round also asks it the same lookups, run the
# way netavark runs it: its config dir (one file per network: the listen
# address, then "ID IPv4s IPv6s names" per container), listening on a
# bridge's address in a netns of the bench's own, asked from a "container"
# netns on that bridge. Its upstream is a veth in its netns that leads
# nowhere, and the packets counted there say whether it forwarded a local
# name. Alternating rounds expose both to the same noise.
dns_latency() {
	local cpid=$1 rounds=${DNS_ROUNDS:-5} aard="" lat n h a sent c
	lat=$(mktemp -d /tmp/hutch-bench-lat.XXXXXX)
	for c in aardvark-dns /usr/lib/podman/aardvark-dns /usr/libexec/podman/aardvark-dns; do
		command -v "$c" >/dev/null && { aard=$(command -v "$c"); break; }
	done
	if [ -n "$aard" ]; then
		aard_dir=$(mktemp -d /tmp/hutch-bench-aard.XXXXXX)
		ip netns add hbench-aard && ip netns add hbench-aardc
		# The upstream: 203.0.113.53 behind veth up0, whose peer drops all
		# (a MAC nobody has); IPv6 off on it, so that only a query is counted.
		ip -n hbench-aard link add up0 type veth peer name up1
		ip netns exec hbench-aard sysctl -qw net.ipv6.conf.up0.disable_ipv6=1
		ip -n hbench-aard -batch - <<'IP'
link set lo up
link set up1 up
addr add 203.0.113.1/24 dev up0
link set up0 up
neigh add 203.0.113.53 lladdr 02:00:00:00:00:53 dev up0 nud permanent
link add br0 type bridge
addr add 10.89.0.1/24 dev br0
link set br0 up
link add veth0 type veth peer name eth0 netns hbench-aardc
link set veth0 master br0 up
IP
		ip -n hbench-aardc -batch - <<'IP'
addr add 10.89.0.2/24 dev eth0
link set eth0 up
link set lo up
IP
		# Every file in the config dir is a network to aardvark-dns.
		mkdir "$aard_dir/config"
		printf '10.89.0.1\n%s 10.89.0.3  dnsweb\n%s 10.89.0.2  dnscli\n' \
			"$(printf 'a%.0s' {1..64})" "$(printf 'b%.0s' {1..64})" >"$aard_dir/config/benchnet"
		echo "nameserver 203.0.113.53" >"$aard_dir/resolv.conf"
		# ip netns exec gives it a mount namespace of its own, where its
		# resolv.conf names that upstream; it forks and returns once it listens.
		ip netns exec hbench-aard sh -c 'mount --bind "$1/resolv.conf" /etc/resolv.conf && exec "$2" --config "$1/config" -p 53 run' \
			_ "$aard_dir" "$aard" >/dev/null 2>&1 </dev/null || true
		aard_pid=$(cat "$aard_dir/config/aardvark.pid" 2>/dev/null || true)
		if ! ip netns exec hbench-aardc dnsperf -s 10.89.0.1 -d "$qfile" -n 1 -c 1 -q 1 -t 1 2>&1 | grep -q 'Queries lost: *0 '; then
			echo "aardvark-dns: does not answer here (its log goes to syslog), not compared"
			aard=""
		fi
	else
		echo "aardvark-dns: not installed (apt-get install aardvark-dns to compare with Podman's resolver)"
	fi
	for ((r = 0; r < rounds; r++)); do
		lookups "$lat/hutch" nsenter -t "$cpid" -n dnsperf -s 127.0.0.11
		[ -z "$aard" ] || lookups "$lat/aard" ip netns exec hbench-aardc dnsperf -s 10.89.0.1
	done
	n=$(wc -l <"$qfile")
	read -r -a h < <(latency "$lat/hutch")
	echo "$n sequential lookups, $rounds rounds:"
	printf '  %-56s median %5s us, p99 %6s us\n' "hutch, from a container to 127.0.0.11" "${h[0]}" "${h[1]}"
	if [ -n "$aard" ]; then
		read -r -a a < <(latency "$lat/aard")
		printf '  %-56s median %5s us, p99 %6s us\n' \
			"$("$aard" --version 2>/dev/null), from a netns to its bridge address" "${a[0]}" "${a[1]}"
		echo "hutch / aardvark-dns, same run: median $(ratio "${h[0]}" "${a[0]}")x, p99 $(ratio "${h[1]}" "${a[1]}")x (target: at most 1x)"
		# What went upstream during the lookups, then for one unknown name:
		# the proof that a forward would have been counted.
		sent=$(upstream_packets)
		echo "nosuch.example A" >"$lat/q"
		ip netns exec hbench-aardc dnsperf -s 10.89.0.1 -d "$lat/q" -n 1 -t 1 >/dev/null 2>&1 || true
		echo "aardvark-dns sent $sent packets upstream for its $((n * rounds)) local lookups, $(($(upstream_packets) - sent)) for one unknown name"
	fi
	if [ -n "${aard_dir:-}" ]; then
		[ -z "$aard_pid" ] || kill "$aard_pid"
		aard_pid=""
		ip netns del hbench-aardc && ip netns del hbench-aard
		rm -rf "$aard_dir" && aard_dir=""
	fi
	rm -rf "$lat"
}

echo "== embedded DNS: dnsperf for 10 s from inside a container against 127.0.0.11"
if command -v dnsperf >/dev/null; then
	h run -d --name dnsweb --network benchnet busybox sleep 1000 >/dev/null
	cid=$(h run -d --name dnscli --network benchnet busybox sleep 1000)
	cpid=$(h inspect "$cid" | awk -F'[:,]' '/"Pid"/ {gsub(/ /, "", $2); print $2; exit}')
	qfile=$(mktemp /tmp/hutch-bench-q.XXXXXX)
	echo "dnsweb A" >"$qfile"
	# The client runs in the container's network namespace (dnsperf is not in the image).
	nsenter -t "$cpid" -n dnsperf -s 127.0.0.11 -d "$qfile" -l 10 2>&1 |
		awk '/Queries (sent|lost)|Queries per second/ {sub(/^ +/, ""); print}'
	for _ in $(seq 500); do echo "dnsweb A"; done >"$qfile"
	dns_latency "$cpid" "$qfile"
	rm -f "$qfile"
	h rm -f dnsweb dnscli >/dev/null
else
	echo "dnsperf: not installed (apt-get install dnsperf to measure)"
fi

echo "== iperf3 through a published port (5 s each, Gbit/s)"
if ! command -v iperf3 >/dev/null; then
	echo "iperf3: not installed (apt-get install iperf3 to measure)"
	exit 0
fi
id=$(h run -d --network benchnet -p 15201:5201 busybox sleep 1000)
pid=$(h inspect "$id" | awk -F'[:,]' '/"Pid"/ {gsub(/ /, "", $2); print $2; exit}')
cip=$(h inspect "$id" | awk -F'"' '/"IPAddress"/ {print $4; exit}')
hostip=$(ip -4 -o addr show scope global | awk '{sub(/\/.*/, "", $4); print $4; exit}')
# The server runs in the container's network namespace (iperf3 is not in the image).
nsenter -t "$pid" -n iperf3 -s -p 5201 >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5
gbps() { iperf3 -c "$1" -p "$2" -t 5 -J | awk '/"sum_received"/ {r=1} r && /"bits_per_second"/ {gsub(/,/, ""); printf "%.2f", $2/1e9; exit}'; }
direct=$(gbps "$cip" 5201)
via_lo=$(gbps 127.0.0.1 15201)
via_host=$(gbps "$hostip" 15201)
printf '%-58s %8s\n' "direct to the container ($cip:5201)" "$direct"
printf '%-58s %8s   (%s of direct)\n' "published, via 127.0.0.1:15201" "$via_lo" "$(ratio "$via_lo" "$direct")"
printf '%-58s %8s   (%s of direct)\n' "published, via $hostip:15201" "$via_host" "$(ratio "$via_host" "$direct")"
