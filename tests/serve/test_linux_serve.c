/*
 * test_linux_serve.c: `mvmm serve --socket PATH --ready-on=stdin PROG` with an unmodified Linux
 * program, and `mvmm launch --socket PATH ARGS...`: the program is booted once (its
 * initialisation runs once, in the server) and frozen at its first read of stdin; each launch
 * gets a clone whose stdin is the launch's ARGS, one per line, then end of file. launch relays
 * the clone's stdout and stderr and exits with its status (124 past the server's --timeout).
 * Servers run in a private temporary directory and are killed at the end of every test.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "guestabi/lx_fleet.h"

#define T_LIMIT_MS 30000

struct lsrv {
	pid_t pid;
	char dir[64];
	char sock[128];
	char err[128]; /* its stderr */
};

static pid_t live_server = -1;
static char live_dir[64];

/* After every test, passed or failed: no server outlives its test, nor its directory. */
static void kill_server(void)
{
	if (live_server > 0) {
		kill(live_server, SIGKILL);
		waitpid(live_server, NULL, 0);
		live_server = -1;
	}
	if (live_dir[0]) {
		lxt_rmtree(strdup(live_dir));
		live_dir[0] = '\0';
	}
	lxf_cleanup();
}

TestSuite(linux_serve, .init = lxt_need_kvm, .fini = kill_server, .timeout = 300);

/* `mvmm serve --socket SOCK ARGS...` (NULL-terminated); returns once it says it is ready. */
static void srv_start(struct lsrv *s, const char *const *args)
{
	char *argv[32] = {(char *)t_mvmm_bin(), "serve", "--socket", s->sock};
	uint64_t deadline = t_now_ns() + 30000000000ull;
	size_t n = 4;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/mvmm-lxsrv-XXXXXX");
	cr_assert(mkdtemp(s->dir));
	snprintf(live_dir, sizeof(live_dir), "%s", s->dir);
	snprintf(s->sock, sizeof(s->sock), "%s/s.sock", s->dir);
	snprintf(s->err, sizeof(s->err), "%s/serve.err", s->dir);
	lxt_argv_add(argv, &n, 32, args);
	s->pid = fork();
	cr_assert(s->pid >= 0);
	if (s->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int err = open(s->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getenv("T_CHILD_ASAN_OPTIONS"))
			setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
		dup2(null, 0);
		dup2(null, 1);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	live_server = s->pid;
	for (;;) {
		char *text = t_slurp(s->err);
		int ready = strstr(text, "mvmm serve: ready on") != NULL, st;

		if (ready) {
			free(text);
			return;
		}
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			live_server = -1;
			cr_assert_fail("serve exited (status 0x%x) before ready:\n%s", st, text);
		}
		free(text);
		cr_assert(t_now_ns() < deadline, "serve not ready after 30 s");
		usleep(2000);
	}
}

/* Waits up to ms for pid: its status, or -1 on timeout. */
static int wait_pid(pid_t pid, int ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)ms * 1000000ull;
	int st;

	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (t_now_ns() >= deadline)
			return -1;
		usleep(2000);
	}
}

/*
 * SIGTERM; expects a clean exit, no sanitizer report, the socket gone; returns the server's
 * stderr (malloc'd) and removes its directory.
 */
static char *srv_stop(struct lsrv *s)
{
	char *text;
	int st;

	cr_assert(kill(s->pid, SIGTERM) == 0);
	st = wait_pid(s->pid, 15000);
	if (st >= 0)
		live_server = -1;
	text = t_slurp(s->err);
	cr_expect_eq(st, 0, "serve ended with %d (-1: still running):\n%s", st, text);
	cr_expect(!strstr(text, "Sanitizer") && !strstr(text, "runtime error"), "%s", text);
	cr_expect(access(s->sock, F_OK) != 0, "the socket outlived its server");
	unlink(s->err);
	cr_expect_eq(rmdir(s->dir), 0, "%s: %s", s->dir, strerror(errno));
	live_dir[0] = '\0';
	return text;
}

/* `mvmm launch --socket SOCK ARGS...` (NULL-terminated). */
static void launch(struct t_proc *p, const struct lsrv *s, const char *const *args)
{
	char *argv[64];
	const char *head[] = {t_mvmm_bin(), "launch", "--socket", s->sock, NULL};
	size_t n = 0;

	lxt_argv_add(argv, &n, 64, head);
	lxt_argv_add(argv, &n, 64, args);
	lxt_exec(argv, NULL, NULL, T_LIMIT_MS, p);
	cr_expect(!p->timed_out, "launch hung");
	lxt_expect_no_sanitizer("launch", p);
}

