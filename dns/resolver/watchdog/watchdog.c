// The watchdog of a root's DNS resolver. The resolver starts it with
// _HUTCH_DNS_WATCH=DIR and _HUTCH_DNS_WATCH_PID=its pid, and this
// constructor takes over before the Go runtime starts: it waits on a pidfd
// of the resolver (its parent) and, when it is gone, execs `hutch _dns-serve
// DIR` in its place, which reloads every registration from DIR/members and
// takes over the sockets this process holds for the containers. A
// resolver that ends by itself (it served its last container) removes its
// socket before it exits (and kills this process): then nothing is started.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void hutch_resolver_watchdog(void) {
	const char *dir = getenv("_HUTCH_DNS_WATCH");
	if (!dir)
		return;
	const char *p = getenv("_HUTCH_DNS_WATCH_PID"), *q = getenv("_HUTCH_DNS_QUICK");
	pid_t pid = p ? atoi(p) : 0;
	int quick = q ? atoi(q) : 0;
	long long started = now_ms();
	int pidfd = pid > 0 ? syscall(SYS_pidfd_open, pid, 0) : -1;
	// Still our parent after the open: the pidfd is the resolver's. If not,
	// it is gone already.
	if (pidfd >= 0 && getppid() == pid) {
		struct pollfd pfd = {pidfd, POLLIN, 0};
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	}
	char sock[4096];
	snprintf(sock, sizeof sock, "%s/resolver.sock", dir);
	if (access(sock, F_OK) != 0)
		_exit(0);
	// A resolver that dies as soon as it starts is started again at once the
	// first time, then after 0.1 s, 0.2 s... up to 6.4 s.
	quick = now_ms() - started < 1000 ? quick + 1 : 0;
	if (quick > 1) {
		long ms = 100L << (quick - 2 < 6 ? quick - 2 : 6);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	// fd 3 (/dev/null from the resolver) is where a resolver says it is
	// ready; nobody waits for this one. The sockets this process holds,
	// listed in _HUTCH_DNS_SOCKETS, are passed on as they are.
	if (pidfd >= 0)
		close(pidfd);
	if (fcntl(3, F_GETFD) < 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0 && null != 3) {
			dup2(null, 3);
			close(null);
		}
	}
	char quickenv[32];
	snprintf(quickenv, sizeof quickenv, "_HUTCH_DNS_QUICK=%d", quick);
	const char *sockets = getenv("_HUTCH_DNS_SOCKETS");
	size_t n = strlen("_HUTCH_DNS_SOCKETS=") + (sockets ? strlen(sockets) : 0) + 1;
	char *socketsenv = malloc(n);
	if (!socketsenv)
		_exit(125);
	snprintf(socketsenv, n, "_HUTCH_DNS_SOCKETS=%s", sockets ? sockets : "");
	size_t sn = strlen("_HUTCH_DNS_SERVE=") + strlen(dir) + 1;
	char *serveenv = malloc(sn);
	if (!serveenv)
		_exit(125);
	snprintf(serveenv, sn, "_HUTCH_DNS_SERVE=%s", dir);
	char *argv[] = {"hutch", "_dns-serve", (char *)dir, NULL};
	char *envp[] = {serveenv, quickenv, socketsenv, NULL};
	execve("/proc/self/exe", argv, envp);
	_exit(125);
}
