/*
 * test_limits.c: the server against slow and greedy clients: a deadline for a whole request
 * frame, a cap on one user's connections, a bound on the bytes all clients may buffer.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "harness.h"
#include "serve/srv_wire.h"

static char dir[64], sock[128];
static pid_t server = -1;

/* `mvmm serve --socket SOCK ready.elf`, up once the socket answers. */
static void setup(void)
{
	uint64_t deadline = t_now_ns() + 30000000000ull;
	struct rlimit rl;

	snprintf(dir, sizeof(dir), "/tmp/mvmm-limits-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	server = fork();
	cr_assert(server >= 0);
	if (server == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(t_mvmm_bin(), t_mvmm_bin(), "serve", "--socket", sock, T_GUEST("ready"),
		      (char *)NULL);
		_exit(127);
	}
	for (;;) {
		int fd = srv_connect(sock);

		if (fd >= 0) {
			close(fd);
			return;
		}
		cr_assert(t_now_ns() < deadline, "serve not ready after 30 s");
		usleep(10000);
	}
}

static void teardown(void)
{
	char cmd[128];

	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 90);

/* Reads the server's answer to fd, waiting at most ms: its error code, 0 on close, -1 on time. */
static int answer(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct srv_frame f = {0};
	int code = 0;

	if (poll(&p, 1, ms) <= 0)
		return -1;
	if (srv_read_frame(fd, &f) == SRV_READ_OK)
		code = f.type == SRV_ERROR && f.len >= 4 ? (int)srv_get32(f.data) : 1000 + f.type;
	srv_frame_free(&f);
	return code;
}

/* One byte every second keeps no connection past the frame's deadline (10 s). */
Test(limits, a_trickling_client_is_dropped_at_the_frame_deadline)
{
	int fd = srv_connect(sock), i, r = -1;
	uint64_t t0 = t_now_ns();
	uint8_t b = 0;

	cr_assert(fd >= 0);
	for (i = 0; i < 25 && r < 0; i++) {
		if (send(fd, &b, 1, MSG_NOSIGNAL) < 0)
			break; /* already closed */
		r = answer(fd, 1000);
	}
	cr_assert(r >= 0 || i < 25, "still connected after 25 s of trickling");
	cr_assert_lt(t_now_ns() - t0, 20000000000ull, "dropped only after %.1f s",
		     (double)(t_now_ns() - t0) / 1e9);
	close(fd);
}

/* One user holds at most SRV_MAX_CONNS_UID connections; the next one is told so at once. */
Test(limits, one_user_cannot_take_every_connection)
{
	static int fds[SRV_MAX_CONNS_UID + 8];
	int i, busy = 0;

	for (i = 0; i < (int)SRV_MAX_CONNS_UID; i++) {
		fds[i] = srv_connect(sock);
		cr_assert(fds[i] >= 0, "connection %d: %s", i, mvmm_errmsg());
	}
	usleep(200000); /* the server has accepted them all */
	for (; i < (int)SRV_MAX_CONNS_UID + 8; i++) {
		fds[i] = srv_connect(sock);
		cr_assert(fds[i] >= 0);
		busy += answer(fds[i], 5000) == SRV_E_BUSY;
	}
	cr_assert_eq(busy, 8, "%d of 8 connections over the cap were refused", busy);
	for (i = 0; i < (int)SRV_MAX_CONNS_UID + 8; i++)
		close(fds[i]);
}

/* Frames announced at 1 MiB each: past SRV_BUFFER_MAX in all, the server says it is busy. */
Test(limits, unfinished_requests_are_bounded_in_bytes)
{
	enum { N = SRV_BUFFER_MAX / SRV_FRAME_MAX + 16 };
	static int fds[N];
	uint8_t hdr[SRV_HEADER_SIZE + 1] = {0};
	int i, busy = 0;

	srv_put32(hdr, SRV_FRAME_MAX);
	hdr[4] = SRV_REQUEST;
	for (i = 0; i < N; i++) {
		fds[i] = srv_connect(sock);
		cr_assert(fds[i] >= 0);
		cr_assert(send(fds[i], hdr, sizeof(hdr), MSG_NOSIGNAL) == (ssize_t)sizeof(hdr));
	}
	for (i = 0; i < N; i++)
		busy += answer(fds[i], 200) == SRV_E_BUSY;
	cr_assert_geq(busy, 16, "only %d of %d frames were refused", busy, (int)N);
	for (i = 0; i < N; i++)
		close(fds[i]);
}
