// The container's init, before the Go runtime starts. The monitor clones
// `hutch _init` into the container's namespaces (and its v2 cgroup) with
// _HUTCH_INIT set; this constructor takes over, reads its plan from the sync
// socket (fd 3) and carries it out step by step, ending in the exec of the
// container's command. `hutch exec` starts the same program with a plan
// that joins the running container instead (setns, fork). What the steps are, and why, is decided in Go: see
// runtime/initplan.go for the ops. Errors go back over the socket as
// {"code":N,"msg":"..."}; a successful exec closes it (CLOEXEC).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int sync_fd = 3; // the sync socket (an exec's preserve op moves it out of the way)

static int root_fd = -1; // the container's root, for the in-root ops
static int sync_closed;  // after the fifo op: nobody reads the sync socket, errors go to stderr
// Whether the command dies with the process that started it (hutch's
// monitor, an exec's hutch). Not for an OCI container (its runtime exits
// after create) nor a detached exec (its parent exits at the fork).
static int die_with_parent = 1;
static int fifo_w = -1; // the exec fifo, open for writing once `start` has opened it
static int keep_fds = 3; // the descriptors below this one go to the command (preserve op)

// fail reports an error to the monitor and exits with code.
static void __attribute__((noreturn, format(printf, 2, 3))) fail(int code, const char *fmt, ...) {
	char msg[2048], out[4096]; // the monitor reads one message of at most 4096 bytes
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t o = (size_t)snprintf(out, sizeof out, "{\"code\":%d,\"msg\":\"", code);
	for (const unsigned char *p = (const unsigned char *)msg; *p && o < sizeof out - 16; p++) {
		if (*p == '"' || *p == '\\')
			o += (size_t)sprintf(out + o, "\\%c", *p);
		else if (*p < 0x20)
			o += (size_t)sprintf(out + o, "\\u%04x", *p);
		else
			out[o++] = (char)*p;
	}
	o += (size_t)sprintf(out + o, "\"}");
	if (sync_closed) {
		dprintf(2, "hutch: %s\n", msg);
		_exit(code);
	}
	if (send(sync_fd, out, o, MSG_NOSIGNAL) < 0) {
		// the monitor is gone: nobody to tell
	}
	_exit(code);
}

// The plan: NUL-terminated strings, read one after another.
static char *plan, *plan_end;

static char *next(void) {
	if (plan >= plan_end)
		fail(125, "init: plan ends too early");
	char *s = plan;
	plan += strlen(s) + 1;
	return s;
}

static long long next_num(void) {
	char *s = next(), *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno || *s == 0 || *end)
		fail(125, "init: bad number %s in plan", s);
	return n;
}

static unsigned long long next_unsigned(int base) {
	char *s = next(), *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, base);
	if (errno || *s == 0 || *s == '-' || *end)
		fail(125, "init: bad number %s in plan", s);
	return n;
}

