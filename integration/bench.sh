#!/usr/bin/env bash
# make bench: start-up time against the kernel floor and other runtimes,
# the memory of an idle monitor, `ps` with 50 containers, start-up on a
# user-defined network against a hand-made floor (also with 200 containers
# on it, and the resolver's memory with 50), the embedded DNS with dnsperf,
# and iperf3 through a published port.
# Medians of N runs.
# Traffic goes only to this host's own addresses and the bench's namespaces.
set -euo pipefail
HUTCH=${1:-bin/hutch}
N=${N:-51}
root=$(mktemp -d /tmp/hutch-bench.XXXXXX)
bundle=$(mktemp -d /tmp/hutch-bench-oci.XXXXXX)
h() { "$HUTCH" --root "$root" "$@"; }
cleanup() {
	[ -n "${iperf_pid:-}" ] && kill "$iperf_pid" 2>/dev/null || true
	h system reset -f >/dev/null 2>&1 || true
	ip netns del hbench-floor 2>/dev/null || true
	ip link del hbench-br 2>/dev/null || true
	nft delete table ip hbench-floor 2>/dev/null || true
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

h run --rm busybox true # builds the busybox image
rootfs="$root/images/busybox/rootfs"

echo "== start-up: medians of $N runs (ms)"
hutch_ms=$(median_ms "$HUTCH" --root "$root" run --rm --network none busybox true)
floor_ms=$(median_ms unshare --fork --pid --mount --uts --ipc --net --mount-proc chroot "$rootfs" /bin/true)
printf '%-58s %8s ms\n' "hutch run --rm --network none busybox true" "$hutch_ms"
bind_ms=$(median_ms "$HUTCH" --root "$root" run --rm --network none -v "$rootfs:/data:ro" busybox true)
printf '%-58s %8s ms\n' "the same with -v DIR:/data:ro (target: at most +0.3 ms)" "$bind_ms"
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

echo "== memory of one idle monitor"
id=$(h run -d busybox sleep 1000)
mon=$(pgrep -f "_monitor $root $id")
sleep 0.5
awk '/^Rss:/ {r+=$2} /^Pss:/ {p+=$2} END {printf "monitor RSS %.1f MiB, PSS %.1f MiB\n", r/1024, p/1024}' /proc/$mon/smaps_rollup
h rm -f "$id" >/dev/null

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
	nsenter -t "$cpid" -n dnsperf -s 127.0.0.11 -d "$qfile" -n 1 -c 1 -q 1 -v 2>&1 |
		awk '$1 == ">" {print $NF}' | sort -n |
		awk '{a[NR] = $1} END {printf "500 sequential lookups: median %.0f us\n", a[int((NR + 1) / 2)] * 1e6}'
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
