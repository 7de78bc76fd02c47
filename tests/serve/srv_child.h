/* srv_child.h: servers as child processes for the serve suites: started, waited for, stopped. */
#ifndef T_SRV_CHILD_H
#define T_SRV_CHILD_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "harness.h"

#define T_LIMIT_MS  20000
#define T_SERVED    T_TEST_GUEST("served")
#define T_MAX_SRV   4

/* ---- servers as child processes; every one is killed at the end of its test ---- */

struct t_srv {
	pid_t pid;
	char dir[64];
	char path[128]; /* the socket */
	char err[128];	/* its stderr */
};

static pid_t t_children[T_MAX_SRV * 2];

static void t_track(pid_t pid)
{
	for (unsigned i = 0; i < sizeof(t_children) / sizeof(t_children[0]); i++)
		if (!t_children[i]) {
			t_children[i] = pid;
			return;
		}
}

static void t_untrack(pid_t pid)
{
	for (unsigned i = 0; i < sizeof(t_children) / sizeof(t_children[0]); i++)
		if (t_children[i] == pid)
			t_children[i] = 0;
}

/* Runs after every test, failed or not: no server outlives its test. */
static void t_kill_children(void)
{
	for (unsigned i = 0; i < sizeof(t_children) / sizeof(t_children[0]); i++)
		if (t_children[i] > 0) {
			kill(t_children[i], SIGKILL);
			waitpid(t_children[i], NULL, 0);
			t_children[i] = 0;
		}
}

/* In a child: the sanitizer options the harness gives the commands it runs; die with the test. */
static void t_child_setup(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getenv("T_CHILD_ASAN_OPTIONS"))
		setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
}

/* Starts `mvmm serve --socket s->path OPTS... GUEST` (args NULL-terminated) and waits for ready. */
static void t_srv_spawn(struct t_srv *s, const char *dir, const char *errname, char **args)
{
	char *argv[32] = {(char *)t_mvmm_bin(), "serve", "--socket", s->path};
	uint64_t deadline = t_now_ns() + 30000000000ull;
	int n = 4;

	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	snprintf(s->err, sizeof(s->err), "%s/%s", dir, errname);
	s->pid = fork();
	cr_assert(s->pid >= 0);
	if (s->pid == 0) {
		int null = open("/dev/null", O_RDWR), err = open(s->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		t_child_setup();
		dup2(null, 0);
		dup2(null, 1);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	t_track(s->pid);
	for (;;) {
		char *text = t_slurp(s->err);
		int ready = strstr(text, "mvmm serve: ready on") != NULL;
		int st;

		if (ready) {
			free(text);
			return;
		}
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			t_untrack(s->pid);
			cr_assert_fail("serve exited (status 0x%x) before ready:\n%s", st, text);
		}
		free(text);
		cr_assert(t_now_ns() < deadline, "serve not ready after 30 s");
		usleep(2000);
	}
}

static void t_srv_start(struct t_srv *s, char **args)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/mvmm-srv-XXXXXX");
	cr_assert(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/s.sock", s->dir);
	t_srv_spawn(s, s->dir, "serve.err", args);
}

/* Waits up to ms for pid; its exit status, or -1 on timeout. */
static int t_wait_pid(pid_t pid, int ms)
{
	uint64_t deadline = t_now_ns() + (uint64_t)ms * 1000000ull;
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			t_untrack(pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (t_now_ns() >= deadline)
			return -1;
		usleep(2000);
	}
}

/* SIGTERM, then expects a clean exit (under ASan: no leak) and the socket gone. */
static void t_srv_stop(struct t_srv *s)
{
	char *text;
	int st;

	cr_assert(kill(s->pid, SIGTERM) == 0);
	st = t_wait_pid(s->pid, 15000);
	text = t_slurp(s->err);
	cr_expect_eq(st, 0, "serve ended with %d:\n%s", st, text);
	cr_expect(!strstr(text, "Sanitizer") && !strstr(text, "runtime error"), "%s", text);
	free(text);
	cr_expect(access(s->path, F_OK) != 0, "the socket outlived its server");
	unlink(s->err);
	rmdir(s->dir);
}

#define T_LAUNCH(p, s, ...) T_MVMM(p, T_LIMIT_MS, "launch", "--socket", (char *)(s)->path, __VA_ARGS__)

#endif
