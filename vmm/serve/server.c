/* server.c: the preloading server: the accept loop, a thread per connection running its clone. */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clone/shellpool.h"
#include "clone/template.h"
#include "core/confine.h"
#include "core/error.h"
#include "core/log.h"
#include "srv_int.h"
#include "srv_stats.h"

#define SRV_STACK_SIZE	 (1u << 20) /* a clone's run (crash report, disassembly) needs more than 256K */
#define SRV_DATA_MAX	 (64u << 10) /* guest output bytes per data frame */
#define SRV_SEND_TIMEOUT_S 30	     /* a client that reads nothing this long is gone */
#define SRV_DRAIN_QUIET_NS 100000000ull /* retiring: close the listener after 100 ms without connects */

static void srv_wake(struct srv *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the main loop is awake already */
	}
}

static int srv_send_error(int fd, enum srv_error code, const char *msg)
{
	uint8_t head[8];

	srv_put32(head, code);
	srv_put32(head + 4, SRV_PROTO_VERSION);
	return srv_send_frame(fd, SRV_ERROR, head, sizeof(head), msg, strlen(msg));
}

static int conn_send(struct srv_conn *c, uint8_t type, const void *a, size_t alen, const void *b,
		     size_t blen)
{
	int r;

	if (__atomic_load_n(&c->gone, __ATOMIC_ACQUIRE))
		return -1;
	pthread_mutex_lock(&c->send_lock);
	r = srv_send_frame(c->fd, type, a, alen, b, blen);
	pthread_mutex_unlock(&c->send_lock);
	if (r < 0)
		__atomic_store_n(&c->gone, 1, __ATOMIC_RELEASE);
	return r;
}

/* Guest output becomes data frames; a client that left stops its clone. */
static int64_t srv_output(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct srv_conn *c = ctx;
	uint64_t done = 0;

	while (done < len) {
		uint64_t n = len - done < SRV_DATA_MAX ? len - done : SRV_DATA_MAX;

		if (conn_send(c, stream == 2 ? SRV_STDERR : SRV_STDOUT,
			      (const uint8_t *)buf + done, n, NULL, 0) < 0) {
			vm_stop(vm, pthread_self());
			return -1;
		}
		done += n;
	}
	return (int64_t)len;
}

static const struct vm_hooks srv_hooks = {.output = srv_output};

/* What `mvmm run` would print and exit with for res. */
static uint32_t srv_describe(const struct srv *s, const struct vm_result *res, enum srv_end *end,
			     char **text)
{
	uint32_t status;
	int n = -1;

	*text = NULL;
	switch (res->end) {
	case VM_END_EXIT:
		*end = SRV_END_EXIT;
		return (uint32_t)res->status;
	case VM_END_FAULT:
		*end = SRV_END_FAULT;
		status = 123;
		n = res->report ? asprintf(text, "mvmm: %s", res->report)
				: asprintf(text, "mvmm: guest fault: %s\n", res->message);
		break;
	case VM_END_GUEST_ERROR:
		*end = SRV_END_GUEST_ERROR;
		status = 123;
		n = asprintf(text, "mvmm: guest error: %s; guest stopped\n", res->message);
		break;
	case VM_END_ABORT:
		*end = SRV_END_ABORT;
		status = 134;
		n = asprintf(text, "mvmm: guest aborted: %s\n", res->message);
		break;
	case VM_END_TIMEOUT:
		*end = SRV_END_TIMEOUT;
		status = 124;
		n = asprintf(text, "mvmm: guest stopped after its timeout of %.3g s\n",
			     (double)s->cfg.timeout_ns / 1e9);
		break;
	default:
		*end = SRV_END_HOST_ERROR;
		status = 125;
		n = asprintf(text, "mvmm: %s\n", res->message);
		break;
	}
	if (n < 0)
		*text = NULL;
	return status;
}

static void conn_send_status(struct srv_conn *c, const struct vm_result *res, uint64_t clone_no)
{
	uint8_t head[24] = {0};
	enum srv_end end;
	char *text;
	size_t tlen;
	uint32_t status = srv_describe(c->srv, res, &end, &text);

	tlen = text ? strlen(text) : 0;
	if (tlen > SRV_FRAME_MAX - 1 - sizeof(head))
		tlen = SRV_FRAME_MAX - 1 - sizeof(head);
	srv_put32(head, SRV_PROTO_VERSION);
	srv_put32(head + 4, status);
	srv_put32(head + 8, end);
	srv_put32(head + 16, (uint32_t)clone_no);
	srv_put32(head + 20, (uint32_t)(clone_no >> 32));
	conn_send(c, SRV_STATUS, head, sizeof(head), text, tlen);
	free(text);
}

