/*
 * srv_workers.c: a server spread over worker processes (serve --workers K). The template is
 * booted and the socket bound once, here; then K workers fork, each with its own epoll set,
 * shell pool and VMs (a VM belongs to the process that made it), all accepting on the one
 * listening socket and cloning from the one frozen memfd. This process only relays: a stop
 * (its stop_fd) and a retire request that one worker received go to every worker.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone/template.h"
#include "core/error.h"
#include "core/log.h"
#include "srv_int.h"

#define SRV_WORKERS_MAX 256

/*
 * In worker w of k, after the fork: an epoll set and wake-up of its own (the
 * parent's epoll set is one kernel object, shared across fork), its shells,
 * and clone numbers w + 1, w + 1 + k, ... so that no two workers hand out
 * the same number.
 */
static int srv_worker_setup(struct srv *s, unsigned w, unsigned k)
{
	close(s->epfd);
	close(s->wake_fd);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->wake_fd < 0)
		return err_sys("epoll/eventfd");
	if (srv_watch(s, s->wake_fd, SRV_TAG_WAKE) < 0 ||
	    (s->cfg.stop_fd >= 0 && srv_watch(s, s->cfg.stop_fd, SRV_TAG_STOP) < 0) ||
	    srv_watch(s, s->listen_fd, SRV_TAG_LISTEN) < 0 ||
	    srv_watch(s, s->ctl_fd, SRV_TAG_CTL) < 0)
		return -1;
	s->tpl->next_clone = w + 1;
	s->tpl->clone_step = k;
	return srv_start_pool(s);
}

static void __attribute__((noreturn)) srv_worker(struct srv *s, unsigned w, unsigned k)
{
	int status = 1;

	if (srv_worker_setup(s, w, k) < 0)
		fprintf(stderr, "mvmm serve: worker %u: %s\n", w, mvmm_errmsg());
	else if (srv_serve(s) == 0)
		status = 0;
	else
		fprintf(stderr, "mvmm serve: worker %u: %s\n", w, mvmm_errmsg());
	srv_destroy(s);
	fflush(NULL);
	_exit(status);
}

/* Sends byte b to every worker still listening (a worker gone: EPIPE, ignored). */
static void srv_tell_all(const int *down, unsigned k, char b)
{
	unsigned w;

	for (w = 0; w < k; w++)
		if (down[w] >= 0 && write(down[w], &b, 1) < 0 && errno != EPIPE)
			vlog_info("serve: telling worker %u: %s", w, strerror(errno));
}

static int srv_fork_workers(struct srv *s, pid_t *pids, int *down, const int *up, unsigned k)
{
	unsigned w, v;

	for (w = 0; w < k; w++) {
		int d[2];

		if (pipe2(d, O_CLOEXEC) < 0)
			return err_sys("pipe");
		pids[w] = fork();
		if (pids[w] < 0) {
			close(d[0]);
			close(d[1]);
			return err_sys("fork");
		}
		if (pids[w] == 0) {
			for (v = 0; v < w; v++)
				close(down[v]);
			close(d[1]);
			close(up[0]);
			s->ctl_fd = d[0];
			s->up_fd = up[1];
			srv_worker(s, w, k);
		}
		close(d[0]);
		down[w] = d[1];
		vlog_debug("serve: worker %u is pid %d", w, (int)pids[w]);
	}
	return 0;
}

/* Relays until every worker has ended (the up pipe's end of file). */
static void srv_relay(struct srv *s, int up_r, const int *down, unsigned k)
{
	struct pollfd pfd[2] = {{.fd = up_r, .events = POLLIN},
				{.fd = s->cfg.stop_fd, .events = POLLIN}};
	int retire_sent = 0, stop_sent = 0;

	for (;;) {
		char buf[64];
		ssize_t n;

		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, s->cfg.stop_fd >= 0 && !stop_sent ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			vlog_info("serve: poll: %s", strerror(errno));
			return;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(s->cfg.stop_fd, &si, sizeof(si)) < 0 && errno == EAGAIN)
				continue;
			srv_tell_all(down, k, SRV_CTL_STOP);
			stop_sent = 1;
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP)))
			continue;
		n = read(up_r, buf, sizeof(buf));
		if (n == 0)
			return; /* every worker closed its end: all have ended */
		if (n > 0 && !retire_sent && memchr(buf, SRV_CTL_RETIRE, (size_t)n)) {
			srv_tell_all(down, k, SRV_CTL_RETIRE);
			retire_sent = 1;
		}
	}
}

int srv_run_workers(struct srv *s)
{
	unsigned k = s->cfg.workers > SRV_WORKERS_MAX ? SRV_WORKERS_MAX : s->cfg.workers, w;
	pid_t *pids = calloc(k, sizeof(*pids));
	int *down = malloc(k * sizeof(*down)), up[2] = {-1, -1}, ret = 0;

	if (!pids || !down) {
		free(pids);
		free(down);
		return err_set("out of memory");
	}
	for (w = 0; w < k; w++)
		down[w] = -1;
	if (pipe2(up, O_CLOEXEC) < 0) {
		ret = err_sys("pipe");
		goto out;
	}
	fflush(NULL); /* nothing buffered may be written twice */
	vlog_info("serve: %u worker processes accept on %s", k, s->path);
	if (srv_fork_workers(s, pids, down, up, k) < 0) {
		ret = -1;
		srv_tell_all(down, k, SRV_CTL_STOP); /* those that started */
	}
	close(up[1]);
	up[1] = -1;
	/* The workers hold the socket now; the path is removed by the last one to stop. */
	close(s->listen_fd);
	s->listen_fd = -1;
	srv_relay(s, up[0], down, k);
out:
	for (w = 0; w < k; w++) {
		if (down[w] >= 0)
			close(down[w]);
		if (pids[w] > 0)
			waitpid(pids[w], NULL, 0);
	}
	if (up[0] >= 0)
		close(up[0]);
	if (up[1] >= 0)
		close(up[1]);
	free(pids);
	free(down);
	return ret;
}
