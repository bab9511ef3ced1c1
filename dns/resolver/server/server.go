// Package server, when imported, lets the hutch binary run as a root's DNS
// resolver (`hutch _dns-serve DIR` with _HUTCH_DNS_SERVE=DIR, see ServeEnv): a C process, run from a constructor
// before the Go runtime starts, as the watchdog is. A Go resolver cost
// about 12 MiB PSS with 50 containers (the runtime's heap and the pages of
// the binary it touches); this one costs what its few files' code and its
// members' names need.
//
// The C is split by concern:
//
//   - main.c: the one-thread epoll loop; the control socket (register,
//     update), members' sockets opened inside their network namespaces,
//     pidfd watch of each container's init, the lock, the watchdog, and
//     exit when the last member is gone.
//   - wire.c: parsing a query, local answers (A/AAAA/PTR, empty NOERROR
//     for other types of a known name), sizing a reply (one OPT, TC).
//   - forward.c: forwarding unknown names to the member's upstreams.
//   - members.c: names and addresses per network, and the records in
//     DIR/members a restarted resolver serves again.
//
// The behaviour is that of the Go resolver it replaced: see the package doc
// of dns/resolver.
package server

/*
#cgo CFLAGS: -Wall -Werror -Wno-format-truncation -O2
extern void hutch_resolver_serve(void);
static void __attribute__((constructor)) hutch_resolver_serve_init(void) { hutch_resolver_serve(); }
*/
import "C"

// ServeEnv names the root's resolver directory in the environment of the
// resolver process; the C side acts only when it is set.
const ServeEnv = "_HUTCH_DNS_SERVE"