/* The clone runs on this (the connection's) thread; the main thread watches for hang-ups. */
static void conn_serve_request(struct srv_conn *c, const struct srv_frame *f)
{
	struct srv *s = c->srv;
	struct epoll_event ev = {.events = EPOLLONESHOT, .data.u64 = c->id};
	struct vm_result res = {0};
	struct vm_request req;
	struct vm_config cfg;
	struct vm *vm;
	uint64_t clone_no, t0 = vm_now_ns();

	if (srv_parse_request(f->data, f->len, &req) < 0) {
		srv_send_error(c->fd, f->len >= 4 && srv_get32(f->data) != SRV_PROTO_VERSION
					      ? SRV_E_VERSION
					      : SRV_E_MALFORMED,
			       mvmm_errmsg());
		return;
	}
	if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
		srv_send_error(c->fd, SRV_E_BUSY, "the server is stopping");
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.in_fd = cfg.out_fd = cfg.err_fd = -1;
	cfg.timeout_ns = s->cfg.timeout_ns;
	cfg.hooks = &srv_hooks;
	cfg.hooks_ctx = c;
	cfg.request = &req; /* a Linux program reads it as its stdin */
	cfg.lean = 1;
	cfg.lx = s->cfg.lx;
	vm = template_clone(s->tpl, s->kvm, &s->pool, &cfg);
	if (!vm) {
		srv_send_error(c->fd, SRV_E_CLONE, mvmm_errmsg());
		return;
	}
	/* The thread lives for this one clone: from here on it only runs it and answers. */
	if (s->cfg.confine && confine_vcpu_thread(0) < 0) {
		srv_send_error(c->fd, SRV_E_CLONE, mvmm_errmsg());
		shell_pool_reap(&s->pool, vm);
		return;
	}
	clone_no = vm->clone_no;
	srv_stats_clone_start(&s->stats);
	pthread_mutex_lock(&s->lock);
	c->vm = vm;
	/* Only hang-ups (EPOLLHUP is always reported): a client may half-close. */
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0 ||
	    __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
		vm_stop(vm, c->thread);
	pthread_mutex_unlock(&s->lock);
	vm_run(vm, &res);
	pthread_mutex_lock(&s->lock);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->vm = NULL;
	pthread_mutex_unlock(&s->lock);
	conn_send_status(c, &res, clone_no);
	srv_stats_clone_done(&s->stats, vm_now_ns() - t0);
	vm_result_clear(&res);
	shell_pool_reap(&s->pool, vm);
}

/* A status request: counts, latencies, memory (srv_stats.c); no clone is made. */
static void conn_status(struct srv_conn *c, const struct srv_frame *f)
{
	struct srv *s = c->srv;
	struct srv_info info = {0};

	if (f->len < 4) {
		srv_send_error(c->fd, SRV_E_MALFORMED, "status: payload shorter than its version");
		return;
	}
	if (srv_get32(f->data) != SRV_PROTO_VERSION) {
		srv_send_error(c->fd, SRV_E_VERSION, "status: unknown protocol version");
		return;
	}
	info.generation = s->generation;
	pthread_mutex_lock(&s->pool.lock);
	info.pool_ready = s->pool.nready;
	info.pool_target = s->pool.target;
	pthread_mutex_unlock(&s->pool.lock);
	info.template_bytes = s->tpl->data_pages * 4096;
	info.mem_size = s->tpl->mem_size;
	info.uptime_ns = vm_now_ns() - s->t_start;
	srv_stats_answer(c->fd, f, &s->stats, &info);
}

