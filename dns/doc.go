// Package dns is the core of hutch's embedded resolver: what a container on
// a user-defined network gets when it asks 127.0.0.11. It answers the names
// of the containers it shares a network with and forwards everything else.
// Opening the sockets inside the container's network namespace, the NAT
// rule that sends port 53 to them and the resolver's lifetime belong to the
// caller; this package only serves a socket it is given.
//
// Three parts, each usable on its own:
//
//   - Records (View, Answer): an immutable index built from Entries, one per
//     container per network. A container's names are its name, aliases,
//     short id and hostname, each known as NAME and NAME.NETWORK, matched in
//     DNS canonical form (ASCII case-insensitive, fully qualified). A answers
//     carry every distinct address of every container carrying the name, in
//     a fresh random order each time; PTR gives the container name; any other
//     type for a known name is an empty authoritative NOERROR, so an AAAA
//     lookup on an IPv4-only network is never forwarded. Local answers have
//     TTL 0, because names come and go with containers and the contract is
//     that changes show at once. Answer is pure: a request in, a reply or
//     "forward" out.
//   - Sizing (Fit): a reply leaves with exactly one OPT if the query had one,
//     and fits 512 bytes or the client's EDNS0 size (at most 4096) over UDP,
//     64 KiB over TCP; records that do not fit are dropped and TC is set, so
//     the client retries over TCP.
//   - Forwarding (Forwarder): the query goes to at most three upstreams in
//     order, over the client's transport, each within a timeout; the next is
//     tried on a timeout, a network error, SERVFAIL or REFUSED; if all fail
//     the client gets SERVFAIL, so an unreachable upstream costs a bounded
//     wait, never a hang. At most MaxInFlight queries are forwarded at once;
//     past that the answer is SERVFAIL at once. The Dial hook lets the caller
//     reach loopback upstreams (127.0.0.53) from the host's namespace.
//
// Server ties them together on a UDP socket and a TCP listener. It asks its
// View function for the current view on every query, so the caller swaps
// views (an atomic.Pointer) and the change is visible to the next query.
// Nothing in it grows with the traffic: one goroutine reads a UDP socket
// and answers local names inline, a forwarded query gets a goroutine only
// with a forwarding slot, TCP connections are capped and closed when idle,
// and input that does not parse gets FORMERR or nothing, never a panic.
//
// The package imports miekg/dns as mdns, as every hutch package does, so that
// "dns" always means this package.
package dns
