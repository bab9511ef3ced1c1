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
hq() { "$HUTCH" --root "$root" "$@"; }
cleanup() {
	# A demo root is thrown away whole: containers, networks, the default
	# bridge and the nftables table with it.
	hq system reset -f >/dev/null 2>&1 || true
	rm -rf "$root"
}
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

echo
echo "# networking: a web server on a network of its own, published on port 8088"
h network create demo-net
h run -d --name web --network demo-net -p 127.0.0.1:8088:80 busybox \
	sh -c 'mkdir -p /www && echo "hello from the web container" > /www/index.html && exec httpd -f -p 80 -h /www'
h port web
for _ in $(seq 50); do curl -sf http://127.0.0.1:8088/ >/dev/null && break; sleep 0.1; done
echo '$ curl http://127.0.0.1:8088/'
curl -s http://127.0.0.1:8088/
echo "# another container on demo-net finds it by name, through the embedded DNS at 127.0.0.11"
h run --rm --network demo-net busybox sh -c 'grep nameserver /etc/resolv.conf; wget -qO- http://web/' 
h network inspect demo-net
echo "# what the kernel holds, drawn: namespaces, veths, the bridge, NAT and the published port"
h network graph demo-net
echo "# one packet through it: from the host to the published port, hop by hop"
h network trace 127.0.0.1:8088
h rm -f web
h network rm demo-net