static void conn_retire(struct srv_conn *c, const struct srv_frame *f)
{
	struct srv *s = c->srv;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	uint8_t inflight[8];
	unsigned n;

	if (f->len < 4 || srv_get32(f->data) != SRV_PROTO_VERSION) {
		srv_send_error(c->fd, SRV_E_VERSION, "retire: unknown protocol version");
		return;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		srv_send_error(c->fd, SRV_E_DENIED, "retire: only the server's own user may");
		return;
	}
	__atomic_store_n(&s->retiring, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->lock);
	n = s->nconns - 1;
	pthread_mutex_unlock(&s->lock);
	srv_put32(inflight, n);
	srv_put32(inflight + 4, s->generation);
	vlog_info("serve: generation %u: retiring, a new generation took %s; %u connection%s "
		  "in flight to finish", s->generation, s->path, n, n == 1 ? "" : "s");
	srv_wake(s);
	/* A worker: the parent passes it on to every worker (the others never saw it). */
	if (s->up_fd >= 0) {
		char b = SRV_CTL_RETIRE;

		if (write(s->up_fd, &b, 1) < 0)
			vlog_info("serve: worker could not pass the retire request on: %s",
				  strerror(errno));
	}
	srv_send_frame(c->fd, SRV_RETIRED, inflight, sizeof(inflight), NULL, 0);
}

static void *conn_main(void *arg)
{
	struct srv_conn *c = arg;
	struct srv *s = c->srv;
	struct timeval rt = {.tv_sec = SRV_READ_TIMEOUT_S}, st = {.tv_sec = SRV_SEND_TIMEOUT_S};
	struct srv_read_limits lim = {
		.deadline_ns = vm_now_ns() + SRV_READ_TIMEOUT_S * 1000000000ull,
		.budget = &s->buffer_left,
	};
	struct srv_frame f = {0};

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st));
	switch (srv_read_frame_limited(c->fd, &f, &lim)) {
	case SRV_READ_OK:
		if (f.type == SRV_REQUEST)
			conn_serve_request(c, &f);
		else if (f.type == SRV_RETIRE)
			conn_retire(c, &f);
		else if (f.type == SRV_STATUS_REQ)
			conn_status(c, &f);
		else
			srv_send_error(c->fd, SRV_E_TYPE,
				       "expected a request, retire or status request frame");
		break;
	case SRV_READ_TOO_BIG:
		srv_send_error(c->fd, SRV_E_TOO_BIG, mvmm_errmsg());
		break;
	case SRV_READ_TRUNCATED:
		srv_send_error(c->fd, SRV_E_MALFORMED, "the connection closed inside a frame");
		break;
	case SRV_READ_BUSY:
		srv_send_error(c->fd, SRV_E_BUSY, mvmm_errmsg());
		break;
	default:
		break; /* closed or timed out before a frame: nothing to answer */
	}
	srv_frame_free(&f);
	pthread_mutex_lock(&s->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = s->done;
	s->done = c;
	s->nconns--;
	pthread_mutex_unlock(&s->lock);
	close(c->fd); /* only now: while listed, the main thread may shut it down */
	srv_wake(s);
	return NULL;
}

static void srv_join_done(struct srv *s)
{
	struct srv_conn *c, *next;

	pthread_mutex_lock(&s->lock);
	c = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; c; c = next) {
		next = c->next;
		pthread_join(c->thread, NULL);
		pthread_mutex_destroy(&c->send_lock);
		free(c);
	}
}

/* Connections of user uid being served; under s->lock. */
static unsigned srv_conns_of(const struct srv *s, uid_t uid)
{
	const struct srv_conn *c;
	unsigned n = 0;

	for (c = s->conns; c; c = c->next)
		n += c->uid == uid;
	return n;
}

static void srv_start_conn(struct srv *s, int fd)
{
	struct ucred cred = {.uid = (uid_t)-1};
	socklen_t cl = sizeof(cred);
	struct srv_conn *c;
	pthread_attr_t attr;
	int err;

	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
	pthread_mutex_lock(&s->lock);
	if (s->nconns >= SRV_MAX_CONNS) {
		pthread_mutex_unlock(&s->lock);
		srv_send_error(fd, SRV_E_BUSY, "too many connections");
		close(fd);
		return;
	}
	/* One user cannot take every slot from the others. */
	if (srv_conns_of(s, cred.uid) >= SRV_MAX_CONNS_UID) {
		pthread_mutex_unlock(&s->lock);
		srv_send_error(fd, SRV_E_BUSY, "too many connections from this user");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->uid = cred.uid;
	c->id = s->next_id++;
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SRV_STACK_SIZE);
	/* Under the lock: the thread cannot unlink itself before it is linked. */
	err = pthread_create(&c->thread, &attr, conn_main, c);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_mutex_unlock(&s->lock);
		srv_send_error(fd, SRV_E_BUSY, "cannot start a thread");
		close(fd);
		pthread_mutex_destroy(&c->send_lock);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	pthread_mutex_unlock(&s->lock);
}

