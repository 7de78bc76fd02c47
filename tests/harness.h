/* harness.h: helpers shared by the test suites: files, child processes with a deadline, KVM. */
#ifndef MVMM_TEST_HARNESS_H
#define MVMM_TEST_HARNESS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/kvm.h"

/* Paths are relative to the repository root: make runs the suites from there. */
#define T_GUEST(name)	    "build/guest/" name ".elf"
#define T_TEST_GUEST(name)  "build/tests/guests/" name ".elf"
#define T_HELLO_PIE	    T_TEST_GUEST("hello-pie")
#define T_HELLO_TEXT	    "Hello from mvmm guest"

static inline uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * What a file a child writes holds so far (its stderr, a server's log), as a
 * string (malloc'd): "" while it does not exist or cannot be read.
 */
static inline char *t_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/* The whole file at path (malloc'd), or a test failure. */
static inline uint8_t *t_read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0, "cannot open %s: %s (run `make` first)", path, strerror(errno));
	cr_assert(fstat(fd, &st) == 0);
	buf = malloc((size_t)st.st_size + 1);
	cr_assert(buf);
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		cr_assert(n > 0, "reading %s", path);
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

/* Entries in /proc/self/fd and lines in /proc/self/maps. */
/* Writes len bytes of buf to path (created or truncated), or a test failure. */
static inline void t_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "we");

	cr_assert(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static inline int t_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/*
 * Under ASan the allocator and its quarantine keep mapping anonymous memory
 * as the test allocates, so there only named mappings are counted (the
 * image memfds, guest memory mapped from them, kvm_run's anon_inode); the
 * plain build counts every line.
 */
static inline int t_count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
#ifdef __SANITIZE_ADDRESS__
		/* address perms offset dev inode [path]: skip lines without a path */
		char path[4096] = "";

		if (sscanf(line, "%*s %*s %*s %*s %*s %4095s", path) != 1 || !path[0])
			continue;
#endif
		n++;
	}
	fclose(f);
	return n;
}

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/* Under ASan: fails the test if the heap holds unreachable blocks now (the report is on stderr). */
static inline void t_lsan_check(void)
{
#ifdef __SANITIZE_ADDRESS__
	cr_expect_eq(__lsan_do_recoverable_leak_check(), 0,
		     "heap blocks leaked (LeakSanitizer's report is above)");
#endif
}

/* Opens KVM or fails loudly: a machine without KVM must fail these tests, never skip them. */
static inline void t_kvm_open(struct kvm_sys *kvm)
{
	int rc = kvm_sys_open(kvm);

	cr_assert(rc == 0, "/dev/kvm unusable: %s — these tests need KVM", mvmm_errmsg());
}

/* The mvmm command under test: $MVMM_BIN (set by make), else build/mvmm. */
static inline const char *t_mvmm_bin(void)
{
	const char *b = getenv("MVMM_BIN");

	return b && *b ? b : "build/mvmm";
}

struct t_proc {
	int status;	 /* exit status, or 128 + signal */
	int timed_out;	 /* killed by the harness at its deadline */
	double secs;	 /* wall time */
	char *out, *err; /* captured stdout and stderr, NUL-terminated */
	size_t out_len, err_len;
};

static inline void t_proc_free(struct t_proc *p)
{
	free(p->out);
	free(p->err);
	memset(p, 0, sizeof(*p));
}

static inline void t_append(char **buf, size_t *len, const char *data, size_t n)
{
	char *b = realloc(*buf, *len + n + 1);

	cr_assert(b);
	memcpy(b + *len, data, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
}

/*
 * Waits for child pid, killing it at the deadline (p->timed_out), and sets
 * p's wall time since start and its exit status (128 + signal if killed).
 */
static inline void t_reap(pid_t pid, uint64_t start, uint64_t deadline, struct t_proc *p)
{
	int st = 0;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		cr_assert(w == 0, "waitpid: %s", strerror(errno));
		if (t_now_ns() >= deadline && !p->timed_out) {
			kill(pid, SIGKILL);
			p->timed_out = 1;
		}
		usleep(1000);
	}
	p->secs = (double)(t_now_ns() - start) / 1e9;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Runs argv (argv[0] is a path) with stdin from /dev/null, capturing stdout
 * and stderr; kills it after timeout_ms. Never hangs the suite.
 */
static inline void t_run(char *const argv[], int timeout_ms, struct t_proc *p)
{
	int out[2], err[2], open_fds = 2;
	uint64_t start = t_now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ull;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	t_append(&p->out, &p->out_len, "", 0);
	t_append(&p->err, &p->err_len, "", 0);
	cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	/* The sanitizers read their options at start-up: changing ours only affects the child. */
	if (getenv("T_CHILD_ASAN_OPTIONS"))
		setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	while (open_fds > 0) {
		struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
		uint64_t now = t_now_ns();
		int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000ull) + 1;
		char buf[4096];
		int i;

		if (pfd[0].fd < 0 && pfd[1].fd < 0)
			break;
		if (now >= deadline) {
			kill(pid, SIGKILL);
			p->timed_out = 1;
			break;
		}
		if (poll(pfd, 2, left) < 0 && errno != EINTR)
			cr_assert_fail("poll: %s", strerror(errno));
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n > 0) {
				if (i == 0)
					t_append(&p->out, &p->out_len, buf, (size_t)n);
				else
					t_append(&p->err, &p->err_len, buf, (size_t)n);
			} else if (n == 0 || errno != EINTR) {
				close(i == 0 ? out[0] : err[0]);
				if (i == 0)
					out[0] = -1;
				else
					err[0] = -1;
				open_fds--;
			}
		}
	}
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	/* Output closed: the child is ending; still bound the wait by the deadline. */
	t_reap(pid, start, deadline, p);
}

/* Runs `mvmm ARGS...` (args NULL-terminated) with a deadline. */
#define T_MVMM(p, timeout_ms, ...)                                                    \
	do {                                                                          \
		char *t_argv_[] = { (char *)t_mvmm_bin(), __VA_ARGS__, NULL };        \
		t_run(t_argv_, (timeout_ms), (p));                                    \
	} while (0)

#endif
