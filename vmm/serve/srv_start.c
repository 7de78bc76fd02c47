/* srv_start.c: a server's start-up (its template, shell pool, socket; taking the path over) and end. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clone/template.h"
#include "core/error.h"
#include "core/log.h"
#include "srv_int.h"

int srv_watch(struct srv *s, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return err_sys("epoll_ctl");
	return 0;
}

/*
 * Asks the server at the other end of fd to retire; waits for its answer:
 * its clones in flight and its generation (0 from a server too old to say).
 */
static int srv_retire_old(int fd, const char *path, uint32_t *inflight, uint32_t *generation)
{
	struct timeval tv = {.tv_sec = 5};
	struct srv_frame f = {0};
	uint8_t ver[4];
	int ok;

	srv_put32(ver, SRV_PROTO_VERSION);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (srv_send_frame(fd, SRV_RETIRE, ver, sizeof(ver), NULL, 0) < 0)
		return err_prefix("asking the server at %s to retire", path);
	ok = srv_read_frame(fd, &f) == SRV_READ_OK && f.type == SRV_RETIRED && f.len >= 4;
	if (ok) {
		*inflight = srv_get32(f.data);
		*generation = f.len >= 8 ? srv_get32(f.data + 4) : 0;
	}
	if (!ok && f.type == SRV_ERROR && f.len >= 8)
		err_set("the server at %s refused to retire: %s", path, (char *)f.data + 8);
	else if (!ok)
		err_set("the server at %s did not confirm its retirement", path);
	srv_frame_free(&f);
	return ok ? 0 : -1;
}

/*
 * Binds and listens at a temporary name next to the path, then renames it
 * over the path: a client connecting at any moment finds a listening
 * socket, the old one or ours.
 */
static int srv_take_path(struct srv *s)
{
	struct sockaddr_un sa;
	char tmp[sizeof(sa.sun_path) + 32];
	uint32_t old_gen = 0, old_inflight = 0;
	struct stat st;
	int old = -1, retired = 0;

	if (lstat(s->path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return err_set("%s exists and is not a socket", s->path);
	if (lstat(s->path, &st) == 0) {
		old = srv_connect(s->path);
		if (old >= 0 && !s->cfg.replace) {
			close(old);
			return err_set("a server is already listening on %s (use --replace)",
				       s->path);
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.%d.new", s->path, (int)getpid());
	if (srv_address(tmp, &sa) < 0)
		goto fail;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0) {
		err_sys("socket");
		goto fail;
	}
	unlink(tmp);
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->listen_fd, SOMAXCONN) < 0 || stat(tmp, &st) < 0) {
		err_sys("binding %s", tmp);
		unlink(tmp);
		goto fail;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (rename(tmp, s->path) < 0) {
		err_sys("renaming %s over %s", tmp, s->path);
		unlink(tmp);
		goto fail;
	}
	/* The path is ours now: an old server that does not retire only loses its clients. */
	if (old >= 0) {
		retired = srv_retire_old(old, s->path, &old_inflight, &old_gen) == 0;
		if (!retired)
			snprintf(s->warning, sizeof(s->warning), "%s", mvmm_errmsg());
		close(old);
	}
	/* A generation number the replaced server did not tell is at least 1: ours at least 2. */
	s->generation = old < 0 ? 1 : old_gen ? old_gen + 1 : 2;
	if (!retired)
		vlog_info("serve: generation %u: serving %s", s->generation, s->path);
	else
		vlog_info("serve: generation %u: serving %s; generation %u retires with %u "
			  "connection%s in flight", s->generation, s->path, s->generation - 1,
			  old_inflight, old_inflight == 1 ? "" : "s");
	return srv_watch(s, s->listen_fd, SRV_TAG_LISTEN);
fail:
	if (old >= 0)
		close(old);
	return -1;
}

struct srv *srv_create(struct kvm_sys *kvm, struct image *img, const struct srv_config *cfg,
		       struct vm_result *tpl_res)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct vm_config vc = {0};

	memset(tpl_res, 0, sizeof(*tpl_res));
	if (!s) {
		err_set("out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->kvm = kvm;
	s->listen_fd = s->epfd = s->wake_fd = s->ctl_fd = s->up_fd = -1;
	s->next_id = SRV_FIRST_ID;
	s->buffer_left = SRV_BUFFER_MAX;
	s->t_start = vm_now_ns();
	pthread_mutex_init(&s->lock, NULL);
	srv_stats_init(&s->stats);
	s->path = strdup(cfg->path);
	if (!s->path) {
		err_set("out of memory");
		goto fail;
	}
	vc.argv = cfg->argv;
	vc.envp = cfg->envp;
	vc.in_fd = -1;
	vc.out_fd = STDOUT_FILENO;
	vc.err_fd = STDERR_FILENO;
	vc.timeout_ns = cfg->timeout_ns;
	vc.lx = cfg->lx;
	s->tpl = cfg->tpl ? template_get(cfg->tpl) : template_create(kvm, img, &vc, tpl_res);
	if (!s->tpl)
		goto fail;
	/* Workers start their own pools: its threads would not come over the fork. */
	if (cfg->workers <= 1 && srv_start_pool(s) < 0)
		goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->wake_fd < 0) {
		err_sys("epoll/eventfd");
		goto fail;
	}
	if (srv_watch(s, s->wake_fd, SRV_TAG_WAKE) < 0 ||
	    (cfg->stop_fd >= 0 && srv_watch(s, cfg->stop_fd, SRV_TAG_STOP) < 0) ||
	    srv_take_path(s) < 0)
		goto fail;
	return s;
fail:
	srv_destroy(s);
	return NULL;
}

int srv_start_pool(struct srv *s)
{
	if (shell_pool_start(&s->pool, s->kvm, s->tpl->mem_size,
			     s->cfg.shells ? s->cfg.shells : 8, s->tpl) < 0)
		return -1;
	s->pool_ok = 1;
	return 0;
}

const char *srv_warning(const struct srv *s)
{
	return s->warning[0] ? s->warning : NULL;
}

uint64_t srv_boot_ns(const struct srv *s)
{
	return s->tpl->boot_ns;
}

void srv_destroy(struct srv *s)
{
	if (!s)
		return;
	srv_close_listener(s, 0);
	if (s->pool_ok)
		shell_pool_stop(&s->pool);
	if (s->tpl)
		template_put(s->tpl);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->ctl_fd >= 0)
		close(s->ctl_fd);
	if (s->up_fd >= 0)
		close(s->up_fd);
	pthread_mutex_destroy(&s->lock);
	srv_stats_destroy(&s->stats);
	free(s->path);
	free(s);
}