/* Accepts everything queued; returns how many. */
static unsigned srv_accept_all(struct srv *s)
{
	unsigned n = 0;

	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return n; /* EAGAIN, or out of fds: the backlog waits */
		}
		srv_start_conn(s, fd);
		n++;
	}
}

/* The client of connection id hung up: stop its clone. */
static void srv_hangup(struct srv *s, uint64_t id)
{
	struct srv_conn *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next)
		if (c->id == id && c->vm) {
			__atomic_store_n(&c->gone, 1, __ATOMIC_RELEASE);
			vm_stop(c->vm, c->thread);
		}
	pthread_mutex_unlock(&s->lock);
}

/* Stops every clone (they answer 125) and wakes connections still waiting for a request. */
static void srv_stop_all(struct srv *s)
{
	struct srv_conn *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next) {
		shutdown(c->fd, SHUT_RD);
		if (c->vm)
			vm_stop(c->vm, c->thread);
	}
	pthread_mutex_unlock(&s->lock);
}

void srv_close_listener(struct srv *s, int unlink_path)
{
	struct stat st;

	if (s->listen_fd < 0)
		return;
	/* The path may belong to the next generation by now: remove only our own socket. */
	if (unlink_path && stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
	close(s->listen_fd);
	s->listen_fd = -1;
}

/* A byte from the parent of a worker: stop (or the parent is gone), or retire. */
static void srv_read_ctl(struct srv *s, int *stop_seen)
{
	char b = 0;
	ssize_t n = read(s->ctl_fd, &b, 1);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == 1 && b == SRV_CTL_RETIRE) {
		if (!__atomic_exchange_n(&s->retiring, 1, __ATOMIC_ACQ_REL))
			vlog_info("serve: generation %u: a worker retires with the others",
				  s->generation);
		return;
	}
	*stop_seen = 1;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->ctl_fd, NULL);
}

int srv_run(struct srv *s)
{
	if (s->cfg.workers > 1 && s->ctl_fd < 0)
		return srv_run_workers(s);
	return srv_serve(s);
}

int srv_serve(struct srv *s)
{
	uint64_t quiet_since = 0;
	int stop_seen = 0, draining = 0;

	for (;;) {
		struct epoll_event ev[64];
		int retiring = __atomic_load_n(&s->retiring, __ATOMIC_ACQUIRE);
		int timeout = retiring && s->listen_fd >= 0 ? 20 : -1;
		int n = epoll_wait(s->epfd, ev, 64, timeout), i;
		unsigned nconns;

		if (n < 0 && errno != EINTR)
			return err_sys("epoll_wait");
		for (i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64, v;

			if (tag == SRV_TAG_LISTEN) {
				if (srv_accept_all(s))
					quiet_since = vm_now_ns();
			} else if (tag == SRV_TAG_WAKE) {
				if (read(s->wake_fd, &v, sizeof(v)) < 0) {
					/* nothing to read: woken already */
				}
			} else if (tag == SRV_TAG_STOP) {
				stop_seen = 1;
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->cfg.stop_fd, NULL);
			} else if (tag == SRV_TAG_CTL) {
				srv_read_ctl(s, &stop_seen);
			} else {
				srv_hangup(s, tag);
			}
		}
		srv_join_done(s);
		retiring = __atomic_load_n(&s->retiring, __ATOMIC_ACQUIRE);
		if (stop_seen && !__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
			srv_close_listener(s, 1);
			srv_stop_all(s);
		}
		if (retiring && s->listen_fd >= 0) {
			/*
			 * Connections queued on our socket before the path moved are
			 * ours to serve: drain until none has come for a while.
			 */
			if (!draining || srv_accept_all(s))
				quiet_since = vm_now_ns();
			draining = 1;
			if (vm_now_ns() - quiet_since >= SRV_DRAIN_QUIET_NS)
				srv_close_listener(s, 0);
		}
		pthread_mutex_lock(&s->lock);
		nconns = s->nconns;
		pthread_mutex_unlock(&s->lock);
		if (s->listen_fd < 0 && nconns == 0)
			break;
	}
	srv_join_done(s);
	vlog_info("serve: generation %u: %s after %lu clone%s", s->generation,
		  __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE) ? "stopped" : "retired",
		  (unsigned long)s->stats.served, s->stats.served == 1 ? "" : "s");
	return 0;
}
