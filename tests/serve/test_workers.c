/*
 * test_workers.c: serve --workers K: K worker processes accept on one socket and clone from
 * one frozen template; concurrent launches are served with distinct clone numbers; a stop
 * (SIGTERM) and a takeover (--replace) end every worker, none left behind.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "serve/server.h"
#include "srv_child.h"

#define T_WORKERS 2

TestSuite(workers, .fini = t_kill_children);

/* The worker pids from the server's `-vv` log ("serve: worker W is pid P"); how many. */
static unsigned t_worker_pids(const struct t_srv *s, pid_t *pids, unsigned max)
{
	char *text = t_slurp(s->err), *at = text;
	unsigned n = 0, w;
	int pid;

	while (n < max && (at = strstr(at, "serve: worker "))) {
		if (sscanf(at, "serve: worker %u is pid %d", &w, &pid) == 2)
			pids[n++] = pid;
		at++;
	}
	free(text);
	return n;
}

/* Every pid has ended (reaped by the server, which has ended too). */
static void t_expect_gone(const pid_t *pids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cr_expect(kill(pids[i], 0) < 0 && errno == ESRCH, "worker pid %d is still there",
			  (int)pids[i]);
}

/* The workers fork after the ready line: waits up to 20 s for both pids to be logged. */
static void t_await_workers(const struct t_srv *s, pid_t *pids)
{
	uint64_t deadline = t_now_ns() + 20000000000ull;

	while (t_worker_pids(s, pids, T_WORKERS) < T_WORKERS) {
		cr_assert(t_now_ns() < deadline, "worker pids not logged");
		usleep(2000);
	}
}

/* Starts a server of T_WORKERS workers over guest; returns their pids in pids. */
static void t_start_workers(struct t_srv *s, char *guest, pid_t *pids)
{
	t_srv_start(s, (char *[]){"-vv", "--workers", "2", guest, NULL});
	t_await_workers(s, pids);
}

/* N launches at once, each echoing; all succeed with distinct clone numbers. */
static void t_concurrent_launches(const struct t_srv *s, unsigned *odd, unsigned *even)
{
	enum { N = 16 };
	char *argv[] = {(char *)t_mvmm_bin(), "launch", "--socket", (char *)s->path, "echo", "w",
			NULL};
	int fd[N], seen[N];
	pid_t pid[N];

	*odd = *even = 0;
	for (int i = 0; i < N; i++) {
		int fds[2];

		cr_assert(pipe2(fds, O_CLOEXEC) == 0);
		pid[i] = fork();
		cr_assert(pid[i] >= 0);
		if (pid[i] == 0) {
			int null = open("/dev/null", O_RDWR);

			t_child_setup();
			dup2(null, 0);
			dup2(fds[1], 1);
			dup2(null, 2);
			execv(argv[0], argv);
			_exit(127);
		}
		close(fds[1]);
		fd[i] = fds[0];
	}
	for (int i = 0; i < N; i++) {
		char buf[256] = "";
		size_t len = 0;
		ssize_t n;

		while ((n = read(fd[i], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		close(fd[i]);
		cr_expect_eq(t_wait_pid(pid[i], T_LIMIT_MS), 0, "launch %d failed", i);
		cr_expect(sscanf(buf, "clone %d: w", &seen[i]) == 1, "launch %d printed %s", i, buf);
		for (int j = 0; j < i; j++)
			cr_expect_neq(seen[i], seen[j], "clone number %d twice", seen[i]);
		/* worker w of 2 hands out w + 1, w + 3, ...: the parity says which served it */
		if (seen[i] & 1)
			(*odd)++;
		else
			(*even)++;
	}
}

Test(workers, two_workers_serve_concurrent_launches_and_all_end_at_sigterm, .timeout = 120)
{
	struct t_srv s;
	struct t_proc p;
	pid_t pids[T_WORKERS];
	unsigned odd, even;

	t_start_workers(&s, T_SERVED, pids);
	cr_expect_neq(pids[0], pids[1]);
	t_concurrent_launches(&s, &odd, &even);
	cr_log_info("16 concurrent launches: %u served by worker 0, %u by worker 1", odd, even);
	T_LAUNCH(&p, &s, "exit", "7");
	cr_expect_eq(p.status, 7, "status %d, stderr:\n%s", p.status, p.err);
	t_proc_free(&p);
	/* A status request is answered by one worker: its own counts. */
	T_MVMM(&p, T_LIMIT_MS, "launch", "--socket", s.path, "--status");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "generation 1"), "%s", p.out);
	t_proc_free(&p);
	t_srv_stop(&s);
	t_expect_gone(pids, T_WORKERS);
}

/* SIGTERM to the server reaches the worker running a clone: the clone answers 125. */
Test(workers, sigterm_stops_a_clone_in_a_worker, .timeout = 60)
{
	struct srv_frame f = {0};
	struct srv_status st;
	const char *spin[] = {"spin"};
	struct t_srv s;
	pid_t pids[T_WORKERS];
	uint8_t *req;
	size_t len;
	int fd;

	t_start_workers(&s, T_SERVED, pids);
	fd = srv_connect(s.path);
	cr_assert(fd >= 0);
	cr_assert_eq(srv_request_frame(spin, 1, &req, &len), 0);
	cr_assert_eq(write(fd, req, len), (ssize_t)len);
	free(req);
	cr_assert_eq(srv_read_frame(fd, &f), SRV_READ_OK);
	cr_assert_eq(f.type, SRV_STDOUT);
	srv_frame_free(&f);
	kill(s.pid, SIGTERM);
	cr_assert_eq(srv_read_frame(fd, &f), SRV_READ_OK);
	cr_assert_eq(f.type, SRV_STATUS);
	cr_assert_eq(srv_parse_status(f.data, f.len, &st), 0);
	cr_expect_eq(st.status, 125);
	srv_frame_free(&f);
	close(fd);
	t_srv_stop(&s);
	t_expect_gone(pids, T_WORKERS);
}

/* --replace: the retire request reaches one old worker; every old worker and the old server end. */
Test(workers, replace_ends_every_worker_of_the_old_generation, .timeout = 120)
{
	struct t_srv old, new;
	struct t_proc p;
	pid_t old_pids[T_WORKERS], new_pids[T_WORKERS];
	int st;

	t_start_workers(&old, T_SERVED, old_pids);
	T_LAUNCH(&p, &old, "echo", "x");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	t_proc_free(&p);
	new = old;
	t_srv_spawn(&new, old.dir, "serve2.err",
		    (char *[]){"-vv", "--replace", "--workers", "2", T_SERVED, NULL});
	t_await_workers(&new, new_pids);
	st = t_wait_pid(old.pid, 20000);
	cr_expect_eq(st, 0, "the old generation ended with %d (-1: still running)", st);
	t_expect_gone(old_pids, T_WORKERS);
	T_LAUNCH(&p, &new, "echo", "y");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, ": y"), "%s", p.out);
	t_proc_free(&p);
	unlink(old.err);
	t_srv_stop(&new);
	t_expect_gone(new_pids, T_WORKERS);
}
