// Members: the containers the resolver serves, their names, and the
// records that let a resolver started after this one serve them again
// (DIR/members/ID, one file each, written whole or not at all).
#include "resolver.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct member *members;
const char *dir;

static void add_name(struct entry *e, const char *s) {
	struct name n;
	if ((n.len = name_to_wire(s, n.wire)) < 0)
		return;
	lower_wire(n.wire, n.len);
	e->names = realloc(e->names, (e->nnames + 1) * sizeof *e->names);
	if (e->names)
		e->names[e->nnames++] = n;
	else
		e->nnames = 0;
}

static void reverse_name(struct entry *e) {
	char s[128];
	int n = 0;
	if (e->family == AF_INET) {
		n = snprintf(s, sizeof s, "%d.%d.%d.%d.in-addr.arpa", e->ip[3], e->ip[2], e->ip[1], e->ip[0]);
	} else {
		for (int i = 15; i >= 0; i--)
			n += snprintf(s + n, sizeof s - n, "%x.%x.", e->ip[i] & 0xf, e->ip[i] >> 4);
		snprintf(s + n, sizeof s - n, "ip6.arpa");
	}
	e->rev.len = name_to_wire(s, e->rev.wire);
}

// parse_entry reads "NETWORK IP NAME..." (in place). Every name is known as
// NAME and NAME.NETWORK; the PTR of the address is the first valid name.
static int parse_entry(struct entry *e, char *line) {
	memset(e, 0, sizeof *e);
	char *save, *net = strtok_r(line, " ", &save), *ip = strtok_r(NULL, " ", &save);
	if (!net || !ip)
		return -1;
	if (inet_pton(AF_INET, ip, e->ip) == 1) {
		e->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, e->ip) == 1) {
		e->family = AF_INET6;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(e->ip, mapped, 12) == 0) {
			memmove(e->ip, e->ip + 12, 4);
			memset(e->ip + 4, 0, 12);
			e->family = AF_INET;
		}
	} else {
		return -1;
	}
	e->network = strdup(strcmp(net, "-") ? net : "");
	for (char *n; (n = strtok_r(NULL, " ", &save));) {
		size_t l = strlen(n);
		if (l && n[l - 1] == '.')
			n[--l] = 0;
		uint8_t w[256];
		if (l == 0 || name_to_wire(n, w) < 0)
			continue;
		if (!e->ptr[0])
			snprintf(e->ptr, sizeof e->ptr, "%s.", n);
		add_name(e, n);
		if (e->network[0]) {
			char full[600];
			snprintf(full, sizeof full, "%s.%s", n, e->network);
			size_t fl = strlen(full);
			if (fl && full[fl - 1] == '.')
				full[fl - 1] = 0;
			add_name(e, full);
		}
	}
	reverse_name(e);
	return 0;
}

void free_entries(struct member *m) {
	for (int i = 0; i < m->nentries; i++) {
		free(m->entries[i].network);
		free(m->entries[i].names);
	}
	free(m->entries);
	m->entries = NULL, m->nentries = 0;
}

int parse_entries(struct member *m, char *text, int with_upstreams) {
	free_entries(m);
	if (with_upstreams)
		m->nupstreams = 0, m->upline[0] = 0;
	free(m->etext);
	m->etext = NULL;
	size_t etl = 0;
	int nup = 0;
	for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "up ", 3) == 0) {
			if (!with_upstreams)
				continue;
			// At most three are tried, in order; one that is not an
			// address is skipped (resolving it would ask the host's resolver).
			size_t ul = strlen(m->upline);
			snprintf(m->upline + ul, sizeof m->upline - ul, "up %s\n", line + 3);
			if (nup++ < MAX_UPSTREAMS && strlen(line + 3) < sizeof m->upstreams[0])
				strcpy(m->upstreams[m->nupstreams++], line + 3);
		} else if (strncmp(line, "e ", 2) == 0) {
			// Kept as registered, for the record.
			size_t ll = strlen(line);
			char *t = realloc(m->etext, etl + ll + 2);
			if (!t)
				return -1;
			m->etext = t;
			memcpy(t + etl, line, ll);
			t[etl + ll] = '\n', t[etl + ll + 1] = 0;
			etl += ll + 1;
			struct entry e;
			if (parse_entry(&e, line + 2) < 0)
				continue;
			struct entry *es = realloc(m->entries, (m->nentries + 1) * sizeof *es);
			if (!es)
				return -1;
			m->entries = es;
			m->entries[m->nentries++] = e;
		}
	}
	return 0;
}

int nets_shared(const struct member *a, const char *network) {
	for (int i = 0; i < a->nentries; i++)
		if (strcmp(a->entries[i].network, network) == 0)
			return 1;
	return 0;
}

// The record keeps the request's own lines: entries are written back as
// registered (names, not their wire forms).
int save_record(const struct member *m) {
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/members", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/members/%s", dir, m->id);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "id %s\npid %d %llu\nports %d %d\n%s%s", m->id, m->pid, m->pidstart, m->udp_port, m->tcp_port,
		m->upline, m->etext ? m->etext : "");
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

void remove_record(const char *id) {
	char path[4096];
	snprintf(path, sizeof path, "%s/members/%s", dir, id);
	unlink(path);
}

// read_small reads the file path (a record, a /proc file), of less than
// size bytes, into buf, NUL-ended; 0 if it cannot be read or is empty.
static int read_small(const char *path, char *buf, size_t size) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return 1;
}

// load_records hands each record's text to each; one that cannot be read,
// or a temporary file a crash left, is removed: nobody can serve it.
void load_records(void (*each)(char *text)) {
	char path[4096];
	snprintf(path, sizeof path, "%s/members", dir);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/members/%s", dir, de->d_name);
		char *buf = NULL;
		if (!strchr(de->d_name, '.')) {
			buf = malloc(1 << 20);
			if (buf && !read_small(path, buf, 1 << 20))
				free(buf), buf = NULL;
		}
		char idline[200];
		snprintf(idline, sizeof idline, "id %s\n", de->d_name);
		if (buf && strncmp(buf, idline, strlen(idline)) == 0)
			each(buf);
		else
			unlink(path);
		free(buf);
	}
	closedir(d);
}

// pidfd_pid is the pid a pidfd refers to, from its fdinfo; 0 once the
// process is gone (the kernel then shows -1).
int pidfd_pid(int pidfd) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
	if (!read_small(path, buf, sizeof buf))
		return 0;
	char *p = strstr(buf, "\nPid:");
	if (!p)
		return 0;
	int pid = atoi(p + 5);
	return pid > 0 ? pid : 0;
}

// proc_start is field 22 of /proc/PID/stat (a pid alone may have been
// reused); 0 if the process is gone.
unsigned long long proc_start(int pid) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!read_small(path, buf, sizeof buf))
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	// After ") " come fields 3, 4, ...: field 22 is the 20th of them. A
	// zombie counts as gone: it serves nobody.
	p += 2;
	if (*p == 'Z')
		return 0;
	for (int f = 3; f < 22 && p; f++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}