/* The launch's ARGS are its clone's stdin lines; the template booted once, in the server. */
Test(linux_serve, launch_args_are_the_clones_stdin)
{
	static const char want[] = "got: one\ngot: two words\ngot: \ngot: --three\n";

	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256], tpl_hex[33], hex[3][33];
		struct lsrv s;
		struct t_proc p;
		char *err;

		lxt_prog(prog, sizeof(prog), "tplread", lxt_libcs[l]);
		/* booted here, not taken from the image cache: its initialisation is counted */
		srv_start(&s, LXF_ARGS("--no-cache", "--ready-on=stdin", prog));
		for (int i = 0; i < 3; i++) {
			if (i < 2)
				launch(&p, &s, LXF_ARGS("one", "two words", "", "--three"));
			else
				launch(&p, &s, NULL); /* no ARGS: end of file at once */
			cr_assert_eq(p.status, 0, "%s: launch %d: status %d:\n%s", prog, i,
				     p.status, p.err);
			if (i < 2)
				cr_assert(!strncmp(p.out, want, strlen(want)), "%s: launch %d:\n%s",
					  prog, i, p.out);
			else
				cr_assert(!strncmp(p.out, LXF_TABLE, strlen(LXF_TABLE)),
					  "%s: launch without ARGS:\n%s", prog, p.out);
			cr_expect(strstr(p.out, LXF_TABLE), "%s: launch %d:\n%s", prog, i, p.out);
			cr_expect(lxf_random(p.out, hex[i]) && !lxf_zero_random(hex[i]), "%s:\n%s",
				  prog, p.out);
			for (int j = 0; j < i; j++)
				cr_expect_str_neq(hex[i], hex[j],
						  "%s: launches %d and %d share AT_RANDOM", prog, j,
						  i);
			/* the initialisation's output was the server's, before any launch */
			cr_expect_null(strstr(p.err, "init"), "%s: %s", prog, p.err);
			t_proc_free(&p);
		}
		err = srv_stop(&s);
		cr_expect_eq(lxt_count(err, "init random: "), 1,
			     "%s: the program was initialised %d times:\n%s", prog,
			     lxt_count(err, "init random: "), err);
		cr_expect(lxf_random(err, tpl_hex), "%s", err);
		for (int i = 0; i < 3; i++)
			cr_expect_str_neq(hex[i], tpl_hex,
					  "%s: launch %d kept the template's AT_RANDOM", prog, i);
		free(err);
	}
}

/* launch exits with its clone's status; what follows an exit in the request is never read. */
Test(linux_serve, launch_relays_the_clones_status)
{
	static const struct {
		const char *line;
		int status;
	} cases[] = {{"exit 7", 7}, {"exit 0", 0}, {"exit 255", 255}, {"exit 1", 1}};
	char prog[256];
	struct lsrv s;

	lxt_prog(prog, sizeof(prog), "tplread", "musl");
	srv_start(&s, LXF_ARGS("--ready-on=stdin", prog));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];
		struct t_proc p;

		launch(&p, &s, LXF_ARGS("first", cases[i].line, "not read"));
		snprintf(want, sizeof(want), "got: first\ngot: %s\n", cases[i].line);
		cr_expect_eq(p.status, cases[i].status, "%s: status %d:\n%s", cases[i].line,
			     p.status, p.err);
		cr_expect_str_eq(p.out, want);
		t_proc_free(&p);
	}
	free(srv_stop(&s));
}

/* The server's --timeout stops a clone (124); the next launch is served as usual. */
Test(linux_serve, a_clone_past_the_timeout_is_stopped)
{
	char prog[256];
	struct lsrv s;
	struct t_proc p;

	lxt_prog(prog, sizeof(prog), "tplread", "glibc");
	srv_start(&s, LXF_ARGS("--timeout", "0.5", "--ready-on=stdin", prog));
	launch(&p, &s, LXF_ARGS("sleep 10", "after"));
	cr_expect_eq(p.status, 124, "status %d:\n%s", p.status, p.err);
	cr_expect_str_eq(p.out, "got: sleep 10\n");
	cr_expect(strstr(p.err, "timeout"), "%s", p.err);
	t_proc_free(&p);
	launch(&p, &s, LXF_ARGS("exit 3"));
	cr_expect_eq(p.status, 3, "status %d:\n%s", p.status, p.err);
	t_proc_free(&p);
	free(srv_stop(&s));
}

/* busybox sh served: each launch's ARGS are the shell's script; stdout, stderr, status relayed. */
Test(linux_serve, busybox_sh_runs_each_launchs_script)
{
	struct lsrv s;
	struct t_proc p;

	srv_start(&s, LXF_ARGS("--ready-on=stdin", LXT_BUSYBOX, "sh"));
	launch(&p, &s,
	       LXF_ARGS("echo hi", "echo to-stderr >&2", "x=4; echo $((x * 10))", "exit 7"));
	cr_expect_eq(p.status, 7, "status %d:\n%s", p.status, p.err);
	cr_expect_str_eq(p.out, "hi\n40\n");
	cr_expect(strstr(p.err, "to-stderr\n"), "%s", p.err);
	t_proc_free(&p);
	/* a variable set by one launch is not seen by the next: each clone is the template's */
	launch(&p, &s, LXF_ARGS("y=set", "echo \"y=[$y]\""));
	cr_expect_eq(p.status, 0, "status %d:\n%s", p.status, p.err);
	cr_expect_str_eq(p.out, "y=[set]\n");
	t_proc_free(&p);
	launch(&p, &s, LXF_ARGS("echo \"y=[$y]\""));
	cr_expect_str_eq(p.out, "y=[]\n");
	t_proc_free(&p);
	free(srv_stop(&s));
}

