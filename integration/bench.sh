#!/usr/bin/env bash
# make bench: start-up time against the kernel floor and other runtimes,
# the memory of an idle monitor, and `ps` with 50 containers. Medians of N runs.
set -euo pipefail
HUTCH=${1:-bin/hutch}
N=${N:-51}
root=$(mktemp -d /tmp/hutch-bench.XXXXXX)
bundle=$(mktemp -d /tmp/hutch-bench-oci.XXXXXX)
h() { "$HUTCH" --root "$root" "$@"; }
cleanup() {
	h rm -f $(h ps -aq) >/dev/null 2>&1 || true
	rm -rf "$root" "$bundle"
}
trap cleanup EXIT

# median_ms CMD...: run CMD N times (after 3 warm-ups), print the median in ms.
median_ms() {
	local times=() t0 t1
	for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
	for ((i = 0; i < N; i++)); do
		t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>&1; t1=${EPOCHREALTIME/./} # microseconds, no subprocess
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
printf '%-58s %8s ms\n' "floor: unshare --fork --pid ... chroot ROOTFS /bin/true" "$floor_ms"
echo "hutch / floor: $(ratio "$hutch_ms" "$floor_ms")x"
mkdir -p "$bundle/rootfs" && cp -a "$rootfs/." "$bundle/rootfs/"
for rt in crun runc; do
	command -v $rt >/dev/null || { echo "$rt: not installed (apt-get install $rt to compare)"; continue; }
	rm -f "$bundle/config.json"
	(cd "$bundle" && $rt spec)
	sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' "$bundle/config.json"
	rt_ms=$(median_ms $rt run --bundle "$bundle" "bench-$rt-$$")
	printf '%-58s %8s ms\n' "$rt run (same rootfs)" "$rt_ms"
	echo "hutch / $rt: $(ratio "$hutch_ms" "$rt_ms")x"
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
