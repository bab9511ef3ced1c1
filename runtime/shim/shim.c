// The idle half of a detached monitor. Once a container runs, its Go
// monitor execs the hutch binary again with _HUTCH_SHIM set, and this
// constructor takes over before the Go runtime starts: it copies the
// container's output into its json-file log, passes signals on, and when the
// container exits, execs hutch once more to record the exit. The Go runtime
// and its heap are gone while the container runs, so an idle monitor costs
// what this file touches (see runtime/monitor_linux.go for the Go side).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXLINE (16 * 1024) // longer lines are logged in pieces, as the Go writer does

struct stream {
	int fd;           // read end of the container's stdout or stderr; -1 when done
	const char *name; // "stdout" or "stderr"
	char buf[MAXLINE];
	size_t len;
};

static pid_t child;
static int logfd = -1;
// Rotation (--log-opt max-size, max-file), as runtime/logs does it: once the
// next entry would pass logmax, path becomes path.1, path.1 path.2 and so
// on, keeping logfiles files in all.
static const char *logpath;
static long long logmax, logsize;
static int logfiles = 1;

static void forward(int sig) { kill(child, sig); }

static int envfd(const char *name) {
	const char *v = getenv(name);
	return v && *v ? atoi(v) : -1;
}

static void write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; // a full disk must not stop the container: drop the line
		p += w, n -= w;
	}
}

static void rotate_log(void) {
	char from[4096], to[4096];
	if (logfiles <= 1) {
		unlink(logpath);
	} else {
		for (int i = logfiles - 1; i >= 1; i--) {
			if (i == 1)
				snprintf(from, sizeof from, "%s", logpath);
			else
				snprintf(from, sizeof from, "%s.%d", logpath, i - 1);
			snprintf(to, sizeof to, "%s.%d", logpath, i);
			rename(from, to); // a missing one is fine: fewer files so far
		}
	}
	int fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return; // keep writing to the old file rather than lose lines
	close(logfd);
	logfd = fd;
	logsize = 0;
}

// log_line writes one entry {"log":"...","stream":"...","time":"..."}.
static void log_line(const char *name, const char *p, size_t n) {
	static char out[MAXLINE * 6 + 128];
	size_t o = 0;
	o += sprintf(out, "{\"log\":\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		switch (c) {
		case '"': out[o++] = '\\'; out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
		case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
		case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
		case '\t': out[o++] = '\\'; out[o++] = 't'; break;
		default:
			if (c < 0x20)
				o += sprintf(out + o, "\\u%04x", c);
			else
				out[o++] = c;
		}
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char frac[16];
	int fl = snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
	while (fl > 1 && frac[fl - 1] == '0') // RFC 3339 with trailing zeros cut, like Go
		frac[--fl] = 0;
	if (fl == 1)
		frac[0] = 0;
	o += sprintf(out + o, "\",\"stream\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d%sZ\"}\n", name,
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	if (logmax > 0 && logsize > 0 && logsize + (long long)o > logmax)
		rotate_log();
	write_all(logfd, out, o);
	logsize += o;
}

// pump reads what is available and logs every complete line; it returns 0
// at EOF (or EIO, a pty whose last slave closed).
static int pump(struct stream *s) {
	ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	s->len += n;
	size_t start = 0;
	for (size_t i = 0; i < s->len; i++) {
		if (s->buf[i] == '\n') {
			log_line(s->name, s->buf + start, i + 1 - start);
			start = i + 1;
		}
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
	if (s->len == sizeof s->buf) { // a line longer than the buffer: log this piece
		log_line(s->name, s->buf, s->len);
		s->len = 0;
	}
	return 1;
}

void hutch_shim(void) {
	if (!getenv("_HUTCH_SHIM"))
		return;
	child = envfd("_HUTCH_SHIM_CHILD");
	logfd = envfd("_HUTCH_SHIM_LOG");
	const char *root = getenv("_HUTCH_SHIM_ROOT"), *id = getenv("_HUTCH_SHIM_ID");
	struct stream out = {.fd = envfd("_HUTCH_SHIM_STDOUT"), .name = "stdout"};
	struct stream err = {.fd = envfd("_HUTCH_SHIM_STDERR"), .name = "stderr"};
	logpath = getenv("_HUTCH_SHIM_LOG_PATH");
	if (logpath && *logpath && getenv("_HUTCH_SHIM_LOG_MAX")) {
		logmax = atoll(getenv("_HUTCH_SHIM_LOG_MAX"));
		const char *files = getenv("_HUTCH_SHIM_LOG_FILES");
		logfiles = files ? atoi(files) : 1;
		struct stat st;
		if (logfd >= 0 && fstat(logfd, &st) == 0)
			logsize = st.st_size;
	}
	int pidfd = syscall(SYS_pidfd_open, child, 0);
	if (child <= 0 || logfd < 0 || !root || !id || pidfd < 0) {
		fprintf(stderr, "hutch: shim: bad environment\n");
		_exit(125);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);

	// Copy output until the container has exited and its output is drained.
	int exited = 0;
	for (;;) {
		struct pollfd p[3] = {{out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}, {exited ? -1 : pidfd, POLLIN, 0}};
		if (out.fd < 0 && err.fd < 0 && exited)
			break;
		int n = poll(p, 3, exited ? 1000 : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) // exited, but something in the background still holds the output open
			break;
		struct stream *ss[2] = {&out, &err};
		for (int i = 0; i < 2; i++) {
			if (ss[i]->fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(ss[i])) {
				if (ss[i]->len)
					log_line(ss[i]->name, ss[i]->buf, ss[i]->len);
				close(ss[i]->fd);
				ss[i]->fd = -1;
			}
		}
		if (p[2].revents & POLLIN)
			exited = 1;
	}
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	char codes[16];
	snprintf(codes, sizeof codes, "%d", code);
	// The finisher may restart the container (a restart policy): it must not
	// hold the published ports, the log or the pidfd the shim had.
	if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
		for (int fd = 3; fd < 4096; fd++)
			close(fd);
	char *argv[] = {"hutch", "_finish", (char *)root, (char *)id, codes, NULL};
	char *envp[] = {NULL};
	execve("/proc/self/exe", argv, envp);
	fprintf(stderr, "hutch: shim: exec finisher: %s\n", strerror(errno));
	_exit(125);
}