/* Launches at once each get their own clone and their own input. */
Test(linux_serve, concurrent_launches_each_read_their_own_args)
{
	enum { N = 6 };
	char prog[256], arg[N][32];
	int out[N];
	pid_t pid[N];
	struct lsrv s;

	lxt_prog(prog, sizeof(prog), "tplread", "musl");
	srv_start(&s, LXF_ARGS("--ready-on=stdin", prog));
	for (int i = 0; i < N; i++) {
		char *argv[] = {(char *)t_mvmm_bin(), "launch", "--socket", s.sock, arg[i], NULL};
		int fds[2];

		snprintf(arg[i], sizeof(arg[i]), "request-%d", i);
		cr_assert(pipe2(fds, O_CLOEXEC) == 0);
		pid[i] = fork();
		cr_assert(pid[i] >= 0);
		if (pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getenv("T_CHILD_ASAN_OPTIONS"))
				setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
			lxt_child_stdio(NULL, fds[1], 2);
			execv(argv[0], argv);
			_exit(127);
		}
		close(fds[1]);
		out[i] = fds[0];
	}
	for (int i = 0; i < N; i++) {
		char buf[4096], want[64];
		size_t len = 0;
		ssize_t n;
		int st;

		while (len < sizeof(buf) - 1 &&
		       (n = read(out[i], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		buf[len] = '\0';
		close(out[i]);
		st = wait_pid(pid[i], T_LIMIT_MS);
		if (st < 0) {
			kill(pid[i], SIGKILL);
			waitpid(pid[i], NULL, 0);
		}
		cr_expect_eq(st, 0, "launch %d: status %d", i, st);
		snprintf(want, sizeof(want), "got: request-%d\n" LXF_TABLE, i);
		cr_expect(!strncmp(buf, want, strlen(want)), "launch %d printed:\n%s", i, buf);
		cr_expect_eq(lxt_count(buf, "got: "), 1, "launch %d printed:\n%s", i, buf);
	}
	free(srv_stop(&s));
}

/* A program that ends before it reads stdin has no ready point: serve fails, no socket left. */
Test(linux_serve, a_program_that_never_reads_stdin_is_not_served)
{
	char *d = lxf_tmpdir(), prog[256], sock[4096];
	struct t_proc p;

	lxt_prog(prog, sizeof(prog), "hello", "musl");
	lxt_path(sock, sizeof(sock), d, "s.sock");
	T_MVMM(&p, T_LIMIT_MS, "serve", "--socket", sock, "--ready-on=stdin", prog);
	cr_expect_eq(p.status, 125, "status %d:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "before calling ready"), "%s", p.err);
	cr_expect(access(sock, F_OK) != 0, "serve left its socket behind");
	lxt_expect_no_sanitizer("serve hello", &p);
	t_proc_free(&p);
	lxf_cleanup();
}

/*
 * Debian's lua5.4 and python3 served: booted once, frozen at their first read of stdin;
 * each `mvmm launch` with no ARGS sends its own stdin, the clone's script.
 */
Test(linux_serve, interpreters_run_each_launchs_stdin)
{
	static const char *const lua[] = {"--ready-on=stdin", "/usr/bin/lua5.4", "-", NULL};
	static const char *const py[] = {"--ready-on=stdin",  "--dir", "/usr/lib/python3.11",
					 "/usr/bin/python3", "-c",    "import sys; exec(sys.stdin.read())",
					 NULL};
	static const char *const *servers[] = {lua, py};
	static const char *const scripts[] = {"print(1+1)\nprint(#arg)\n",
					      "print(sum(range(1000)))\nimport json; print(json.dumps([1]))\n"};
	static const char *const want[] = {"2\n0\n", "499500\n[1]\n"};
	const char *const head[] = {t_mvmm_bin(), "launch", "--socket", NULL, NULL};

	for (int i = 0; i < 2; i++) {
		char in[4096], *argv[8], *d = lxt_tmpdir();
		struct lsrv s;
		struct t_proc p;
		size_t n = 0;
		FILE *f;

		srv_start(&s, servers[i]);
		snprintf(in, sizeof(in), "%s/in", d);
		f = fopen(in, "w");
		cr_assert(f);
		fputs(scripts[i], f);
		fclose(f);
		lxt_argv_add(argv, &n, 8, head);
		argv[3] = s.sock;
		argv[4] = NULL;
		for (int k = 0; k < 2; k++) {
			lxt_exec(argv, NULL, in, T_LIMIT_MS, &p);
			cr_expect_eq(p.status, 0, "%s: status %d:\n%s", servers[i][1], p.status,
				     p.err);
			cr_expect_str_eq(p.out, want[i], "%s:\n%s", servers[i][1], p.err);
			lxt_expect_no_sanitizer("launch", &p);
			t_proc_free(&p);
		}
		free(srv_stop(&s));
		lxt_rmtree(d);
	}
}
