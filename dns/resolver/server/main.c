// The resolver process: one thread, one epoll loop over the control socket,
// every member's UDP and TCP sockets and pidfd, the forwards in flight and
// the watchdog. It runs from a constructor, before the Go runtime starts,
// so that it costs only the pages it touches (see server.go).
#include "resolver.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESOLVER_ADDR "127.0.0.11"

int epfd;
static int home = -1, ctl = -1;
static char sockpath[4200];
static long long idle_exit_at = -1, renew_at = -1;
static int watchdog_pid;
static struct ev watchdog_ev = {EV_WATCHDOG, -1, NULL, NULL};
static long long watchdog_started;

long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void ev_add(struct ev *e, uint32_t events) {
	struct epoll_event ee = {.events = events, .data.ptr = e};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, e->fd, &ee) < 0 && errno == EEXIST)
		epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ee);
}

void ev_del(struct ev *e) { epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL); }

// Freed only after the batch of events being handled: a later event of the
// same batch may still point at it (it finds kind 0 and is ignored).
static void **deferred;
static int ndeferred, capdeferred;
void defer_free(void *p) {
	if (ndeferred == capdeferred) {
		void **d = realloc(deferred, (capdeferred * 2 + 16) * sizeof *d);
		if (!d)
			exit(1);
		deferred = d, capdeferred = capdeferred * 2 + 16;
	}
	deferred[ndeferred++] = p;
}
static void free_deferred(void) {
	for (int i = 0; i < ndeferred; i++)
		free(deferred[i]);
	ndeferred = 0;
}

// A lost reply is the client's to retry, as with any datagram.
void send_udp(int fd, const uint8_t *b, int n, const struct sockaddr_storage *to, socklen_t tolen) {
	if (n > 0)
		sendto(fd, b, n, MSG_DONTWAIT, (const struct sockaddr *)to, tolen);
}

// ---- TCP connections: queries in order, one at a time, closed when idle.

struct conn {
	struct ev ev;
	struct member *m;
	uint8_t buf[MAX_MSG + 2];
	int len;
	long long deadline; // -1 while a query is being forwarded
	struct conn *link;
};
static struct conn *conns;

static void conn_close(struct conn *c) {
	ev_del(&c->ev);
	close(c->ev.fd);
	c->m->tcpconns--;
	for (struct conn **p = &conns; *p; p = &(*p)->link)
		if (*p == c) {
			*p = c->link;
			break;
		}
	c->ev.kind = 0;
	defer_free(c);
}

