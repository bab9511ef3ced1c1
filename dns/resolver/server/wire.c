// DNS wire format: parsing a query, building local answers, and sizing a
// reply to its transport (one OPT if the query had one, truncation with TC).
#include "resolver.h"
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8, p[1] = v & 0xff; }

void lower_wire(uint8_t *w, int len) {
	for (int i = 0; i < len;) {
		int l = w[i++];
		for (int j = 0; j < l && i < len; j++, i++)
			if (w[i] >= 'A' && w[i] <= 'Z')
				w[i] += 32;
	}
}

// name_from_wire reads the name at off (following compression pointers)
// into out, uncompressed; *end is where it ends in the message. -1: not a
// valid name (a loop, a label type other than a pointer, over 255 bytes).
int name_from_wire(const uint8_t *pkt, int len, int off, uint8_t *out, int *outlen, int *end) {
	int n = 0, hops = 0;
	*end = -1;
	for (;;) {
		if (off >= len)
			return -1;
		int l = pkt[off];
		if ((l & 0xc0) == 0xc0) {
			if (off + 1 >= len || ++hops > 64)
				return -1;
			if (*end < 0)
				*end = off + 2;
			off = (l & 0x3f) << 8 | pkt[off + 1];
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (n + l + 1 > 255 || off + 1 + l > len)
			return -1;
		memcpy(out + n, pkt + off, l + 1);
		n += l + 1;
		off += l + 1;
		if (l == 0)
			break;
	}
	if (*end < 0)
		*end = off;
	*outlen = n;
	return 0;
}

// name_to_wire packs a dotted name (no escapes: hutch's names have none)
// fully qualified; -1 if it is empty, has an empty or over-long label, or
// is over 255 bytes.
int name_to_wire(const char *s, uint8_t *out) {
	int n = 0;
	size_t sl = strlen(s);
	if (sl && s[sl - 1] == '.')
		sl--;
	if (sl == 0)
		return -1;
	size_t i = 0;
	while (i < sl) {
		size_t j = i;
		while (j < sl && s[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0 || l > 63 || n + (int)l + 2 > 255)
			return -1;
		out[n++] = (uint8_t)l;
		memcpy(out + n, s + i, l);
		n += l;
		i = j + 1;
	}
	out[n++] = 0;
	return n;
}

// skip_rr moves past one resource record; it reports the record's type,
// class, ttl and owner (uncompressed) for the OPT checks.
static int skip_rr(const uint8_t *pkt, int len, int *off, uint16_t *type, uint16_t *class, uint32_t *ttl,
		   int *ownerlen) {
	uint8_t owner[256];
	int end;
	if (name_from_wire(pkt, len, *off, owner, ownerlen, &end) < 0 || end + 10 > len)
		return -1;
	*type = get16(pkt + end);
	*class = get16(pkt + end + 2);
	*ttl = (uint32_t)get16(pkt + end + 4) << 16 | get16(pkt + end + 6);
	int rdlen = get16(pkt + end + 8);
	if (end + 10 + rdlen > len)
		return -1;
	*off = end + 10 + rdlen;
	return 0;
}

int parse_query(const uint8_t *pkt, int len, struct query *q) {
	memset(q, 0, sizeof *q);
	q->pkt = pkt, q->len = len;
	if (len < 12)
		return -1;
	q->qdcount = get16(pkt + 4);
	int rrs = get16(pkt + 6) + get16(pkt + 8), ar = get16(pkt + 10);
	int off = 12;
	for (int i = 0; i < q->qdcount; i++) {
		uint8_t nm[256];
		int nl, end;
		if (name_from_wire(pkt, len, off, nm, &nl, &end) < 0 || end + 4 > len)
			return -1;
		if (i == 0) {
			memcpy(q->qname, nm, nl);
			q->qname_len = nl;
			q->qname_off = off, q->qname_end = end;
			q->qtype = get16(pkt + end), q->qclass = get16(pkt + end + 2);
		}
		off = end + 4;
	}
	for (int i = 0; i < rrs + ar; i++) {
		uint16_t type, class;
		uint32_t ttl;
		int ownerlen;
		if (skip_rr(pkt, len, &off, &type, &class, &ttl, &ownerlen) < 0)
			return -1;
		if (i >= rrs && type == 41) {
			q->opt_count++;
			if (ownerlen != 1)
				q->opt_bad_owner = 1;
			q->has_opt = 1;
			q->opt_size = class;
			q->opt_version = (ttl >> 16) & 0xff;
			q->opt_do = (ttl & 0x8000) != 0;
		}
	}
	return 0;
}

int formerr(const uint8_t *pkt, int len, uint8_t *out) {
	if (len < 12 || (pkt[2] & 0x80))
		return 0;
	memset(out, 0, 12);
	out[0] = pkt[0], out[1] = pkt[1];
	out[2] = 0x80 | (pkt[2] & 0x78) | (pkt[2] & 1);
	out[3] = 0x80 | 1;
	return 12;
}

int udp_limit(const struct query *q) {
	if (!q->has_opt)
		return MIN_MSG;
	int s = q->opt_size;
	return s < MIN_MSG ? MIN_MSG : s > MAX_UDP_SIZE ? MAX_UDP_SIZE : s;
}

// put_opt writes a fresh OPT advertising MAX_UDP_SIZE, with the client's DO
// bit (RFC 3225) and the upper bits of an extended rcode.
static int put_opt(uint8_t *p, const struct query *q, int rcode) {
	p[0] = 0;
	put16(p + 1, 41);
	put16(p + 3, MAX_UDP_SIZE);
	p[5] = (uint8_t)(rcode >> 4), p[6] = 0;
	p[7] = q->opt_do ? 0x80 : 0, p[8] = 0;
	put16(p + 9, 0);
	return 11;
}

// reply_header starts a reply to q: id, opcode, RD and CD copied, RA set.
// It returns the offset after the question (copied unless without).
static int reply_header(const struct query *q, uint8_t *out, int rcode, int aa, int with_question) {
	const uint8_t *pkt = q->pkt;
	memset(out, 0, 12);
	out[0] = pkt[0], out[1] = pkt[1];
	out[2] = 0x80 | (pkt[2] & 0x78) | (aa ? 4 : 0) | (pkt[2] & 1);
	out[3] = 0x80 | (pkt[3] & 0x10) | (rcode & 0xf);
	if (!with_question || q->qdcount == 0)
		return 12;
	put16(out + 4, 1);
	memcpy(out + 12, q->qname, q->qname_len);
	int off = 12 + q->qname_len;
	put16(out + off, q->qtype);
	put16(out + off + 2, q->qclass);
	return off + 4;
}

static int finish(const struct query *q, uint8_t *out, int off, int rcode) {
	if (q->has_opt) {
		off += put_opt(out + off, q, rcode);
		put16(out + 10, 1);
	} else if (rcode > 15) {
		return 0; // an extended rcode needs an OPT; cannot happen without one
	}
	return off;
}

int servfail(const struct query *q, int udp, uint8_t *out) {
	(void)udp;
	return finish(q, out, reply_header(q, out, 2, 0, 1), 2);
}

static uint64_t rnd_state;
static uint32_t rnd(void) {
	if (!rnd_state && getrandom(&rnd_state, sizeof rnd_state, 0) != sizeof rnd_state)
		rnd_state = 0x9e3779b97f4a7c15ULL;
	rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

static int same_name(const struct name *n, const uint8_t *lower, int len) {
	return n->len == len && memcmp(n->wire, lower, len) == 0;
}

int answer(const struct member *asker, const struct query *q, int udp, uint8_t *out) {
	const uint8_t *pkt = q->pkt;
	if (pkt[2] & 0x80)
		return 0; // a response: replying to replies could loop for ever
	int rcode = 0;
	if ((pkt[2] >> 3 & 0xf) != 0)
		rcode = 4; // NOTIMP
	else if (q->qdcount != 1)
		rcode = 1;
	else if (q->opt_count > 1 || q->opt_bad_owner)
		rcode = 1; // RFC 6891 6.1.1: one OPT, owner root
	else if (q->has_opt && q->opt_version != 0)
		rcode = 16; // BADVERS
	else if (q->qclass != 1)
		rcode = 4;
	else if (q->qtype == 252 || q->qtype == 251)
		rcode = 5; // no zones here, and a transfer cannot be relayed as one message
	if (rcode) {
		int off = reply_header(q, out, rcode, 0, !(rcode == 1 && q->qdcount != 1));
		return finish(q, out, off, rcode);
	}
	uint8_t name[256];
	memcpy(name, q->qname, q->qname_len);
	lower_wire(name, q->qname_len);
	int nl = q->qname_len;
	// Every distinct address of the name on the asker's networks, and the
	// PTR target if it is a reverse name of one.
	int known = 0;
	const char *ptr = NULL;
	static uint8_t (*addrs)[16];
	static int *fams, cap;
	int naddrs = 0;
	for (const struct member *m = members; m; m = m->next)
		for (int i = 0; i < m->nentries; i++) {
			const struct entry *e = &m->entries[i];
			if (!nets_shared(asker, e->network))
				continue;
			if (!ptr && e->ptr[0] && same_name(&e->rev, name, nl))
				ptr = e->ptr;
			for (int k = 0; k < e->nnames; k++) {
				if (!same_name(&e->names[k], name, nl))
					continue;
				known = 1;
				int dup = 0;
				for (int a = 0; a < naddrs && !dup; a++)
					dup = fams[a] == e->family && memcmp(addrs[a], e->ip, 16) == 0;
				if (!dup && naddrs == cap) { // grows with the largest answer, kept for the next
					int c = cap * 2 + 16;
					void *a = realloc(addrs, c * sizeof *addrs), *f = realloc(fams, c * sizeof *fams);
					if (a)
						addrs = a;
					if (f)
						fams = f;
					if (a && f)
						cap = c;
				}
				if (!dup && naddrs < cap) {
					fams[naddrs] = e->family;
					memcpy(addrs[naddrs++], e->ip, 16);
				}
				break;
			}
		}
	if (!known && !ptr)
		return -1;
	int off = reply_header(q, out, 0, 1, 1);
	int limit = udp ? udp_limit(q) : MAX_MSG;
	int room = limit - (q->has_opt ? 11 : 0);
	int count = 0, tc = 0;
	uint8_t rr[512];
	int rrlen;
	if (q->qtype == 1 || q->qtype == 28) {
		int fam = q->qtype == 1 ? AF_INET : AF_INET6;
		int n = 0;
		for (int a = 0; a < naddrs; a++) // this family's first, in place
			if (fams[a] == fam) {
				uint8_t t[16];
				memcpy(t, addrs[n], 16), memcpy(addrs[n], addrs[a], 16), memcpy(addrs[a], t, 16);
				int f = fams[n];
				fams[n] = fams[a], fams[a] = f;
				n++;
			}
		for (int i = n - 1; i > 0; i--) { // a fresh random order each time
			int j = rnd() % (i + 1);
			uint8_t t[16];
			memcpy(t, addrs[i], 16), memcpy(addrs[i], addrs[j], 16), memcpy(addrs[j], t, 16);
		}
		int alen = fam == AF_INET ? 4 : 16;
		for (int i = 0; i < n; i++) {
			put16(rr, 0xc00c); // the question's name
			put16(rr + 2, q->qtype), put16(rr + 4, 1);
			memset(rr + 6, 0, 4); // TTL 0: names change at once
			put16(rr + 10, alen);
			memcpy(rr + 12, addrs[i], alen);
			rrlen = 12 + alen;
			if (off + rrlen > room) {
				tc = 1;
				break;
			}
			memcpy(out + off, rr, rrlen);
			off += rrlen, count++;
		}
	} else if (q->qtype == 12 && ptr) {
		int pl = name_to_wire(ptr, rr + 12);
		put16(rr, 0xc00c), put16(rr + 2, 12), put16(rr + 4, 1);
		memset(rr + 6, 0, 4);
		put16(rr + 10, pl);
		rrlen = 12 + pl;
		if (pl > 0 && off + rrlen <= room) {
			memcpy(out + off, rr, rrlen);
			off += rrlen, count++;
		} else if (pl > 0) {
			tc = 1;
		}
	}
	put16(out + 6, count);
	if (tc)
		out[2] |= 2;
	return finish(q, out, off, 0);
}

// fit_reply gives the client an upstream's reply: exactly one OPT if the
// query had one (the upstream's own, else a fresh one) and none if not, and
// at most limit bytes: records past it are dropped from the end and TC set.
int fit_reply(uint8_t *msg, int len, const struct query *q, int limit, uint8_t *out) {
	if (len < 12)
		return -1;
	int qd = get16(msg + 4), cnt[3] = {get16(msg + 6), get16(msg + 8), get16(msg + 10)};
	int off = 12;
	for (int i = 0; i < qd; i++) {
		uint8_t nm[256];
		int nl, end;
		if (name_from_wire(msg, len, off, nm, &nl, &end) < 0 || end + 4 > len)
			return -1;
		off = end + 4;
	}
	memcpy(out, msg, off);
	int o = off, keep[3] = {0, 0, 0}, tc = 0, opt_off = -1, opt_len = 0, optfree = 0;
	int room = limit - (q->has_opt ? 11 : 0);
	// First pass: find the upstream's OPT (it must be the last record, so
	// that dropping it moves no name another record points at).
	int p = off, total = cnt[0] + cnt[1] + cnt[2];
	for (int i = 0; i < total; i++) {
		int start = p;
		uint16_t type, class;
		uint32_t ttl;
		int ol;
		if (skip_rr(msg, len, &p, &type, &class, &ttl, &ol) < 0)
			return -1;
		if (i >= cnt[0] + cnt[1] && type == 41) {
			if (opt_off < 0)
				opt_off = start, opt_len = p - start;
			if (i != total - 1)
				optfree = 1;
		}
	}
	if (optfree)
		return -1;
	if (q->has_opt && opt_off >= 0)
		room = limit - opt_len;
	p = off;
	for (int s = 0, i = 0; s < 3; s++)
		for (int k = 0; k < cnt[s]; k++, i++) {
			int start = p;
			uint16_t type, class;
			uint32_t ttl;
			int ol;
			skip_rr(msg, len, &p, &type, &class, &ttl, &ol);
			if (start == opt_off || (s == 2 && type == 41))
				continue;
			if (tc || o + (p - start) > room) {
				tc = 1;
				continue;
			}
			memcpy(out + o, msg + start, p - start);
			o += p - start, keep[s]++;
		}
	put16(out + 6, keep[0]), put16(out + 8, keep[1]), put16(out + 10, keep[2]);
	if (q->has_opt) {
		if (opt_off >= 0) {
			memcpy(out + o, msg + opt_off, opt_len);
			o += opt_len;
		} else {
			o += put_opt(out + o, q, 0);
		}
		put16(out + 10, keep[2] + 1);
	}
	if (tc)
		out[2] |= 2;
	return o;
}
