// Package watchdog, when imported, lets the hutch binary run as the
// watchdog of a root's DNS resolver (see watchdog.c): a C process of a few
// pages that waits for the resolver to die and, unless it ended by itself,
// execs a new one in its place. It acts only when its environment says so.
package watchdog

/*
#cgo CFLAGS: -Wall -Werror -O2
extern void hutch_resolver_watchdog(void);
static void __attribute__((constructor)) hutch_resolver_watchdog_init(void) { hutch_resolver_watchdog(); }
*/
import "C"

import "strconv"

// Command is the watchdog's argv[1]; the C side does not read it, it only
// names the process for ps.
const Command = "_dns-watch"

// QuickEnv counts the resolvers in a row that died within a second of
// starting; the watchdog waits longer before each such restart.
const QuickEnv = "_HUTCH_DNS_QUICK"

// SocketsEnv lists the sockets the watchdog holds for the resolver it may
// start, ID:UDPFD:TCPFD separated by commas; that resolver inherits them.
const SocketsEnv = "_HUTCH_DNS_SOCKETS"

// Env is the whole environment of the watchdog of the resolver pid (its
// parent) serving dir, holding sockets.
func Env(dir string, pid int, quick, sockets string) []string {
	return []string{"_HUTCH_DNS_WATCH=" + dir, "_HUTCH_DNS_WATCH_PID=" + strconv.Itoa(pid),
		QuickEnv + "=" + quick, SocketsEnv + "=" + sockets}
}