void tcp_reply(void *p, const uint8_t *b, int n) {
	struct conn *c = p;
	if (n > 0) {
		uint8_t *msg = malloc(n + 2);
		if (!msg) {
			conn_close(c);
			return;
		}
		msg[0] = n >> 8, msg[1] = n & 0xff;
		memcpy(msg + 2, b, n);
		ssize_t w = send(c->ev.fd, msg, n + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(msg);
		if (w != n + 2) { // a client that does not read its answers is dropped
			conn_close(c);
			return;
		}
	}
	// The next query, if one is waiting, comes with the next round of the
	// loop (epoll is level-triggered): reading it from here would recurse
	// once per query a client pipelines.
	c->deadline = now_ms() + TCP_IDLE_MS;
	ev_add(&c->ev, EPOLLIN);
}

// handle answers one query; for a forward, the reply comes later.
static void handle(struct member *m, const uint8_t *pkt, int n, int udp, const struct sockaddr_storage *peer,
		   socklen_t peerlen, struct conn *c) {
	static uint8_t out[MAX_MSG];
	struct query q;
	int r;
	if (parse_query(pkt, n, &q) < 0)
		r = formerr(pkt, n, out);
	else
		r = answer(m, &q, udp, out);
	if (r < 0) {
		if (c) { // stop reading until the answer is out: queries are answered in order
			c->deadline = -1;
			struct epoll_event ee = {.events = 0, .data.ptr = &c->ev};
			epoll_ctl(epfd, EPOLL_CTL_MOD, c->ev.fd, &ee);
		}
		forward_start(m, &q, udp, peer, peerlen, c);
		return;
	}
	if (udp)
		send_udp(m->udp, out, r, peer, peerlen);
	else
		tcp_reply(c, out, r);
}

static void conn_read(struct conn *c) {
	for (;;) {
		int want = c->len < 2 ? 2 : 2 + (c->buf[0] << 8 | c->buf[1]);
		if (c->len >= 2 && want - 2 < 12) {
			conn_close(c); // not even a header: garbage, and not activity either
			return;
		}
		if (c->len == want) {
			c->len = 0;
			handle(c->m, c->buf + 2, want - 2, 0, NULL, 0, c);
			return;
		}
		ssize_t n = recv(c->ev.fd, c->buf + c->len, want - c->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->len += n;
	}
}

static void tcp_accept(struct member *m) {
	for (;;) {
		int fd = accept4(m->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = m->tcpconns < MAX_TCP_CONNS ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		m->tcpconns++;
		c->ev = (struct ev){EV_TCPC, fd, m, c};
		c->m = m;
		c->deadline = now_ms() + TCP_IDLE_MS;
		c->link = conns, conns = c;
		ev_add(&c->ev, EPOLLIN);
	}
}

static void udp_drain(struct member *m) {
	static uint8_t buf[MAX_UDP_QUERY];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(m->udp, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		handle(m, buf, n, 1, &from, fl, NULL);
	}
}

// ---- members

static void renew_soon(void) {
	if (renew_at < 0)
		renew_at = now_ms() + 20; // one watchdog for a burst of changes
}

static void exit_if_idle(void);

static void serve_member(struct member *m) {
	if (m->udp < 0)
		return;
	struct ev *u = calloc(1, sizeof *u), *t = calloc(1, sizeof *t);
	if (!u || !t)
		exit(1);
	*u = (struct ev){EV_UDP, m->udp, m, NULL};
	*t = (struct ev){EV_TCPL, m->tcp, m, NULL};
	m->evs[1] = u, m->evs[2] = t;
	ev_add(u, EPOLLIN);
	ev_add(t, EPOLLIN);
}

static void drop(struct member *m) {
	forward_drop_member(m);
	for (struct conn *c = conns, *next; c; c = next) {
		next = c->link;
		if (c->m == m)
			conn_close(c);
	}
	// Closing removes the fds from epoll; an event of this batch may still
	// name them, so they are freed after it.
	if (m->udp >= 0) {
		close(m->udp);
		close(m->tcp);
	}
	close(m->pidfd);
	for (struct member **p = &members; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	remove_record(m->id);
	free_entries(m);
	free(m->etext);
	m->udp = m->tcp = -1;
	m->pidfd = -1;
	m->id[0] = 0; // a queued event on it finds it dead
	for (int i = 0; i < 3; i++)
		if (m->evs[i]) {
			m->evs[i]->kind = 0;
			defer_free(m->evs[i]);
		}
	defer_free(m);
}

static struct member *find(const char *id) {
	for (struct member *m = members; m; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

static int add(struct member *m) {
	struct ev *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	*e = (struct ev){EV_PIDFD, m->pidfd, m, NULL};
	struct epoll_event ee = {.events = EPOLLIN, .data.ptr = e};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, m->pidfd, &ee) < 0) {
		free(e);
		return -1;
	}
	m->evs[0] = e;
	m->next = members, members = m;
	return 0;
}

static int local_port(int fd) {
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0 || a.sin_family != AF_INET ||
	    a.sin_addr.s_addr != inet_addr(RESOLVER_ADDR))
		return -1;
	return ntohs(a.sin_port);
}

// listen_in opens a container's sockets inside its namespace, then comes
// home; a resolver that cannot come home must not serve anyone from there.
static int listen_in(int netns, int uport, int tport, int *udp, int *tcp, char *err, size_t errlen) {
	*udp = *tcp = -1;
	if (setns(netns, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "enter the container's network: %s", strerror(errno));
		return -1;
	}
	int rc = -1;
	// The init brings lo up too, but maybe not yet: 127.0.0.11 must be
	// local before anything is bound to it. The flag is set even when it
	// reads as up: the init may be bringing lo up right now, and the flag
	// shows before lo has 127.0.0.1/8; the set waits for the RTNL lock that
	// change holds, so after it the address can be bound (as link.LoopbackUp).
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(err, errlen, "bring up lo: %s", strerror(errno));
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		snprintf(err, errlen, "bring up lo: %s", strerror(errno));
		goto out;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = inet_addr(RESOLVER_ADDR)};
	int one = 1;
	*udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_port = htons(uport);
	if (*udp < 0 || bind(*udp, (struct sockaddr *)&a, sizeof a) < 0) {
		snprintf(err, errlen, "listen udp %s:%d: %s", RESOLVER_ADDR, uport, strerror(errno));
		goto out;
	}
	*tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_port = htons(tport);
	if (*tcp < 0 || setsockopt(*tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(*tcp, (struct sockaddr *)&a, sizeof a) < 0 || listen(*tcp, 4096) < 0) {
		snprintf(err, errlen, "listen tcp %s:%d: %s", RESOLVER_ADDR, tport, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (s >= 0)
		close(s);
	if (rc < 0) {
		if (*udp >= 0)
			close(*udp);
		if (*tcp >= 0)
			close(*tcp);
		*udp = *tcp = -1;
	}
	if (setns(home, CLONE_NEWNET) < 0)
		_exit(1);
	return rc;
}

static void set_ports(struct member *m) {
	m->udp_port = m->udp >= 0 ? local_port(m->udp) : 0;
	m->tcp_port = m->tcp >= 0 ? local_port(m->tcp) : 0;
}

// redirect moves a restored container's port-53 redirect to new ports: the
// nft part is Go's (`hutch _dns-redirect`, a process of its own for this
// rare case), run with the namespace as fd 3.
static int redirect(int netns, int uport, int tport) {
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (dup2(netns, 3) < 0)
			_exit(1);
		char u[16], t[16];
		snprintf(u, sizeof u, "%d", uport), snprintf(t, sizeof t, "%d", tport);
		char *argv[] = {"/proc/self/exe", "_dns-redirect", u, t, NULL};
		char *envp[] = {NULL};
		execve("/proc/self/exe", argv, envp);
		_exit(1);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

// ---- restoring the members of a resolver before this one

static char *inherited; // _HUTCH_DNS_SOCKETS: ID:UDPFD:TCPFD,...

static int take_inherited(const char *id, int fds[2]) {
	if (!inherited)
		return 0;
	size_t il = strlen(id);
	for (char *p = inherited; *p;) {
		char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		int u, t;
		if (l > il && strncmp(p, id, il) == 0 && p[il] == ':' && sscanf(p + il, ":%d:%d", &u, &t) == 2 && u > 2 &&
		    t > 2) {
			fds[0] = u, fds[1] = t;
			memset(p, ',', l); // taken: what stays in the list is closed at the end
			return 1;
		}
		p += l + (end ? 1 : 0);
	}
	return 0;
}

static void close_inherited(void) {
	if (!inherited)
		return;
	for (char *p = inherited; *p;) {
		char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		char *c = memchr(p, ':', l);
		int u, t;
		if (c && sscanf(c, ":%d:%d", &u, &t) == 2 && u > 2 && t > 2)
			close(u), close(t);
		p += l + (end ? 1 : 0);
	}
}

// restore serves again the container of a record if its init still runs:
// with the sockets the watchdog held for it, else the ports its redirect
// points at, else new ports and a new redirect, else none (its names still
// count for the others).
static void restore(char *text) {
	char id[80];
	int pid = 0, uport = 0, tport = 0;
	unsigned long long start = 0;
	if (sscanf(text, "id %79s\npid %d %llu\nports %d %d", id, &pid, &start, &uport, &tport) != 5 || pid <= 0)
		goto gone_noid;
	int fds[2] = {-1, -1}, udp = -1, tcp = -1;
	if (take_inherited(id, fds)) {
		fcntl(fds[0], F_SETFD, FD_CLOEXEC), fcntl(fds[1], F_SETFD, FD_CLOEXEC);
		if (local_port(fds[0]) == uport && local_port(fds[1]) == tport) {
			udp = fds[0], tcp = fds[1];
			fcntl(udp, F_SETFL, O_NONBLOCK), fcntl(tcp, F_SETFL, O_NONBLOCK);
		} else {
			close(fds[0]), close(fds[1]);
		}
	}
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
	// Checked after the open: the pidfd and the namespace are those of the
	// recorded process, not of one that got its pid since.
	int ns = pidfd >= 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (ns < 0 || proc_start(pid) != start) {
		if (ns >= 0)
			close(ns);
		if (pidfd >= 0)
			close(pidfd);
		if (udp >= 0)
			close(udp), close(tcp);
		remove_record(id);
		return;
	}
	struct member *m = calloc(1, sizeof *m);
	if (!m)
		exit(1);
	snprintf(m->id, sizeof m->id, "%s", id);
	m->pid = pid, m->pidstart = start, m->pidfd = pidfd;
	m->udp = udp, m->tcp = tcp;
	parse_entries(m, text, 1);
	char err[256];
	if (m->udp < 0 && listen_in(ns, uport, tport, &m->udp, &m->tcp, err, sizeof err) < 0) {
		if (listen_in(ns, 0, 0, &m->udp, &m->tcp, err, sizeof err) == 0 &&
		    redirect(ns, local_port(m->udp), local_port(m->tcp)) < 0) {
			close(m->udp), close(m->tcp);
			m->udp = m->tcp = -1;
		}
		set_ports(m);
		save_record(m);
	}
	set_ports(m);
	close(ns);
	if (add(m) < 0) {
		if (m->udp >= 0)
			close(m->udp), close(m->tcp);
		close(pidfd);
		free(m);
	}
	return;
gone_noid:;
	// A record without its header cannot name its container: load_records
	// only hands over those that start with their own id, so this is a
	// damaged one.
	char bad[80];
	if (sscanf(text, "id %79s", bad) == 1)
		remove_record(bad);
}

// ---- the watchdog (watchdog.c): holds copies of every member's sockets

static void renew_watchdog(void) {
	renew_at = -1;
	int n = 0;
	for (struct member *m = members; m; m = m->next)
		n += m->udp >= 0;
	int *copies = calloc(2 * n + 1, sizeof *copies);
	char *list = calloc(n + 1, 100);
	if (!copies || !list)
		exit(1);
	int k = 0;
	size_t ll = 0;
	// Copies above the targets 4.. so that placing them overlaps nothing.
	for (struct member *m = members; m; m = m->next) {
		if (m->udp < 0)
			continue;
		copies[2 * k] = fcntl(m->udp, F_DUPFD_CLOEXEC, 4 + 2 * n);
		copies[2 * k + 1] = fcntl(m->tcp, F_DUPFD_CLOEXEC, 4 + 2 * n);
		ll += snprintf(list + ll, 100, "%s%s:%d:%d", k ? "," : "", m->id, 4 + 2 * k, 5 + 2 * k);
		k++;
	}
	char e1[4300], e2[32], e3[64], *e4 = malloc(ll + 32);
	const char *quick = getenv("_HUTCH_DNS_QUICK");
	snprintf(e1, sizeof e1, "_HUTCH_DNS_WATCH=%s", dir);
	snprintf(e2, sizeof e2, "_HUTCH_DNS_WATCH_PID=%d", getpid());
	snprintf(e3, sizeof e3, "_HUTCH_DNS_QUICK=%s", quick ? quick : "");
	if (e4)
		sprintf(e4, "_HUTCH_DNS_SOCKETS=%s", list);
	pid_t pid = e4 ? fork() : -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		for (int fd = 0; fd < 4; fd++)
			dup2(null, fd);
		for (int i = 0; i < 2 * k; i++)
			dup2(copies[i], 4 + i);
		char *argv[] = {"/proc/self/exe", "_dns-watch", (char *)dir, NULL};
		char *envp[] = {e1, e2, e3, e4, NULL};
		execve("/proc/self/exe", argv, envp);
		_exit(125);
	}
	for (int i = 0; i < 2 * k; i++)
		if (copies[i] >= 0)
			close(copies[i]);
	free(copies), free(list), free(e4);
	if (pid < 0) {
		renew_at = now_ms() + 1000;
		return;
	}
	if (watchdog_pid > 0) { // the old one ends once the new one runs
		ev_del(&watchdog_ev);
		close(watchdog_ev.fd);
		kill(watchdog_pid, SIGKILL);
		waitpid(watchdog_pid, NULL, 0);
	}
	watchdog_pid = pid;
	watchdog_started = now_ms();
	watchdog_ev.fd = syscall(SYS_pidfd_open, pid, 0);
	if (watchdog_ev.fd >= 0) {
		fcntl(watchdog_ev.fd, F_SETFD, FD_CLOEXEC);
		ev_add(&watchdog_ev, EPOLLIN);
	}
}

// watchdog_died starts another, not sooner than a second after the last:
// no loop that burns a core.
static void watchdog_died(void) {
	ev_del(&watchdog_ev);
	close(watchdog_ev.fd);
	watchdog_ev.fd = -1;
	waitpid(watchdog_pid, NULL, WNOHANG);
	watchdog_pid = 0;
	long long at = watchdog_started + 1000, now = now_ms();
	renew_at = at > now ? at : now;
}

// exit_if_idle ends the process when it serves nobody. The socket goes
// first: a monitor that comes later starts a new resolver.
static void exit_if_idle(void) {
	if (members)
		return;
	unlink(sockpath);
	close(ctl);
	if (watchdog_pid > 0)
		kill(watchdog_pid, SIGKILL);
	_exit(0);
}

// ---- the control socket: "register ID" (with the netns and pidfd) and
// "update ID", then the lines of parse_entries.

static void reply(int c, const char *s) { send(c, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL); }

static void request(int c) {
	ssize_t size = recv(c, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (size <= 0)
		return;
	char *buf = malloc(size + 1);
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	if (!buf)
		return;
	struct iovec iov = {buf, size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	ssize_t n = recvmsg(c, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fds[2] = {-1, -1}, nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n > 0 && cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int *p = (int *)CMSG_DATA(cm), k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k; i++) {
				if (nfds < 2)
					fds[nfds] = p[i];
				else
					close(p[i]);
				nfds++;
			}
		}
	if (n <= 0) {
		free(buf);
		goto out;
	}
	buf[n] = 0;
	char op[16], id[80];
	char resp[128] = "error bad request\n";
	if (sscanf(buf, "%15s %79s", op, id) != 2 || strchr(id, '/') || strchr(id, '.')) {
		reply(c, resp);
		free(buf);
		goto out;
	}
	char *rest = strchr(buf, '\n');
	rest = rest ? rest + 1 : buf + n;
	if (strcmp(op, "update") == 0) {
		struct member *m = find(id);
		if (!m) {
			reply(c, "unknown\n");
		} else if (parse_entries(m, rest, 0) < 0 || save_record(m) < 0) {
			reply(c, "error record: cannot save\n");
		} else {
			reply(c, "ok\n");
		}
		free(buf);
		goto out;
	}
	if (strcmp(op, "register") != 0 || nfds != 2) {
		reply(c, strcmp(op, "register") ? "error unknown op\n" : "error register needs a netns and a pidfd\n");
		free(buf);
		goto out;
	}
	struct member *old = find(id);
	if (old) // a restart whose exit we have not seen yet
		drop(old);
	// The init's pid and start time, read while the pidfd says it is the
	// same process, are how a later resolver finds it again.
	int pid = pidfd_pid(fds[1]);
	unsigned long long start = proc_start(pid);
	if (pidfd_pid(fds[1]) != pid)
		start = 0;
	struct member *m = calloc(1, sizeof *m);
	char err[256];
	if (!m || listen_in(fds[0], 0, 0, &m->udp, &m->tcp, err, sizeof err) < 0) {
		snprintf(resp, sizeof resp, "error %s\n", m ? err : "out of memory");
		reply(c, resp);
		free(m), free(buf);
		goto out;
	}
	snprintf(m->id, sizeof m->id, "%s", id);
	m->pid = pid, m->pidstart = start, m->pidfd = fds[1];
	fds[1] = -1;
	parse_entries(m, rest, 1);
	free(buf);
	set_ports(m);
	if (add(m) < 0) {
		close(m->udp), close(m->tcp), close(m->pidfd);
		free_entries(m), free(m);
		reply(c, "error watch container\n");
		goto out;
	}
	// Saved before the answer: a registration the monitor saw succeed
	// survives this process. (An init already gone has no record to save;
	// its pidfd drops it at once.)
	if (start && save_record(m) < 0) {
		drop(m);
		reply(c, "error record: cannot save\n");
		goto out;
	}
	serve_member(m);
	snprintf(resp, sizeof resp, "ok %d %d\n", m->udp_port, m->tcp_port);
	reply(c, resp);
	renew_soon();
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

// A control connection is answered when its request arrives, or closed
// after 5 s without one.
struct ctlconn {
	struct ev ev;
	long long deadline;
	struct ctlconn *link;
};
static struct ctlconn *ctlconns;

static void ctl_close(struct ctlconn *cc) {
	ev_del(&cc->ev);
	close(cc->ev.fd);
	for (struct ctlconn **p = &ctlconns; *p; p = &(*p)->link)
		if (*p == cc) {
			*p = cc->link;
			break;
		}
	cc->ev.kind = 0;
	defer_free(cc);
}

// ---- lock and main loop

// lock_or_defer takes the root's lock (an flock on dir), unless another
// resolver holds it and answers on the socket: then 1. One that holds it
// without answering is starting up or exiting: wait.
static int lock_or_defer(void) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sockpath);
	for (long long end = now_ms() + 5000; now_ms() < end;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0; // held for the life of the process
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(s), close(fd);
			return 1;
		}
		if (s >= 0)
			close(s);
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	close(fd);
	return -1;
}

static void say(const char *s) {
	if (write(3, s, strlen(s)) < 0) {
	}
}

static void serve(const char *d) {
	dir = d;
	snprintf(sockpath, sizeof sockpath, "%s/resolver.sock", dir);
	signal(SIGPIPE, SIG_IGN);
	int l = lock_or_defer();
	if (l < 0) {
		dprintf(3, "lock %s: %s\n", dir, strerror(errno));
		_exit(1);
	}
	if (l == 1) { // another resolver of this root serves: let the caller use it
		say("ok\n");
		_exit(0);
	}
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (home < 0 || epfd < 0) {
		dprintf(3, "resolver: %s\n", strerror(errno));
		_exit(1);
	}
	// Every container a resolver before this one served, before anything
	// else: a query (or a registration) must never find it unknown.
	char *env = getenv("_HUTCH_DNS_SOCKETS");
	inherited = env ? strdup(env) : NULL;
	load_records(restore);
	close_inherited(); // those of containers gone meanwhile: their namespaces must go
	for (struct member *m = members; m; m = m->next)
		serve_member(m);
	unlink(sockpath); // left by a resolver that crashed
	if (getenv("_HUTCH_DNS_QUICK") && !members)
		_exit(0); // started by a watchdog for containers that are all gone since
	ctl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sockpath);
	if (ctl < 0 || bind(ctl, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ctl, 4096) < 0) {
		dprintf(3, "listen %s: %s\n", sockpath, strerror(errno));
		_exit(1);
	}
	struct ev ctl_ev = {EV_CTRL, ctl, NULL, NULL};
	ev_add(&ctl_ev, EPOLLIN);
	// Started for a container that then failed to register: do not linger.
	idle_exit_at = now_ms() + 10000;
	say("ok\n");
	close(3); // before the watchdog: it must not hold the ready pipe
	renew_watchdog();
	struct epoll_event evs[64];
	for (;;) {
		long long now = now_ms(), next = -1;
		long long ds[3] = {forward_next_deadline(), renew_at, idle_exit_at};
		for (int i = 0; i < 3; i++)
			if (ds[i] >= 0 && (next < 0 || ds[i] < next))
				next = ds[i];
		for (struct conn *c = conns; c; c = c->link)
			if (c->deadline >= 0 && (next < 0 || c->deadline < next))
				next = c->deadline;
		for (struct ctlconn *cc = ctlconns; cc; cc = cc->link)
			if (next < 0 || cc->deadline < next)
				next = cc->deadline;
		int timeout = next < 0 ? -1 : next > now ? (int)(next - now) : 0;
		int n = epoll_wait(epfd, evs, 64, timeout);
		for (int i = 0; i < n; i++) {
			struct ev *e = evs[i].data.ptr;
			switch (e->kind) {
			case EV_CTRL:
				for (int c; (c = accept4(ctl, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
					struct ctlconn *cc = calloc(1, sizeof *cc);
					if (!cc) {
						close(c);
						continue;
					}
					cc->ev = (struct ev){EV_CTRL + 100, c, NULL, cc};
					cc->deadline = now_ms() + 5000;
					cc->link = ctlconns, ctlconns = cc;
					ev_add(&cc->ev, EPOLLIN);
				}
				break;
			case EV_CTRL + 100:
				request(e->fd);
				ctl_close(e->p);
				break;
			case EV_UDP:
				if (e->m->id[0] && e->fd == e->m->udp)
					udp_drain(e->m);
				break;
			case EV_TCPL:
				if (e->m->id[0] && e->fd == e->m->tcp)
					tcp_accept(e->m);
				break;
			case EV_TCPC:
				conn_read(e->p);
				break;
			case EV_FWD:
				forward_event(e->p, evs[i].events);
				break;
			case EV_PIDFD:
				if (e->m->id[0] && e->fd == e->m->pidfd) {
					epoll_ctl(epfd, EPOLL_CTL_DEL, e->fd, NULL);
					drop(e->m);
					exit_if_idle();
					renew_soon();
				}
				break;
			case EV_WATCHDOG:
				watchdog_died();
				break;
			}
		}
		now = now_ms();
		forward_timeouts(now);
		for (struct conn *c = conns, *next_c; c; c = next_c) {
			next_c = c->link;
			if (c->deadline >= 0 && c->deadline <= now)
				conn_close(c);
		}
		for (struct ctlconn *cc = ctlconns, *next_cc; cc; cc = next_cc) {
			next_cc = cc->link;
			if (cc->deadline <= now)
				ctl_close(cc);
		}
		if (idle_exit_at >= 0 && idle_exit_at <= now) {
			idle_exit_at = -1;
			exit_if_idle();
		}
		free_deferred();
		if (renew_at >= 0 && renew_at <= now)
			renew_watchdog();
	}
}

// hutch_resolver_serve runs the resolver when the environment says so
// (_HUTCH_DNS_SERVE=DIR, set by whoever starts `hutch _dns-serve DIR`: an
// environment variable costs every other start of the binary nothing,
// unlike reading its command line); it does not return then.
void hutch_resolver_serve(void) {
	const char *d = getenv("_HUTCH_DNS_SERVE");
	if (!d || !*d)
		return;
	serve(strdup(d));
	_exit(0);
}
