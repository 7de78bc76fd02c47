/* test_progress.c: -q, -v and --log-level, and the progress line of long runs on a terminal. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define T_LIMIT_MS 30000
#define T_TICKER   "build/tests/linux/ticker-musl"
#define T_SLEEPER  "build/tests/linux/sleeper-musl"
#define T_SLOWINIT "build/tests/linux/slowinit-musl"
#define T_TTYPROBE "build/tests/linux/ttyprobe-musl"

/*
 * Runs `mvmm ARGS...` with stdout and stderr on a pseudo-terminal (stdin
 * /dev/null), as a user at a terminal would; p->err gets all the terminal
 * showed, p->out stays empty.
 */
static void t_run_pty(char *const argv[], int timeout_ms, struct t_proc *p)
{
	uint64_t start = t_now_ns(), deadline = start + (uint64_t)timeout_ms * 1000000ull;
	int master, slave;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	t_append(&p->out, &p->out_len, "", 0);
	t_append(&p->err, &p->err_len, "", 0);
	cr_assert(openpty(&master, &slave, NULL, NULL, NULL) == 0, "openpty: %s", strerror(errno));
	if (getenv("T_CHILD_ASAN_OPTIONS"))
		setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		close(master);
		setsid();
		dup2(null, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(slave);
		execv(argv[0], argv);
		_exit(127);
	}
	close(slave);
	for (;;) {
		struct pollfd pfd = {master, POLLIN, 0};
		uint64_t now = t_now_ns();
		char buf[4096];
		ssize_t n;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			p->timed_out = 1;
			break;
		}
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
			continue;
		n = read(master, buf, sizeof(buf));
		if (n > 0)
			t_append(&p->err, &p->err_len, buf, (size_t)n);
		else if (n == 0 || errno != EINTR)
			break; /* EIO: every holder of the terminal's slave side is gone */
	}
	close(master);
	t_reap(pid, start, deadline, p);
}

#define T_MVMM_PTY(p, timeout_ms, ...)                                               \
	do {                                                                         \
		char *t_argv_[] = {(char *)t_mvmm_bin(), __VA_ARGS__, NULL};         \
		t_run_pty(t_argv_, (timeout_ms), (p));                               \
	} while (0)

TestSuite(progress, .timeout = 60);

/* Two instances sleep 10 s; --timeout 2 stops them: a 2-second fleet. */
Test(progress, a_two_second_fleet_shows_progress_on_a_terminal_and_erases_it)
{
	struct t_proc p;
	const char *last;

	T_MVMM_PTY(&p, T_LIMIT_MS, "run", "--count", "2", "--timeout", "2", T_SLEEPER);
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 124, "%s", p.err);
	cr_expect(strstr(p.err, "\r\033[Kmvmm: 2/2 started, 0 held, 0 exited, "),
		  "no progress line:\n%s", p.err);
	/* The last line drawn was erased before the timeout lines were printed. */
	last = strstr(p.err, "guest stopped after its timeout");
	cr_assert(last, "%s", p.err);
	cr_expect(!strstr(last, "started,"), "progress after the run's end:\n%s", p.err);
	cr_expect(strstr(p.err, "\r\033[K[0] mvmm: guest stopped") ||
			  strstr(p.err, "\r\033[Kmvmm: [0] guest stopped"),
		  "the progress line was not erased before the results:\n%s", p.err);
	t_proc_free(&p);
}

Test(progress, nothing_of_it_through_a_pipe)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "2", "--timeout", "2", T_SLEEPER);
	cr_expect_eq(p.status, 124, "%s", p.err);
	cr_expect(!strstr(p.err, "started,") && !strchr(p.err, '\033') && !strchr(p.err, '\r'),
		  "progress text on a pipe:\n%s", p.err);
	t_proc_free(&p);
}

