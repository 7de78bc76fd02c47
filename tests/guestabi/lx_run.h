/*
 * lx_run.h: helpers for the suites that run unmodified Linux programs
 * (test_linux_*.c): a child process with a chosen stdin and environment
 * (the same command under `mvmm run` and natively), output compared with
 * mvmm's own notes left out, temporary trees, the test programs' paths.
 */
#ifndef MVMM_TEST_LX_RUN_H
#define MVMM_TEST_LX_RUN_H

/* The including file defines _GNU_SOURCE first (nftw, pipe2, execve's environ). */
#include <ftw.h>

#include "harness.h"

#define LXT_LIMIT_MS 60000 /* per run: the harness kills a run that goes past it (a hang) */
#define LXT_BUSYBOX  "/bin/busybox"

extern char **environ;

static const char *const lxt_libcs[] = {"musl", "glibc"};

/* build/tests/linux/NAME-LIBC, in buf. */
static inline char *lxt_prog(char *buf, size_t cap, const char *name, const char *libc)
{
	snprintf(buf, cap, "build/tests/linux/%s-%s", name, libc);
	cr_assert(access(buf, X_OK) == 0, "%s missing: make build/tests/linux/%s-%s", buf, name,
		  libc);
	return buf;
}

/* The test process's stdio for a child: stdin from in_path (NULL: /dev/null). */
static inline void lxt_child_stdio(const char *in_path, int out, int err)
{
	int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
	sigset_t none;

	if (in < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	/* Linux programs expect SIGPIPE at its default, whatever the runner did with it */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Appends to a capture buffer that grows by doubling (megabytes of --strace stay cheap). */
static inline void lxt_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 8192;
		char *b;

		while (c < *len + n + 1)
			c *= 2;
		b = realloc(*buf, c);
		cr_assert(b);
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/*
 * Runs the program at path with argv, stdin from in_path (NULL: /dev/null) and the
 * environment envp (NULL: this process's), capturing stdout and stderr; kills
 * it after timeout_ms (p->timed_out). As t_run in harness.h, with those two choices.
 */
static inline void lxt_exec_path(const char *path, char *const argv[], char *const envp[],
				 const char *in_path, int timeout_ms, struct t_proc *p)
{
	int out[2], err[2];
	uint64_t start = t_now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ull;
	size_t out_cap = 0, err_cap = 0;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	lxt_append(&p->out, &p->out_len, &out_cap, "", 0);
	lxt_append(&p->err, &p->err_len, &err_cap, "", 0);
	cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	if (getenv("T_CHILD_ASAN_OPTIONS"))
		setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		lxt_child_stdio(in_path, out[1], err[1]);
		execve(path, argv, envp ? envp : environ);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	while (out[0] >= 0 || err[0] >= 0) {
		struct pollfd pfd[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
		uint64_t now = t_now_ns();
		char buf[65536];

		if (now >= deadline) {
			kill(pid, SIGKILL);
			p->timed_out = 1;
			break;
		}
		if (poll(pfd, 2, (int)((deadline - now) / 1000000ull) + 1) < 0 && errno != EINTR)
			cr_assert_fail("poll: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			int *fd = i == 0 ? &out[0] : &err[0];
			ssize_t n;

			if (*fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(*fd, buf, sizeof(buf));
			if (n > 0 && i == 0)
				lxt_append(&p->out, &p->out_len, &out_cap, buf, (size_t)n);
			else if (n > 0)
				lxt_append(&p->err, &p->err_len, &err_cap, buf, (size_t)n);
			else if (n == 0 || errno != EINTR) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	t_reap(pid, start, deadline, p);
}

/* As lxt_exec_path, argv[0] the path. */
static inline void lxt_exec(char *const argv[], char *const envp[], const char *in_path,
			    int timeout_ms, struct t_proc *p)
{
	lxt_exec_path(argv[0], argv, envp, in_path, timeout_ms, p);
}

/* Appends the NULL-terminated list src to argv (at *n, at most cap - 1 entries). */
static inline void lxt_argv_add(char **argv, size_t *n, size_t cap, const char *const *src)
{
	for (; src && *src; src++) {
		cr_assert(*n + 1 < cap, "too many arguments");
		argv[(*n)++] = (char *)*src;
	}
	argv[*n] = NULL;
}

/* `mvmm run OPTS... PROG ARGS...` (both lists NULL-terminated, either NULL), stdin from in_path. */
static inline void lxt_guest(struct t_proc *p, const char *const *opts, const char *prog,
			     const char *const *args, const char *in_path, int timeout_ms)
{
	char *argv[256];
	const char *head[] = {t_mvmm_bin(), "run", NULL}, *pr[] = {prog, NULL};
	size_t n = 0;

	lxt_argv_add(argv, &n, 256, head);
	lxt_argv_add(argv, &n, 256, opts);
	lxt_argv_add(argv, &n, 256, pr);
	lxt_argv_add(argv, &n, 256, args);
	lxt_exec(argv, NULL, in_path, timeout_ms, p);
}

/*
 * PROG ARGS... natively, with exactly the environment envp (NULL: an empty one) and
 * argv[0] argv0 (NULL: PROG).
 */
static inline void lxt_native_as(struct t_proc *p, const char *prog, const char *argv0,
				 const char *const *args, const char *const *envp,
				 const char *in_path, int timeout_ms)
{
	static const char *const empty[] = {NULL};
	char *argv[256];
	const char *pr[] = {argv0 ? argv0 : prog, NULL};
	size_t n = 0;

	lxt_argv_add(argv, &n, 256, pr);
	lxt_argv_add(argv, &n, 256, args);
	lxt_exec_path(prog, argv, (char *const *)(envp ? envp : empty), in_path, timeout_ms, p);
}

static inline void lxt_native(struct t_proc *p, const char *prog, const char *const *args,
			      const char *const *envp, const char *in_path, int timeout_ms)
{
	lxt_native_as(p, prog, NULL, args, envp, in_path, timeout_ms);
}

/* Lines in s before the position end. */
static inline long lxt_count_lines(const char *s, const char *end)
{
	long n = 0;

	for (; s < end; s++)
		n += *s == '\n';
	return n;
}

/* s without the lines mvmm adds about unsupported system calls (malloc'd). */
static inline char *lxt_strip_notes(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *r = malloc(len + 1);

	cr_assert(r);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t l = nl ? (size_t)(nl - s) + 1 : strlen(s);

		if (strncmp(s, "mvmm: system call ", 18)) {
			memcpy(r + o, s, l);
			o += l;
		}
		s += l;
	}
	r[o] = '\0';
	return r;
}

static inline void lxt_expect_no_sanitizer(const char *what, const struct t_proc *p)
{
	cr_expect(!strstr(p->err, "AddressSanitizer") && !strstr(p->err, "runtime error") &&
			  !strstr(p->err, "LeakSanitizer") && !strstr(p->err, "UndefinedBehavior"),
		  "%s: sanitizer report:\n%s", what, p->err);
}

/* The line where a and b first differ (its start in a), or NULL when equal. */
static inline const char *lxt_first_diff(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, line = 0;

	while (i < alen && i < blen && a[i] == b[i]) {
		if (a[i] == '\n')
			line = i + 1;
		i++;
	}
	return i == alen && i == blen ? NULL : a + line;
}

/* The guest run printed what the native run printed and ended the same way. */
static inline void lxt_expect_same(const char *what, const struct t_proc *g, const struct t_proc *h)
{
	char *ge = lxt_strip_notes(g->err);
	const char *d = lxt_first_diff(g->out, g->out_len, h->out, h->out_len);

	cr_expect(!g->timed_out, "%s: mvmm run timed out", what);
	cr_expect(!h->timed_out, "%s: the native run timed out", what);
	cr_expect_eq(g->status, h->status,
		     "%s: status %d under mvmm, %d natively; stderr:\n%.2000s", what, g->status,
		     h->status, g->err);
	cr_expect(!d,
		  "%s: stdout differs from line %ld on (%zu bytes under mvmm, %zu natively)\n"
		  "--- mvmm:\n%.600s\n--- native:\n%.600s",
		  what, d ? (long)lxt_count_lines(g->out, d) + 1 : 0, g->out_len, h->out_len,
		  d ? d : "", d ? h->out + (d - g->out) : "");
	cr_expect_str_eq(ge, h->err, "%s: stderr differs\n--- mvmm:\n%.2000s\n--- native:\n%.2000s",
			 what, g->err, h->err);
	lxt_expect_no_sanitizer(what, g);
	free(ge);
}

/*
 * How many times needle occurs in s. One pass, no strstr: under ASan each strstr call
 * checks the whole rest of s, which over megabytes of --strace output takes minutes.
 */
static inline int lxt_count(const char *s, const char *needle)
{
	size_t n = strlen(needle), len = strlen(s);
	int count = 0;

	for (size_t i = 0; n && i + n <= len; i++)
		if (s[i] == needle[0] && !memcmp(s + i, needle, n))
			count++;
	return count;
}

/* ---- temporary trees -------------------------------------------------------------------- */

static inline char *lxt_tmpdir(void)
{
	char *d = strdup("/tmp/mvmm-lx.XXXXXX");

	cr_assert(d && mkdtemp(d), "mkdtemp: %s", strerror(errno));
	return d;
}

static inline void lxt_path(char *buf, size_t cap, const char *dir, const char *rel)
{
	int n = snprintf(buf, cap, "%s/%s", dir, rel);

	cr_assert(n > 0 && (size_t)n < cap);
}

static inline void lxt_mkfile(const char *dir, const char *rel, const void *data, size_t len)
{
	char p[4096];

	lxt_path(p, sizeof(p), dir, rel);
	t_write_file(p, data, len);
}

static inline void lxt_mkdir(const char *dir, const char *rel)
{
	char p[4096];

	lxt_path(p, sizeof(p), dir, rel);
	cr_assert(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
}

static inline void lxt_symlink(const char *dir, const char *rel, const char *target)
{
	char p[4096];

	lxt_path(p, sizeof(p), dir, rel);
	cr_assert(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
}

/* Sets the access and modification times of dir/rel (not following a link) to secs. */
static inline void lxt_settime(const char *dir, const char *rel, time_t secs)
{
	struct timespec ts[2] = {{secs, 0}, {secs, 0}};
	char p[4096];

	lxt_path(p, sizeof(p), dir, rel);
	cr_assert(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat %s: %s", p,
		  strerror(errno));
}

static inline int lxt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf dir, and frees the name. */
static inline void lxt_rmtree(char *dir)
{
	if (!dir)
		return;
	nftw(dir, lxt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* A machine without KVM fails these suites, never skips them. */
static inline void lxt_need_kvm(void)
{
	struct kvm_sys kvm;

	t_kvm_open(&kvm);
	kvm_sys_close(&kvm);
}

#endif
