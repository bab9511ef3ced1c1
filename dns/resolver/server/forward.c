// Forwarding: a name the view does not know goes to the member's upstreams
// in order, over the client's transport, each within FWD_TIMEOUT_MS; the
// next is tried on a timeout, a network error, a reply that does not parse,
// SERVFAIL or REFUSED; if all fail the client gets SERVFAIL. Each forward is
// a socket in the main loop: nothing blocks, nothing waits without bound.
#include "resolver.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

struct fwd {
	struct ev ev; // the upstream socket
	struct member *m;
	uint8_t *q;    // what goes upstream: the client's query with our id
	uint8_t *orig; // the client's query as it came
	int qlen;
	struct query query;
	int udp;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	void *conn;
	int next;     // the upstream to try after this one
	uint16_t id;  // the upstream's own random id: the client's is predictable in the container
	long long deadline;
	int connected, rlen;
	uint8_t *rbuf; // TCP: the framed reply being read
	struct fwd *link;
};

static struct fwd *fwds;

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8, p[1] = v & 0xff; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void finish(struct fwd *f, const uint8_t *out, int n) {
	if (n > 0) {
		if (f->udp)
			send_udp(f->m->udp, out, n, &f->peer, f->peerlen);
		else
			tcp_reply(f->conn, out, n);
	} else if (!f->udp) {
		tcp_reply(f->conn, NULL, 0);
	}
	if (f->ev.fd >= 0) {
		ev_del(&f->ev);
		close(f->ev.fd);
	}
	f->m->inflight--;
	for (struct fwd **p = &fwds; *p; p = &(*p)->link)
		if (*p == f) {
			*p = f->link;
			break;
		}
	free(f->rbuf), free(f->q), free(f->orig);
	f->ev.kind = 0;
	defer_free(f);
}

static void fail(struct fwd *f) {
	static uint8_t out[MAX_MSG];
	finish(f, out, servfail(&f->query, f->udp, out));
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -1;
	int port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -1;
	size_t hl = colon - s;
	if (s[0] == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return -1;
		s++, hl -= 2;
	}
	if (hl >= sizeof host)
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET, a4->sin_port = htons(port), *len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6, a6->sin6_port = htons(port), *len = sizeof *a6;
		return 0;
	}
	return -1; // never a host name: resolving it would ask the host's resolver
}