Test(progress, quiet_silences_it)
{
	struct t_proc p;

	T_MVMM_PTY(&p, T_LIMIT_MS, "run", "-q", "--count", "2", "--timeout", "2", T_SLEEPER);
	cr_expect_eq(p.status, 124, "%s", p.err);
	cr_expect(!strstr(p.err, "started,") && !strchr(p.err, '\033'), "%s", p.err);
	/* errors still show */
	cr_expect(strstr(p.err, "guest stopped after its timeout"), "%s", p.err);
	t_proc_free(&p);
}

/*
 * Guest lines written while the progress line stands: each begins a line
 * of its own on the terminal (after a newline, or the erase sequence), whole.
 */
Test(progress, guest_lines_stay_whole)
{
	struct t_proc p;
	const char *at;
	int n = 0;

	T_MVMM_PTY(&p, T_LIMIT_MS, "run", "--count", "2", T_TICKER, "2", "1500");
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "started,"), "no progress drawn in 3 s:\n%s", p.err);
	for (at = p.err; (at = strstr(at, "] tick ")); at++, n++) {
		const char *line = at - 2; /* "[I" */

		cr_assert(line >= p.err && line[0] == '[', "%s", p.err);
		cr_expect(line == p.err || line[-1] == '\n' ||
				  (line - p.err >= 3 && strncmp(line - 3, "\033[K", 3) == 0),
			  "a guest line shares the terminal line with something:\n%s", p.err);
		cr_expect(strncmp(at + 8, "\r\n", 2) == 0, "a guest line cut:\n%s", p.err);
	}
	cr_expect_eq(n, 4, "%s", p.err);
	t_proc_free(&p);
}

/* ---- a long phase: a template's 3-second boot ---- */

/* The boot, not through the cache (--no-cache): each run boots again. */
#define T_SLOW_TEMPLATE "run", "--no-cache", "--template", "--ready-on=stdin", T_SLOWINIT

Test(progress, a_long_template_boot_shows_its_phase_and_erases_it)
{
	struct t_proc p;
	const char *after;

	T_MVMM_PTY(&p, T_LIMIT_MS, T_SLOW_TEMPLATE);
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "\r\033[Kmvmm: booting the template: "),
		  "no progress line in a 5.5 s boot:\n%s", p.err);
	/* erased at the end of the phase: the clone's line starts a clean line */
	after = strstr(p.err, "slowinit: got 0 bytes");
	cr_assert(after, "%s", p.err);
	cr_expect(!strstr(after, "booting the template"), "progress after the boot:\n%s", p.err);
	cr_expect(after - p.err >= 3 && strncmp(after - 3, "\033[K", 3) == 0,
		  "the line was not erased at the end of the boot:\n%s", p.err);
	t_proc_free(&p);
}

/*
 * The guest writes to the terminal itself during the boot (from the vCPU
 * thread, not through the command's output): its line still stands whole
 * on a line of its own, the progress line erased before it.
 */
Test(progress, guest_output_during_a_boot_stays_whole)
{
	struct t_proc p;
	const char *at;

	T_MVMM_PTY(&p, T_LIMIT_MS, T_SLOW_TEMPLATE);
	cr_expect_eq(p.status, 0, "%s", p.err);
	at = strstr(p.err, "slowinit: halfway");
	cr_assert(at, "%s", p.err);
	/* drawn at 1 s, so it stood there when the guest wrote at 3 s */
	cr_expect(strstr(p.err, "booting the template") < at, "no progress before:\n%s", p.err);
	cr_expect(at - p.err >= 3 && strncmp(at - 3, "\033[K", 3) == 0,
		  "the guest's line shares the terminal line with progress:\n%s", p.err);
	cr_expect(strncmp(at + strlen("slowinit: halfway"), "\r\n", 2) == 0,
		  "the guest's line cut:\n%s", p.err);
	t_proc_free(&p);
}

Test(progress, a_long_boot_shows_nothing_through_a_pipe_or_with_quiet)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, T_SLOW_TEMPLATE);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "slowinit: halfway\nslowinit: got 0 bytes\n"), "%s", p.err);
	cr_expect(!strstr(p.err, "booting") && !strchr(p.err, '\033') && !strchr(p.err, '\r'),
		  "progress text on a pipe:\n%s", p.err);
	t_proc_free(&p);
	T_MVMM_PTY(&p, T_LIMIT_MS, "run", "-q", "--no-cache", "--template", "--ready-on=stdin",
		   T_SLOWINIT);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(!strstr(p.err, "booting") && !strchr(p.err, '\033'), "%s", p.err);
	cr_expect(strstr(p.err, "slowinit: halfway\r\n"), "%s", p.err);
	t_proc_free(&p);
}

