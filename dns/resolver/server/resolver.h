// Shared declarations of the C resolver (see server.go for the overview).
#ifndef HUTCH_RESOLVER_H
#define HUTCH_RESOLVER_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/epoll.h>

#define MAX_UPSTREAMS 3      // like glibc's MAXNS: more are ignored
#define FWD_TIMEOUT_MS 2000  // per upstream attempt
#define MAX_INFLIGHT 64      // forwarded queries at once per member; past it SERVFAIL
#define MAX_TCP_CONNS 128    // per member listener; more are closed at once
#define TCP_IDLE_MS 10000    // a connection with no complete query for this long is closed
#define MAX_UDP_QUERY 4096   // a larger datagram is read cut short: FORMERR
#define MAX_UDP_SIZE 4096    // largest UDP reply, and the size our OPT advertises
#define MIN_MSG 512
#define MAX_MSG 65535

// One name of a container on one network, as wire-format labels in lower
// case: how a query's name is compared (DNS canonical form).
struct name {
	uint8_t wire[256];
	int len;
};

struct entry {
	char *network;
	int family; // AF_INET or AF_INET6
	uint8_t ip[16];
	struct name *names; // each name, and each name.network
	int nnames;
	char ptr[256]; // the first valid name, fully qualified: the PTR target ("" none)
	struct name rev; // the address's in-addr.arpa / ip6.arpa name
};

struct member;

// A parsed query: what answering and forwarding need of it.
struct query {
	const uint8_t *pkt;
	int len;
	int qdcount;
	int qname_off, qname_end; // the question's name in pkt (may hold pointers)
	uint8_t qname[256];       // the question's name uncompressed, as sent
	int qname_len;
	uint16_t qtype, qclass;
	int has_opt, opt_count, opt_bad_owner;
	uint16_t opt_size;
	uint8_t opt_version;
	int opt_do;
};

// wire.c
int parse_query(const uint8_t *pkt, int len, struct query *q); // 0 ok, -1 does not unpack
int formerr(const uint8_t *pkt, int len, uint8_t *out);          // header-only FORMERR, 0: none
int udp_limit(const struct query *q);
// answer: >0 reply length in out, 0 send nothing, -1 forward.
int answer(const struct member *asker, const struct query *q, int udp, uint8_t *out);
int servfail(const struct query *q, int udp, uint8_t *out);
// fit_reply sizes an upstream's reply to the client (OPT, truncation);
// returns the new length or -1 if it does not parse.
int fit_reply(uint8_t *msg, int len, const struct query *q, int limit, uint8_t *out);
int name_from_wire(const uint8_t *pkt, int len, int off, uint8_t *out, int *outlen, int *end);
int name_to_wire(const char *s, uint8_t *out); // length, or -1 if not a valid name
void lower_wire(uint8_t *w, int len);

struct ev;

// members.c
struct member {
	char id[80];
	struct entry *entries;
	int nentries;
	char upstreams[MAX_UPSTREAMS][64];
	int nupstreams;
	char upline[1024]; // upstreams as registered, for the record
	char *etext;       // the entry lines as registered, for the record
	int udp, tcp, pidfd;
	int pid;
	unsigned long long pidstart;
	int udp_port, tcp_port;
	int inflight, tcpconns;
	struct ev *evs[3]; // pidfd, udp, tcp in the loop
	struct member *next;
};
extern struct member *members;
extern const char *dir;
// parse_entries reads "e NET IP NAME..." lines, and "up ADDR" lines too if
// with_upstreams (an update keeps the registration's upstreams).
int parse_entries(struct member *m, char *text, int with_upstreams);
void free_entries(struct member *m);
int save_record(const struct member *m);
void remove_record(const char *id);
void load_records(void (*each)(char *text));
int pidfd_pid(int pidfd);
unsigned long long proc_start(int pid);
int nets_shared(const struct member *a, const char *network);

// forward.c
void forward_start(struct member *m, const struct query *q, int udp, const struct sockaddr_storage *peer,
		   socklen_t peerlen, void *tcpconn);
void forward_event(void *f, uint32_t events);
void forward_drop_member(struct member *m);
void forward_timeouts(long long now);
long long forward_next_deadline(void);

// main.c
extern int epfd;
long long now_ms(void);
void send_udp(int fd, const uint8_t *b, int n, const struct sockaddr_storage *to, socklen_t tolen);
void tcp_reply(void *conn, const uint8_t *b, int n); // and resume reading the connection
enum { EV_CTRL = 1, EV_UDP, EV_TCPL, EV_TCPC, EV_PIDFD, EV_FWD, EV_WATCHDOG };
struct ev {
	int kind;
	int fd;
	struct member *m;
	void *p;
};
void ev_add(struct ev *e, uint32_t events);
void ev_del(struct ev *e);
void defer_free(void *p);
#endif