// try_next starts the next upstream's attempt, or fails the forward.
static void try_next(struct fwd *f) {
	if (f->ev.fd >= 0) {
		ev_del(&f->ev);
		close(f->ev.fd);
		f->ev.fd = -1;
	}
	free(f->rbuf);
	f->rbuf = NULL, f->rlen = 0, f->connected = 0;
	while (f->next < f->m->nupstreams) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (parse_addr(f->m->upstreams[f->next++], &ss, &sl) < 0)
			continue;
		int fd = socket(ss.ss_family, (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		getrandom(&f->id, sizeof f->id, 0);
		put16(f->q, f->id);
		if (f->udp && send(fd, f->q, f->qlen, MSG_DONTWAIT) < 0) {
			close(fd);
			continue;
		}
		f->ev.fd = fd;
		f->deadline = now_ms() + FWD_TIMEOUT_MS;
		ev_add(&f->ev, f->udp ? EPOLLIN : EPOLLOUT);
		return;
	}
	fail(f);
}

// check says what to do with a reply: 1 deliver, 0 skip it (a stray
// datagram), -1 next upstream.
static int check(struct fwd *f, uint8_t *b, int n, int *outlen, uint8_t *out) {
	if (n < 12 || get16(b) != f->id || !(b[2] & 0x80))
		return f->udp ? 0 : -1;
	int limit = f->udp ? udp_limit(&f->query) : MAX_MSG;
	int qd = get16(b + 4);
	if (qd > 1)
		return f->udp ? 0 : -1;
	if (qd == 1) {
		uint8_t nm[256], want[256];
		int nl, end;
		if (name_from_wire(b, n, 12, nm, &nl, &end) < 0 || end + 4 > n) {
			if (!(b[2] & 2))
				return -1;
			goto truncated;
		}
		memcpy(want, f->query.qname, f->query.qname_len);
		lower_wire(want, f->query.qname_len);
		lower_wire(nm, nl);
		if (nl != f->query.qname_len || memcmp(nm, want, nl) || get16(b + end) != f->query.qtype ||
		    get16(b + end + 2) != f->query.qclass)
			return f->udp ? 0 : -1;
	}
	int rcode = b[3] & 0xf;
	if (rcode == 2 || rcode == 5)
		return -1;
	*outlen = fit_reply(b, n, &f->query, limit, out);
	if (*outlen < 0) {
		if (!(b[2] & 2))
			return -1;
	truncated:
		// Cut mid-record by the upstream: the header with TC and the
		// question is all the client needs to retry over TCP.
		memcpy(out, b, 4);
		memset(out + 4, 0, 8);
		int o = 12;
		if (f->query.qdcount) {
			put16(out + 4, 1);
			memcpy(out + 12, f->query.qname, f->query.qname_len);
			o += f->query.qname_len;
			put16(out + o, f->query.qtype), put16(out + o + 2, f->query.qclass);
			o += 4;
		}
		*outlen = o;
	}
	memcpy(out, f->query.pkt, 2); // the client's id
	return 1;
}

void forward_event(void *p, uint32_t events) {
	struct fwd *f = p;
	static uint8_t buf[MAX_MSG + 2], out[MAX_MSG + 2];
	int outlen;
	if (f->udp) {
		for (;;) {
			ssize_t n = recv(f->ev.fd, buf, sizeof buf, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				try_next(f);
				return;
			}
			int r = check(f, buf, n, &outlen, out);
			if (r == 0)
				continue;
			if (r < 0)
				try_next(f);
			else
				finish(f, out, outlen);
			return;
		}
	}
	if (!f->connected) {
		int err = 0;
		socklen_t el = sizeof err;
		if (!(events & EPOLLOUT) || getsockopt(f->ev.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			try_next(f);
			return;
		}
		uint8_t len[2];
		put16(len, f->qlen);
		struct iovec iov[2] = {{len, 2}, {f->q, f->qlen}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		if (sendmsg(f->ev.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != f->qlen + 2) {
			try_next(f);
			return;
		}
		f->connected = 1;
		f->rbuf = malloc(MAX_MSG + 2);
		if (!f->rbuf) {
			try_next(f);
			return;
		}
		ev_del(&f->ev);
		ev_add(&f->ev, EPOLLIN);
		return;
	}
	for (;;) {
		int want = f->rlen < 2 ? 2 : 2 + get16(f->rbuf);
		ssize_t n = recv(f->ev.fd, f->rbuf + f->rlen, want - f->rlen, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			try_next(f);
			return;
		}
		f->rlen += n;
		if (f->rlen >= 2 && f->rlen == 2 + get16(f->rbuf)) {
			int r = check(f, f->rbuf + 2, f->rlen - 2, &outlen, out);
			if (r <= 0)
				try_next(f);
			else
				finish(f, out, outlen);
			return;
		}
	}
}

void forward_start(struct member *m, const struct query *q, int udp, const struct sockaddr_storage *peer,
		   socklen_t peerlen, void *conn) {
	static uint8_t out[MAX_MSG];
	struct fwd *f = NULL;
	if (m->inflight < MAX_INFLIGHT && q->qdcount > 0 && (f = calloc(1, sizeof *f))) {
		f->q = malloc(q->len), f->orig = malloc(q->len);
		if (!f->q || !f->orig) {
			free(f->q), free(f->orig), free(f);
			f = NULL;
		}
	}
	if (!f) { // no slot: SERVFAIL at once rather than queue without bound
		int n = servfail(q, udp, out);
		if (udp)
			send_udp(m->udp, out, n, peer, peerlen);
		else
			tcp_reply(conn, out, n);
		return;
	}
	m->inflight++;
	f->ev.kind = EV_FWD, f->ev.fd = -1, f->ev.m = m, f->ev.p = f;
	f->m = m, f->udp = udp, f->conn = conn;
	memcpy(f->q, q->pkt, q->len);
	memcpy(f->orig, q->pkt, q->len);
	f->qlen = q->len;
	parse_query(f->orig, f->qlen, &f->query);
	if (peer)
		f->peer = *peer, f->peerlen = peerlen;
	f->link = fwds, fwds = f;
	try_next(f);
}

// forward_drop_member ends m's forwards without an answer: its sockets are
// closing.
void forward_drop_member(struct member *m) {
	for (struct fwd **p = &fwds; *p;) {
		struct fwd *f = *p;
		if (f->m != m) {
			p = &f->link;
			continue;
		}
		*p = f->link;
		if (f->ev.fd >= 0) {
			ev_del(&f->ev);
			close(f->ev.fd);
		}
		m->inflight--;
		free(f->rbuf), free(f->q), free(f->orig);
		f->ev.kind = 0;
		defer_free(f);
	}
}

void forward_timeouts(long long now) {
	for (int again = 1; again;) {
		again = 0;
		for (struct fwd *f = fwds; f; f = f->link)
			if (f->ev.fd >= 0 && f->deadline <= now) {
				try_next(f); // may free f: walk the list again
				again = 1;
				break;
			}
	}
}

long long forward_next_deadline(void) {
	long long d = -1;
	for (struct fwd *f = fwds; f; f = f->link)
		if (f->ev.fd >= 0 && (d < 0 || f->deadline < d))
			d = f->deadline;
	return d;
}