/*
 * A guest asking its terminal's settings (TCGETS, as isatty and Python's
 * start-up do) gets the kernel's 36-byte struct termios, not libc's 60
 * bytes written over its stack (seen: python3 as a template on a terminal
 * died of "stack smashing detected").
 */
Test(progress, a_guest_on_a_terminal_gets_the_kernels_termios)
{
	struct t_proc p;

	T_MVMM_PTY(&p, T_LIMIT_MS, "run", T_TTYPROBE);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "ttyprobe: termios ok"), "%s", p.err);
	t_proc_free(&p);
}

/* ---- log levels ---- */

static char cache_dir[64];

static void cache_setup(void)
{
	snprintf(cache_dir, sizeof(cache_dir), "/tmp/mvmm-logt-XXXXXX");
	cr_assert(mkdtemp(cache_dir));
}

static void cache_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", cache_dir);
	cr_expect(system(cmd) == 0);
}

TestSuite(log, .init = cache_setup, .fini = cache_teardown, .timeout = 60);

Test(log, verbose_tells_the_cache_decision)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "-v", "--cache-dir", cache_dir, T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "mvmm: info: cache: image of " T_GUEST("hello")
				": miss (no entry): built and stored"), "%s", p.err);
	cr_expect(!strstr(p.err, "mvmm: debug:"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, T_LIMIT_MS, "run", "--verbose", "--cache-dir", cache_dir, T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "mvmm: info: cache: image of " T_GUEST("hello") ": hit: mapped"),
		  "%s", p.err);
	t_proc_free(&p);
}

Test(log, default_level_says_no_decision)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--cache-dir", cache_dir, T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(!strstr(p.err, "mvmm: info:") && !strstr(p.err, "mvmm: debug:"), "%s", p.err);
	t_proc_free(&p);
}

Test(log, twice_verbose_and_log_level_debug_add_debug_lines)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "-vv", "--count", "2", "--cache-dir", cache_dir,
	       T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "mvmm: debug: fleet: 2 instances"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, T_LIMIT_MS, "run", "--log-level=debug", "--count", "2", "--cache-dir",
	       cache_dir, T_GUEST("hello"));
	cr_expect(strstr(p.err, "mvmm: debug: fleet: 2 instances"), "%s", p.err);
	t_proc_free(&p);
	/* a sharded fleet names its workers */
	T_MVMM(&p, T_LIMIT_MS, "run", "-v", "--count", "3", "--per-process", "2", "--cache-dir",
	       cache_dir, T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.err, "mvmm: info: fleet: 3 instances over 2 worker processes of at "
				"most 2 each"), "%s", p.err);
	t_proc_free(&p);
}

Test(log, quiet_keeps_errors_only)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "-q", "-v", "-q", "--cache-dir", cache_dir,
	       T_GUEST("fault"));
	cr_expect_eq(p.status, 123, "%s", p.err);
	cr_expect(!strstr(p.err, "mvmm: info:"), "%s", p.err);
	cr_expect(strstr(p.err, "mvmm: "), "the fault report is an error: %s", p.err);
	t_proc_free(&p);
}

Test(log, a_bad_level_is_a_usage_error)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--log-level=loud", T_GUEST("hello"));
	cr_expect_eq(p.status, 125, "%s", p.err);
	cr_expect(strstr(p.err, "--log-level") && strstr(p.err, "loud"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, T_LIMIT_MS, "serve", "--log-level", "x", "--socket", "/tmp/none", "g");
	cr_expect_eq(p.status, 125, "%s", p.err);
	cr_expect(strstr(p.err, "mvmm serve: --log-level"), "%s", p.err);
	t_proc_free(&p);
}
