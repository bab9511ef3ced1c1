// Joins a running container before the Go runtime starts: Go cannot setns
// into a mount namespace once it has threads, and a pid namespace only
// applies to children, so this runs as a constructor, joins everything, forks,
// and lets Go start in the child while the parent relays signals and the
// child's exit status.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child = -1;

static void forward(int sig) {
	if (child > 0)
		kill(child, sig);
}

// fail ends an exec that could not enter the container (it exited
// meanwhile, ...) with 126, the code Docker's daemon gives an exec that
// could not start.
static void fail(const char *what, const char *arg) {
	fprintf(stderr, "hutch: exec: %s %s: %s\n", what, arg, strerror(errno));
	_exit(126);
}

// join_cgroups writes "0" to each v1 tasks file in the colon-separated list,
// which moves this (still single-threaded) process without the global lock a
// write to cgroup.procs takes. The v2 group was joined at clone.
static void join_cgroups(char *list) {
	for (char *p = strtok(list, ":"); p; p = strtok(NULL, ":")) {
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fail("open", p);
		if (write(fd, "0", 1) != 1)
			fail("join cgroup", p);
		close(fd);
	}
}

void hutch_nsenter(void) {
	const char *target = getenv("_HUTCH_NSENTER_PID");
	if (!target || !*target)
		return;
	// Nothing in the container may open /proc/<pid>/exe of this process.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	char *cgroups = getenv("_HUTCH_NSENTER_CGROUPS");
	if (cgroups && *cgroups)
		join_cgroups(strdup(cgroups));

	// Open every namespace first: /proc changes meaning once we join the mount namespace.
	static const char *names[] = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};
	int fds[6];
	for (int i = 0; i < 6; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%s/ns/%s", target, names[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			fail("open", path);
	}
	for (int i = 0; i < 6; i++) {
		if (setns(fds[i], 0) < 0)
			fail("join namespace", names[i]);
		close(fds[i]);
	}
	child = fork();
	if (child < 0)
		fail("fork", "");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		return; // on into the Go runtime, inside the container
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	for (int sig = 1; sig < 32; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD)
			continue;
		sigaction(sig, &sa, NULL);
	}
	int status;
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			fail("wait", "");
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}
