// Entry points for the Go unit tests (answer.go): the pure parts of the
// resolver, driven without sockets.
#include "resolver.h"
#include <stdlib.h>
#include <string.h>

// hutch_check_answer answers pkt for the first of the members in text
// (their "e ..." lines, members separated by "--" lines), as the resolver
// would over UDP or TCP. It returns the reply's length, 0 for none, -1 for
// "forward".
int hutch_check_answer(const char *text, const uint8_t *pkt, int len, int udp, uint8_t *out) {
	char *copy = strdup(text);
	struct member *saved = members, *first = NULL, **tail = &first;
	for (char *p = copy; p;) {
		char *sep = strstr(p, "--\n");
		if (sep)
			*sep = 0;
		struct member *m = calloc(1, sizeof *m);
		parse_entries(m, p, 1);
		*tail = m, tail = &m->next;
		p = sep ? sep + 3 : NULL;
	}
	members = first;
	struct query q;
	int r = parse_query(pkt, len, &q) < 0 ? formerr(pkt, len, out) : answer(first, &q, udp, out);
	members = saved;
	for (struct member *m = first, *next; m; m = next) {
		next = m->next;
		free_entries(m);
		free(m->etext);
		free(m);
	}
	free(copy);
	return r;
}

// hutch_check_fit sizes an upstream's reply to the query as the resolver
// would; -1 if the reply does not parse.
int hutch_check_fit(const uint8_t *reply, int rlen, const uint8_t *pkt, int len, int udp, uint8_t *out) {
	struct query q;
	if (parse_query(pkt, len, &q) < 0)
		return -1;
	uint8_t *copy = malloc(rlen);
	memcpy(copy, reply, rlen);
	int r = fit_reply(copy, rlen, &q, udp ? udp_limit(&q) : MAX_MSG, out);
	free(copy);
	return r;
}