// read_plan receives the plan, one SOCK_SEQPACKET message of any size.
static void read_plan(void) {
	ssize_t n;
	do
		n = recv(sync_fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		fail(125, "init: monitor went away before sending the plan");
	plan = malloc((size_t)n + 1);
	if (!plan)
		fail(125, "init: no memory for the plan");
	plan[n] = 0; // a last string without its NUL still ends
	do
		n = recv(sync_fd, plan, (size_t)n, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		fail(125, "init: read plan: %s", strerror(errno));
	plan_end = plan + n;
}

static void wait_for(const char *want) {
	char buf[64];
	ssize_t n;
	do
		n = read(sync_fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n) != 0)
		fail(125, "init: monitor went away before \"%s\"", want);
}

static const char *fd_path(int fd) {
	static char buf[2][32];
	static int i;
	i ^= 1;
	snprintf(buf[i], sizeof buf[i], "/proc/self/fd/%d", fd);
	return buf[i];
}

static int openat2_in_root(const char *rel) {
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
}

// rel turns an absolute path in the container into one relative to its root.
static const char *rel(const char *path) {
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

// open_in_root opens path inside the root as an O_PATH fd, making missing
// directories (and the last component, as a file when as_file) on the way.
// Each component is made in the directory the previous one resolved to, and
// resolved again with RESOLVE_IN_ROOT, so a symlink cannot lead outside. A
// dangling symlink on the way is followed as the kernel would inside the
// root, and what it names is made (as runc does): its target is read and
// resolved again from the root, at most 40 times (SYMLOOP_MAX).
static int open_in_root_at(const char *path, int as_file, int links);

static int open_in_root(const char *path, int as_file) { return open_in_root_at(path, as_file, 0); }

// follow_dangling retries with the target of the symlink name (in the
// directory at, reached by the first dirlen bytes of buf) in place of name,
// rest following it. It returns -2 when name is not a symlink.
static int follow_dangling(int at, const char *buf, size_t dirlen, const char *name, const char *rest, int as_file,
			   int links) {
	char target[4096], next_path[8192];
	ssize_t n = readlinkat(at, name, target, sizeof target - 1);
	if (n <= 0)
		return -2;
	target[n] = 0;
	if (links >= 40) {
		errno = ELOOP;
		return -1;
	}
	int len;
	if (target[0] == '/') // absolute: from the container's root
		len = snprintf(next_path, sizeof next_path, "%s%s%s", target, *rest ? "/" : "", rest);
	else
		len = snprintf(next_path, sizeof next_path, "/%.*s%s%s%s", (int)dirlen, buf, target, *rest ? "/" : "", rest);
	if (len < 0 || (size_t)len >= sizeof next_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open_in_root_at(next_path, as_file, links + 1);
}

static int open_in_root_at(const char *path, int as_file, int links) {
	const char *r = rel(path);
	int fd = openat2_in_root(r);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char buf[4096];
	if (strlen(r) >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, r);
	int parent = -1; // -1: the root
	for (char *name = buf;;) {
		char *slash = strchr(name, '/');
		if (slash)
			*slash = 0;
		fd = openat2_in_root(buf); // buf holds the path up to name
		if (fd < 0 && errno == ENOENT) {
			int at = parent >= 0 ? parent : root_fd, err = 0, exists = 0;
			if (!slash && as_file) {
				int f = openat(at, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (f >= 0)
					close(f);
				else if (errno == EEXIST || errno == ELOOP)
					exists = 1;
				else
					err = errno;
			} else if (mkdirat(at, name, 0755) < 0) {
				if (errno == EEXIST)
					exists = 1;
				else
					err = errno;
			}
			fd = err ? -1 : openat2_in_root(buf);
			if (err)
				errno = err;
			else if (fd < 0 && errno == ENOENT && exists) {
				// There, yet not found: a dangling symlink.
				int followed = follow_dangling(at, buf, (size_t)(name - buf), name,
							       slash ? slash + 1 : "", as_file, links);
				if (followed != -2) {
					int saved = errno;
					if (parent >= 0)
						close(parent);
					errno = saved;
					return followed;
				}
				errno = ENOENT;
			}
		}
		if (parent >= 0) {
			int saved = errno;
			close(parent);
			errno = saved;
		}
		if (fd < 0 || !slash)
			return fd;
		parent = fd;
		*slash = '/';
		name = slash + 1;
	}
}

// parent_dir opens the directory that holds path inside the root, as a
// real directory fd (mknodat and symlinkat need one), and points *base at
// the last component.
static int parent_dir(const char *path, const char **base) {
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", path);
	char *slash = strrchr(parent, '/');
	*base = path + (slash - parent) + 1;
	*slash = 0;
	int p = open_in_root(parent, 0);
	if (p < 0)
		return -1;
	int d = openat(p, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(p);
	return d;
}

static void op_mount(void) {
	char *src = next(), *target = next(), *type = next();
	unsigned long flags = (unsigned long)next_num();
	char *data = next();
	if (mount(src, target, type, flags, *data ? data : NULL) < 0)
		fail(125, "mount %s on %s: %s", *src ? src : type, target, strerror(errno));
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

// set_rdonly_recursive makes the mount at fd and every mount under it
// read-only (a read-only rbind, as Docker's since 25: a remount would
// leave the submounts writable). Before Linux 5.12 it fails with ENOSYS,
// and the caller falls back to the remount of the top mount alone.
static int set_rdonly_recursive(int fd) {
	struct {
		unsigned long long attr_set, attr_clr, propagation, userns_fd;
	} attr = {.attr_set = 0x00000001 /* MOUNT_ATTR_RDONLY */};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0)
		return 0;
	if (errno != ENOSYS)
		fail(125, "make a bind mount read-only: %s", strerror(errno));
	return -1;
}

static void op_mountin(void) {
	char *src = next(), *dest = next(), *type = next();
	unsigned long flags = (unsigned long)next_num();
	char *data = next(), *kind = next();
	unsigned long remount = (unsigned long)next_num();
	int as_file = strcmp(kind, "file") == 0;
	int fd = open_in_root(dest, as_file);
	if (fd < 0)
		fail(125, "mount %s: %s", dest, strerror(errno));
	if (mount(src, fd_path(fd), type, flags, *data ? data : NULL) < 0)
		fail(125, "mount %s: %s", dest, strerror(errno));
	close(fd);
	if (remount) {
		// Reached by a fresh fd: the old one names what is now under the mount.
		fd = open_in_root(dest, as_file);
		if (fd < 0)
			fail(125, "mount %s: %s", dest, strerror(errno));
		if ((flags & MS_REC) && (remount & MS_RDONLY) && set_rdonly_recursive(fd) == 0) {
			close(fd);
			return;
		}
		if (mount("", fd_path(fd), "", remount, NULL) < 0)
			fail(125, "mount %s: %s", dest, strerror(errno));
		close(fd);
	}
}

#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

// op_movemount puts the detached mount open at FD (an idmapped clone the
// runtime made) at DEST, made first as KIND ("dir" or "file") in the root.
static void op_movemount(void) {
	int fd = (int)next_num();
	char *dest = next(), *kind = next();
	int to = open_in_root(dest, strcmp(kind, "file") == 0);
	if (to < 0)
		fail(125, "mount %s: %s", dest, strerror(errno));
	if (syscall(SYS_move_mount, fd, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		fail(125, "mount %s: move the idmapped mount: %s", dest, strerror(errno));
	close(to);
	close(fd);
}

static void op_mknod(void) {
	char *path = next();
	mode_t mode = (mode_t)next_num();
	unsigned major = (unsigned)next_num(), minor = (unsigned)next_num();
	const char *base;
	int d = parent_dir(path, &base);
	mode_t old = umask(0);
	if (d < 0 || mknodat(d, base, mode, makedev(major, minor)) < 0)
		fail(125, "mknod %s: %s", path, strerror(errno));
	umask(old);
	close(d);
}

static void op_symlink(void) {
	char *target = next(), *path = next();
	const char *base;
	int d = parent_dir(path, &base);
	if (d < 0 || symlinkat(target, d, base) < 0)
		fail(125, "symlink %s: %s", path, strerror(errno));
	close(d);
}

static void op_mask(void) {
	char *path = next();
	int fd = openat2_in_root(rel(path));
	if (fd < 0 && errno == ENOENT)
		return;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		fail(125, "mask %s: %s", path, strerror(errno));
	int r = S_ISDIR(st.st_mode) ? mount("tmpfs", fd_path(fd), "tmpfs", MS_RDONLY, "size=0")
				    : mount("/dev/null", fd_path(fd), "", MS_BIND, NULL);
	if (r < 0)
		fail(125, "mask %s: %s", path, strerror(errno));
	close(fd);
}

static void op_readonly(void) {
	char *path = next();
	int fd = openat2_in_root(rel(path));
	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0 || mount(fd_path(fd), fd_path(fd), "", MS_BIND | MS_REC, NULL) < 0)
		fail(125, "make %s read-only: %s", path, strerror(errno));
	close(fd);
	fd = openat2_in_root(rel(path));
	if (fd < 0 || mount("", fd_path(fd), "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail(125, "make %s read-only: %s", path, strerror(errno));
	close(fd);
}

// pivot_root(".", ".") stacks the old root under the new one, so a lazy
// unmount of "." drops it without a directory to put it in.
static void op_pivot(void) {
	char *root = next();
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		fail(125, "pivot_root: %s", strerror(errno));
	close(root_fd);
	root_fd = -1;
}

static void op_lo(void) {
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		fail(125, "bring up lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		fail(125, "bring up lo: %s", strerror(errno));
	close(s);
}

// send_fd hands fd to the monitor with the message msg.
static void send_fd(const char *msg, int fd) {
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = strlen(msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sync_fd, &mh, 0) < 0)
		fail(125, "send pty: %s", strerror(errno));
}

// op_pty opens a pty in the container's own devpts (so the command sees
// /dev/pts/N, as in Docker), hands the master to the monitor, and makes the
// slave our stdio, controlling terminal and, if CONSOLE is 1 (the
// container's init, not an exec), /dev/console.
static void op_pty(void) {
	int console = (int)next_num();
	// A controlling terminal takes a session leader: the init is one (cloned
	// with setsid), an exec's process after its fork is not.
	if (getsid(0) != getpid() && setsid() < 0)
		fail(125, "setsid: %s", strerror(errno));
	int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0;
	unsigned n;
	if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		fail(125, "open pty: %s", strerror(errno));
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail(125, "open pty slave: %s", strerror(errno));
	send_fd("pty", master);
	wait_for("ack");
	close(master);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			fail(125, "pty as stdio: %s", strerror(errno));
	close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail(125, "set controlling terminal: %s", strerror(errno));
	if (!console)
		return;
	int c = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (c >= 0)
		close(c);
	char pts[32];
	snprintf(pts, sizeof pts, "/dev/pts/%u", n);
	if (mount(pts, "/dev/console", "", MS_BIND, NULL) < 0)
		fail(125, "bind /dev/console: %s", strerror(errno));
}

static int capset_v3(unsigned long long eff, unsigned long long perm, unsigned long long inh) {
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2] = {
		{.effective = (__u32)eff, .permitted = (__u32)perm, .inheritable = (__u32)inh},
		{.effective = (__u32)(eff >> 32), .permitted = (__u32)(perm >> 32), .inheritable = (__u32)(inh >> 32)},
	};
	return (int)syscall(SYS_capset, &h, d);
}

// op_identity makes us the container's user with exactly its capabilities.
static void op_identity(void) {
	unsigned long long uid = next_unsigned(10), gid = next_unsigned(10);
	char *groups = next();
	int last = (int)next_num();
	unsigned long long bounding = next_unsigned(16), eff = next_unsigned(16), perm = next_unsigned(16),
			   inh = next_unsigned(16), amb = next_unsigned(16);
	// (uid_t)-1 tells setresuid to change nothing: the command would stay root.
	if (uid >= 0xffffffffULL || gid >= 0xffffffffULL)
		fail(125, "user %llu:%llu: not a valid id", uid, gid);
	if (last < 0 || last > 63)
		fail(125, "init: bad last capability %d in plan", last);

	// The bounding set only shrinks while we hold CAP_SETPCAP, as root: first.
	for (int c = 0; c <= last; c++) {
		if (bounding & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)
			fail(125, "drop bounding capability %d: %s", c, strerror(errno ? errno : EPERM));
	}
	size_t n = 0, max = 1;
	for (char *c = groups; *c; c++)
		max += *c == ',';
	gid_t *list = calloc(max, sizeof *list);
	if (!list)
		fail(125, "init: no memory for %zu groups", max);
	for (char *g = strtok(groups, ","); g; g = strtok(NULL, ",")) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(g, &end, 10);
		if (errno || *end || v >= 0xffffffffULL)
			fail(125, "set groups: bad group %s", g);
		list[n++] = (gid_t)v;
	}
	// Without KEEPCAPS, setuid from root to another user clears the
	// permitted set, and capset could give nothing back. setgroups always,
	// even with none: the container must not keep hutch's groups.
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(125, "set keepcaps: %s", strerror(errno));
	if (syscall(SYS_setgroups, n, list) < 0)
		fail(125, "set groups %s: %s", groups, strerror(errno));
	if (syscall(SYS_setresgid, (gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		fail(125, "set gid %llu: %s", gid, strerror(errno));
	if (syscall(SYS_setresuid, (uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		fail(125, "set uid %llu: %s", uid, strerror(errno));
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		fail(125, "user %llu:%llu: the switch did not take", uid, gid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(125, "clear keepcaps: %s", strerror(errno));
	if (capset_v3(eff, perm, inh) < 0)
		fail(125, "set capabilities: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(125, "clear ambient capabilities: %s", strerror(errno));
	// The kernel takes an ambient capability only if it is permitted and
	// inheritable; runc skips (with a warning) the ones that are not: so do we.
	amb &= perm & inh;
	for (int c = 0; c <= last; c++)
		if ((amb & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			fail(125, "set ambient capability %d: %s", c, strerror(errno));
	// A change of credentials resets "dumpable" to the host's
	// fs.suid_dumpable: until the exec, the container must still not reach
	// /proc/1/exe (the host's hutch).
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(125, "set dumpable: %s", strerror(errno));
	// It also clears the parent-death signal: the container must still die
	// with its monitor. Had the monitor died meanwhile, its end of the sync
	// socket is closed.
	if (die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(125, "set parent-death signal: %s", strerror(errno));
	struct pollfd p = {.fd = sync_fd};
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
		_exit(137);
}

static int hex_digit(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

// op_seccomp installs the filter the plan carries (built and checked in
// Go, runtime/seccomp). From here on every call the init makes is filtered.
static void op_seccomp(void) {
	unsigned long flags = (unsigned long)next_unsigned(10);
	char *hex = next();
	size_t n = strlen(hex);
	if (n == 0 || n % (2 * sizeof(struct sock_filter)) != 0 || n / 2 / sizeof(struct sock_filter) > BPF_MAXINSNS)
		fail(125, "init: bad seccomp program in plan");
	unsigned char *prog = malloc(n / 2);
	if (!prog)
		fail(125, "init: no memory for the seccomp program");
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			fail(125, "init: bad seccomp program in plan");
		prog[i] = (unsigned char)(hi << 4 | lo);
	}
	struct sock_fprog fprog = {
		.len = (unsigned short)(n / 2 / sizeof(struct sock_filter)),
		.filter = (struct sock_filter *)prog,
	};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) < 0)
		fail(125, "install seccomp filter: %s", strerror(errno));
	free(prog);
}

// look_path finds name as Go's exec.LookPath does, in the PATH of env:
// 127 when there is no such command, 126 when it cannot be run.
static char *look_path(const char *name, char **env) {
	static char buf[4096];
	if (strchr(name, '/')) {
		struct stat st;
		if (stat(name, &st) < 0 && errno == ENOENT)
			fail(127, "exec: \"%s\": executable file not found in $PATH", name);
		if (stat(name, &st) < 0 || S_ISDIR(st.st_mode) || faccessat(AT_FDCWD, name, X_OK, AT_EACCESS) < 0)
			fail(126, "exec: \"%s\": permission denied", name);
		return (char *)name;
	}
	const char *path = "";
	for (char **e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *p = path; *path;) { // no PATH: nothing to search
		const char *end = strchrnul(p, ':');
		int len = (int)(end - p);
		snprintf(buf, sizeof buf, "%.*s/%s", len ? len : 1, len ? p : ".", name);
		struct stat st;
		if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode) && faccessat(AT_FDCWD, buf, X_OK, AT_EACCESS) == 0) {
			if (buf[0] != '/') // as Go's exec.ErrDot
				fail(126, "exec: \"%s\": cannot run executable found relative to current directory", name);
			return buf;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	fail(127, "exec: \"%s\": executable file not found in $PATH", name);
}

static void noop(int sig) { (void)sig; }

// reap is --init: we stay pid 1, run the command as our child in its own
// process group (in the terminal's foreground, if there is one), pass
// signals on, reap every orphan, and exit with the child's status.
static void __attribute__((noreturn)) reap(const char *path, char **argv, char **envp) {
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0)
		fail(125, "fork: %s", strerror(errno));
	if (child == 0) {
		setpgid(0, 0);
		if (isatty(0))
			tcsetpgrp(0, getpid()); // SIGTTOU is blocked: allowed from the background
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (syscall(SYS_close_range, keep_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			fail(125, "close_range: %s", strerror(errno));
		execve(path, argv, envp);
		fail(errno == ENOENT ? 127 : 126, "exec %s: %s", argv[0], strerror(errno));
	}
	close(sync_fd); // the child's copy closes at its exec: the monitor sees EOF
	// A pid 1 gets no signal whose handler is the default: catch them all
	// (they stay blocked and are taken by sigwaitinfo).
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noop;
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
}

static void op_exec(void) {
	int reaper = (int)next_num();
	long long argc = next_num();
	if (argc < 1 || argc > plan_end - plan)
		fail(125, "init: bad command in plan");
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	if (!argv)
		fail(125, "init: no memory for the command");
	for (long long i = 0; i < argc; i++)
		argv[i] = next();
	long long envc = next_num();
	if (envc < 0 || envc > plan_end - plan)
		fail(125, "init: bad environment in plan");
	char **envp = calloc((size_t)envc + 1, sizeof *envp);
	if (!envp)
		fail(125, "init: no memory for the environment");
	for (long long i = 0; i < envc; i++)
		envp[i] = next();
	char *path = look_path(argv[0], envp);
	if (reaper)
		reap(path, argv, envp);
	// Nothing of hutch's may leak into the container.
	if (syscall(SYS_close_range, keep_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fail(125, "close_range: %s", strerror(errno));
	execve(path, argv, envp);
	fail(errno == ENOENT ? 127 : 126, "exec %s: %s", argv[0], strerror(errno));
}

static void op_setns(void) {
	static const struct {
		const char *name;
		int type;
	} kinds[] = {
		{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
		{"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
		{"time", CLONE_NEWTIME},     {"user", CLONE_NEWUSER},
	};
	int fd = (int)next_num();
	char *kind = next();
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(kind, kinds[i].name) != 0)
			continue;
		if (setns(fd, kinds[i].type) < 0)
			fail(125, "join %s namespace: %s", kind, strerror(errno));
		close(fd);
		return;
	}
	fail(125, "init: unknown namespace %s in plan", kind);
}

static pid_t child = -1;

static void forward(int sig) {
	if (child > 0)
		kill(child, sig);
}

// op_fork is for a process that joined a pid namespace by setns: that
// applies only to children. The child goes on with the plan. MODE "wait"
// (an exec): we stay outside, pass signals on, and exit with its status.
// MODE "detach": we say the child's pid (ours is the runtime's namespace)
// and exit; the child is reparented to the runtime's subreaper.
static void op_fork(void) {
	int detach = strcmp(next(), "detach") == 0;
	child = fork();
	if (child < 0)
		fail(125, "fork: %s", strerror(errno));
	if (child == 0) {
		die_with_parent = !detach;
		if (!detach && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			fail(125, "set parent-death signal: %s", strerror(errno));
		return;
	}
	if (detach) {
		char msg[32];
		int n = snprintf(msg, sizeof msg, "pid %d", (int)child);
		if (send(sync_fd, msg, (size_t)n, MSG_NOSIGNAL) < 0)
			kill(child, SIGKILL);
		_exit(0);
	}
	close(sync_fd); // the child's copy closes at its exec: hutch sees EOF
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
			sigaction(sig, &sa, NULL);
	int status;
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "hutch: exec: wait: %s\n", strerror(errno));
			_exit(126);
		}
	}
	_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}

static void op_private(void) {
	if (mount("", "/", "", MS_REC | MS_PRIVATE, NULL) < 0)
		fail(125, "make / private: %s", strerror(errno));
}

static void op_root(void) {
	char *path = next();
	root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		fail(125, "open root %s: %s", path, strerror(errno));
}

static void op_mkdir(void) {
	char *path = next();
	int fd = open_in_root(path, 0);
	if (fd < 0)
		fail(125, "working directory %s: %s", path, strerror(errno));
	close(fd);
}

static void op_tasks(void) {
	int fd = (int)next_num();
	if (write(fd, "0", 1) != 1)
		fail(125, "join cgroup: %s", strerror(errno));
	close(fd);
}

// op_timens makes a time namespace: ours stays, our children and the
// command (at its exec) are in the new one; its offsets are ours to write
// (timens_offsets) until then.
static void op_timens(void) {
	if (unshare(CLONE_NEWTIME) < 0)
		fail(125, "unshare time namespace: %s", strerror(errno));
}

static void op_cgroupns(void) {
	if (unshare(CLONE_NEWCGROUP) < 0)
		fail(125, "unshare cgroup namespace: %s", strerror(errno));
}

static void op_wait(void) { wait_for(next()); }

static void op_hostname(void) {
	char *name = next();
	if (sethostname(name, strlen(name)) < 0)
		fail(125, "set hostname: %s", strerror(errno));
}

static void op_domainname(void) {
	char *name = next();
	if (setdomainname(name, strlen(name)) < 0)
		fail(125, "set domainname: %s", strerror(errno));
}

static void op_rlimit(void) {
	int res = (int)next_num();
	struct rlimit rl;
	rl.rlim_cur = (rlim_t)next_unsigned(10);
	rl.rlim_max = (rlim_t)next_unsigned(10);
	if (setrlimit(res, &rl) < 0)
		fail(125, "set rlimit %d: %s", res, strerror(errno));
}

static void op_nnp(void) {
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(125, "set no_new_privs: %s", strerror(errno));
}

static void op_chdir(void) {
	char *path = next();
	if (chdir(path) < 0)
		fail(126, "working directory %s: %s", path, strerror(errno));
}

static void op_notify(void) {
	char *msg = next();
	if (send(sync_fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		fail(125, "init: tell the runtime %s: %s", msg, strerror(errno));
}

// op_fifo is the OCI "created" state: we tell the runtime, let go of the
// sync socket unless it stays our parent (hutch's monitor; hutch-runc
// create exits) and block opening the exec fifo for writing
// until `start` opens it for reading, as runc's init does (op_started then
// writes the byte start waits for).
static void op_fifo(void) {
	int fd = (int)next_num();
	int keep = (int)next_num();
	if (send(sync_fd, "created", 7, MSG_NOSIGNAL) < 0)
		fail(125, "init: tell the runtime created: %s", strerror(errno));
	if (!keep) {
		close(sync_fd);
		sync_closed = 1;
		die_with_parent = 0;
	}
	int w;
	do
		w = open(fd_path(fd), O_WRONLY | O_CLOEXEC);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		fail(125, "open exec fifo: %s", strerror(errno));
	close(fd);
	fifo_w = w;
}

// op_started tells `start`, which holds the fifo open, that the
// startContainer hooks passed: the program runs. If the init fails before,
// start reads EOF instead and fails too.
static void op_started(void) {
	if (write(fifo_w, "0", 1) != 1)
		fail(125, "write exec fifo: %s", strerror(errno));
	close(fifo_w);
	fifo_w = -1;
}

static void op_write(void) {
	char *path = next(), *value = next();
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		fail(125, "write %s: %s", path, strerror(errno));
	close(fd);
}

static void op_chown(void) {
	char *path = next();
	uid_t uid = (uid_t)next_num();
	gid_t gid = (gid_t)next_num();
	int fd = openat2_in_root(rel(path));
	if (fd < 0 || fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		fail(125, "chown %s: %s", path, strerror(errno));
	close(fd);
}

static void op_umask(void) { umask((mode_t)next_num()); }

static void op_personality(void) {
	if (personality((unsigned long)next_num()) < 0)
		fail(125, "personality: %s", strerror(errno));
}

// op_hook runs an OCI hook: the state on its stdin, its output on ours,
// killed if it outlives its timeout; it must exit 0.
static void op_hook(void) {
	long long timeout = next_num();
	char *path = next();
	long long argc = next_num();
	if (argc < 0 || argc > plan_end - plan)
		fail(125, "init: bad hook in plan");
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	for (long long i = 0; argv && i < argc; i++)
		argv[i] = next();
	long long envc = next_num();
	if (!argv || envc < 0 || envc > plan_end - plan)
		fail(125, "init: bad hook in plan");
	char **envp = calloc((size_t)envc + 1, sizeof *envp);
	for (long long i = 0; envp && i < envc; i++)
		envp[i] = next();
	char *state = next();
	int in[2];
	if (!envp || pipe2(in, O_CLOEXEC) < 0)
		fail(125, "hook %s: %s", path, strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fail(125, "hook %s: fork: %s", path, strerror(errno));
	if (pid == 0) {
		if (dup2(in[0], 0) < 0)
			_exit(126);
		execve(path, argv, envp);
		dprintf(2, "hutch: hook %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	size_t len = strlen(state);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(in[1], state + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break; // the hook need not read it
		off += (size_t)n;
	}
	close(in[1]);
	int status;
	for (long long waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, timeout > 0 ? WNOHANG : 0);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			fail(125, "hook %s: wait: %s", path, strerror(errno));
		if (timeout > 0 && waited >= timeout * 100) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail(125, "hook %s: timed out after %lld s", path, timeout);
		}
		if (r == 0)
			usleep(10000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail(125, "hook %s: %s %d", path, WIFEXITED(status) ? "exit status" : "killed by signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	free(argv);
	free(envp);
}

// op_preserve hands the command N descriptors the runtime was given (runc's
// --preserve-fds): those at FIRST.. become 3.., as the command expects them.
// A container's init has let go of the sync socket (fd 3) by then (the fifo
// op); an exec still reports over it until its exec: it moves out of the way.
static void op_preserve(void) {
	int first = (int)next_num(), n = (int)next_num();
	int tmp[256];
	if (n < 0 || n > 256)
		fail(125, "init: bad preserve count %d", n);
	if (!sync_closed) {
		int moved = fcntl(sync_fd, F_DUPFD_CLOEXEC, first + n + 512); // above tmp's
		if (moved < 0)
			fail(125, "preserve: move the sync socket: %s", strerror(errno));
		close(sync_fd);
		sync_fd = moved;
	}
	for (int i = 0; i < n; i++) // out of the way first: the ranges may overlap
		if ((tmp[i] = fcntl(first + i, F_DUPFD_CLOEXEC, first + n + 256)) < 0)
			fail(125, "preserve fd %d: %s", first + i, strerror(errno));
	for (int i = 0; i < n; i++) {
		if (dup2(tmp[i], 3 + i) < 0) // without CLOEXEC: for the command
			fail(125, "preserve fd %d: %s", first + i, strerror(errno));
		close(tmp[i]);
	}
	keep_fds = 3 + n;
}

// op_sched sets the command's scheduling (process.scheduler) with
// sched_setattr(2): policy, flags, nice, priority, and the deadline
// policy's runtime, deadline and period (ns). Inherited at the exec.
static void op_sched(void) {
	struct { // struct sched_attr, SCHED_ATTR_SIZE_VER0 (musl has none)
		unsigned int size, policy;
		unsigned long long flags;
		int nice;
		unsigned int priority;
		unsigned long long runtime, deadline, period;
	} attr = {.size = 48};
	attr.policy = (unsigned int)next_num();
	attr.flags = next_unsigned(10);
	attr.nice = (int)next_num();
	attr.priority = (unsigned int)next_num();
	attr.runtime = next_unsigned(10);
	attr.deadline = next_unsigned(10);
	attr.period = next_unsigned(10);
	if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
		fail(125, "set scheduler (process.scheduler): %s", strerror(errno));
}

// op_ioprio sets the command's I/O priority (process.ioPriority): VALUE
// is ioprio_set(2)'s, the class and the level in one.
static void op_ioprio(void) {
	int value = (int)next_num();
	if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, value) < 0)
		fail(125, "set I/O priority (process.ioPriority): %s", strerror(errno));
}

// next_mask reads a mask of the plan (64-bit words in hex, comma-separated;
// empty: none) into words, and returns how many it read.
static size_t next_mask(unsigned long *words, size_t max) {
	char *mask = next();
	size_t n = 0;
	for (char *w = mask, *end; *w; w = *end ? end + 1 : end) {
		errno = 0;
		unsigned long long v = strtoull(w, &end, 16);
		if (errno || end == w || (*end && *end != ',') || n >= max)
			fail(125, "init: bad mask %s in plan", mask);
		words[n++] = (unsigned long)v;
	}
	return n;
}

// op_mempolicy sets the NUMA memory policy (linux.memoryPolicy) with
// set_mempolicy(2): MODE with its flags, MASK the nodes (64-bit words in
// hex, comma-separated; empty: none). Kept across fork and exec.
static void op_mempolicy(void) {
	int mode = (int)next_num();
	unsigned long words[16] = {0};
	size_t n = next_mask(words, sizeof words / sizeof words[0]);
	// maxnode counts one more than the mask's bits (as numactl passes it).
	if (syscall(SYS_set_mempolicy, mode, n ? words : NULL, n ? n * 64 + 1 : 0) < 0)
		fail(125, "set memory policy (linux.memoryPolicy): %s", strerror(errno));
}

// op_affinity sets the CPUs we run on (an exec's execCPUAffinity): MASK as
// mempolicy's.
static void op_affinity(void) {
	static unsigned long words[128]; // 8192 CPUs
	memset(words, 0, sizeof words);
	size_t n = next_mask(words, sizeof words / sizeof words[0]);
	if (syscall(SYS_sched_setaffinity, 0, n * sizeof words[0], words) < 0)
		fail(125, "set CPU affinity (process.execCPUAffinity): %s", strerror(errno));
}

// op_moveroot enters the root without pivot_root (runc's --no-pivot, for a
// root on a ramfs): move it over / and chroot.
static void op_moveroot(void) {
	char *root = next();
	if (chdir(root) < 0 || mount(root, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
		fail(125, "move root: %s", strerror(errno));
	close(root_fd);
	root_fd = -1;
}

// The ops by name; their arguments are in runtime/initplan.go's planOps,
// which the Go side checks every op it emits against.
static const struct op {
	const char *name;
	void (*run)(void);
} ops[] = {
	{"setns", op_setns},     {"fork", op_fork},         {"lo", op_lo},
	{"private", op_private}, {"mount", op_mount},       {"root", op_root},
	{"mountin", op_mountin}, {"mknod", op_mknod},       {"symlink", op_symlink},
	{"mask", op_mask},       {"readonly", op_readonly}, {"mkdir", op_mkdir},
	{"pivot", op_pivot},     {"tasks", op_tasks},       {"cgroupns", op_cgroupns},
	{"wait", op_wait},       {"pty", op_pty},           {"hostname", op_hostname},
	{"rlimit", op_rlimit},   {"nnp", op_nnp},           {"seccomp", op_seccomp},
	{"identity", op_identity}, {"chdir", op_chdir},     {"exec", op_exec},
	{"notify", op_notify},   {"fifo", op_fifo},         {"write", op_write},
	{"chown", op_chown},     {"hook", op_hook},         {"umask", op_umask},
	{"personality", op_personality}, {"started", op_started},
	{"preserve", op_preserve}, {"moveroot", op_moveroot},
	{"sched", op_sched},     {"ioprio", op_ioprio},
	{"timens", op_timens},    {"movemount", op_movemount}, {"mempolicy", op_mempolicy},
	{"domainname", op_domainname},   {"affinity", op_affinity},
};

static void run_plan(void) {
	for (;;) {
		char *name = next();
		size_t i = 0;
		while (i < sizeof ops / sizeof ops[0] && strcmp(name, ops[i].name) != 0)
			i++;
		if (i == sizeof ops / sizeof ops[0])
			fail(125, "init: unknown op %s in plan", name);
		ops[i].run();
	}
}

void hutch_container_init(void) {
	const char *on = getenv("_HUTCH_INIT");
	if (!on || !*on)
		return;
	// Until the exec, nothing in the container may open /proc/1/exe (the host's hutch).
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(125, "set dumpable: %s", strerror(errno));
	read_plan();
	run_plan();
}
