// Package resolver runs hutch's embedded DNS for one hutch root: one process
// (`hutch _dns-serve DIR`) serving every running container that is on a
// user-defined network. The first such container starts it; it ends when the
// last one it serves exits. The process is C (package server), run before
// the Go runtime starts, so that it stays within a few pages; this package
// is the Go side: registering a container, updating its names, and the
// rare nft step a restarted resolver needs.
//
// A container's monitor registers it over a unix socket in DIR, passing the
// container's network namespace and a pidfd of its init. The resolver opens
// a UDP and a TCP socket on 127.0.0.11 inside that namespace, on ports the
// kernel picks, and answers with them; Attach then DNATs port 53 of
// 127.0.0.11 to them inside the container (network/nft), so the container's
// own processes can still bind port 53. Queries arrive on sockets that belong
// to one container, so the resolver knows who asks without looking at
// addresses. When the init exits, its pidfd says so and the sockets close at
// once (the watchdog's copies some 20 ms later): they must not keep the
// namespace (and its veth) alive.
//
// What a container sees: the names of the containers it shares a network
// with (name, aliases, short id, hostname, each as NAME and NAME.NETWORK,
// ASCII case-insensitive), A/AAAA with every distinct address in a fresh
// random order, PTR for their addresses, an empty authoritative NOERROR for
// other types of a known name, TTL 0 (names change at once); everything
// else is forwarded to at most three upstreams in order, 2 s each, SERVFAIL
// if all fail, at most 64 forwards at once per container. Replies carry one
// OPT if the query had one and fit 512 bytes or the client's EDNS0 size (at
// most 4096) over UDP, with TC when records had to go.
//
// Names come with the registration, not from the runtime's records. The
// resolver keeps each registration in a file of its own (DIR/members/ID)
// and reloads them when it starts: it can die at any time, and a small
// watchdog (package watchdog) starts another at once, which takes over the
// sockets the watchdog kept for the containers still running (or enters
// their namespaces and binds their ports again) before it answers anything.
//
// The wire format on the unix socket is lines: "register ID" or "update
// ID", then "up IP:PORT" per upstream and "e NETWORK IP NAME..." per
// network; the answer is "ok [UDPPORT TCPPORT]", "unknown" or "error MSG".
package resolver
