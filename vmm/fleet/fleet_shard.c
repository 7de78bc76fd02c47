/* fleet_shard.c: a fleet spread over forked worker processes, with one hold barrier for all. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "clone/template.h"
#include "core/log.h"
#include "fleet.h"

#define SHARD_HELD    'H'
#define SHARD_RELEASE 'R'

/* One instance's result, sent by a worker to the parent; the fault report follows it. */
struct shard_record {
	uint32_t index;
	int32_t end;
	int32_t status;
	int32_t mem_taken;
	int32_t thread_ok;
	uint32_t report_len;
	uint64_t exits, hypercalls;
	struct memstat_vm mem;
	char message[512];
};

struct shard_link {
	int up;	  /* worker -> parent: held byte, then records */
	int down; /* parent -> worker: release byte */
	int up_broken; /* in a worker: the held byte could not be sent (the parent is gone) */
};

/* In a worker: its whole fleet is held; tell the parent at once (it stops the start-up clock). */
static void shard_worker_held(void *ctx, struct fleet *f)
{
	struct shard_link *l = ctx;
	char c = SHARD_HELD;

	(void)f;
	if (fd_write_all(l->up, &c, 1) < 0)
		l->up_broken = 1;
}

/* The worker's on_hold: its pages are counted; it stays held until the parent releases all. */
static void shard_worker_wait_release(void *ctx, struct fleet *f)
{
	struct shard_link *l = ctx;
	char c;

	(void)f;
	if (!l->up_broken)
		fd_read_all(l->down, &c, 1);
}

/* Results of the worker's instances, indexed from offset within the whole fleet. */
static void shard_send_results(int fd, const struct fleet *f, unsigned offset)
{
	unsigned i;

	for (i = 0; i < f->cfg.count; i++) {
		const struct fleet_instance *in = &f->inst[i];
		struct shard_record r;

		memset(&r, 0, sizeof(r));
		r.index = offset + i;
		r.end = in->res.end;
		r.status = in->res.status;
		r.mem_taken = in->mem_taken;
		r.thread_ok = in->thread_ok;
		r.exits = in->res.exits;
		r.hypercalls = in->res.hypercalls;
		r.mem = in->mem;
		memcpy(r.message, in->res.message, sizeof(r.message));
		r.report_len = in->res.report ? (uint32_t)strlen(in->res.report) : 0;
		if (fd_write_all(fd, &r, sizeof(r)) < 0 ||
		    fd_write_all(fd, in->res.report, r.report_len) < 0)
			return;
	}
}

/*
 * Runs instances offset .. offset + count - 1 of the fleet; their numbers
 * continue from the fleet's first (a `---` group does not start at 0).
 */
static void __attribute__((noreturn))
shard_worker(const struct fleet_config *cfg, unsigned offset, unsigned count,
	     const struct fleet_shard_hooks *hooks, struct shard_link *l)
{
	struct fleet_config wc = *cfg;
	struct fleet f;

	wc.first_instance = cfg->first_instance + offset;
	wc.count = count;
	/*
	 * The parent's shells and their threads did not come over the fork (a
	 * VM belongs to the process that made it): worker_init may start a pool
	 * of this worker's own. The template's memfd did come over: every
	 * worker maps the one frozen copy. Clone numbers stay one per instance
	 * across workers (the parent made no clone before the fork).
	 */
	wc.pool = NULL;
	if (wc.tpl)
		__atomic_add_fetch(&wc.tpl->next_clone, offset, __ATOMIC_RELAXED);
	wc.on_held = shard_worker_held;
	wc.on_hold = shard_worker_wait_release;
	wc.on_hold_ctx = l;
	if (hooks && hooks->worker_init && hooks->worker_init(hooks->ctx, &wc) < 0)
		_exit(1);
	fleet_run(&f, &wc);
	if (hooks && hooks->worker_done)
		hooks->worker_done(hooks->ctx);
	shard_send_results(l->up, &f, offset);
	fleet_free(&f);
	_exit(0);
}

static int shard_read_results(struct fleet *f, int fd)
{
	struct shard_record r;

	while (fd_read_all(fd, &r, sizeof(r)) == 0) {
		struct fleet_instance *in;

		if (r.index >= f->cfg.count || r.report_len > (1u << 20))
			return err_set("a worker process sent a malformed result");
		in = &f->inst[r.index];
		in->res.end = (enum vm_end)r.end;
		in->res.status = r.status;
		in->res.exits = r.exits;
		in->res.hypercalls = r.hypercalls;
		in->mem_taken = r.mem_taken;
		in->thread_ok = r.thread_ok;
		in->mem = r.mem;
		in->ended = 1;
		memcpy(in->res.message, r.message, sizeof(r.message));
		in->res.message[sizeof(in->res.message) - 1] = '\0';
		if (r.report_len) {
			in->res.report = malloc(r.report_len + 1);
			if (!in->res.report || fd_read_all(fd, in->res.report, r.report_len) < 0)
				return err_set("a worker process's result was cut short");
			in->res.report[r.report_len] = '\0';
		}
	}
	return 0;
}

/* Instances whose worker died without a word. */
static void shard_mark_lost(struct fleet *f)
{
	unsigned i;

	for (i = 0; i < f->cfg.count; i++) {
		struct fleet_instance *in = &f->inst[i];

		if (in->ended)
			continue;
		in->thread_ok = 1;
		in->res.end = VM_END_HOST_ERROR;
		snprintf(in->res.message, sizeof(in->res.message),
			 "its worker process died before reporting");
	}
}

static int shard_start(struct fleet *f, const struct fleet_config *cfg, unsigned per,
		       const struct fleet_shard_hooks *hooks, struct shard_link *links)
{
	unsigned w;

	for (w = 0; w < f->nworkers; w++) {
		int up[2], down[2];
		pid_t pid;

		if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
			return err_sys("pipe");
		pid = fork();
		if (pid < 0)
			return err_sys("fork");
		if (pid == 0) {
			struct shard_link l = { .up = up[1], .down = down[0] };
			unsigned first = w * per;

			close(up[0]);
			close(down[1]);
			shard_worker(cfg, first, cfg->count - first < per ? cfg->count - first : per,
				     hooks, &l);
		}
		close(up[1]);
		close(down[0]);
		links[w].up = up[0];
		links[w].down = down[1];
		f->workers[w] = pid;
		vlog_debug("fleet: worker %u (pid %d): instances %u..%u", w, (int)pid,
			   cfg->first_instance + w * per,
			   cfg->first_instance + w * per +
				   (cfg->count - w * per < per ? cfg->count - w * per : per) - 1);
	}
	return 0;
}

int fleet_run_sharded(struct fleet *f, const struct fleet_config *cfg, unsigned per_process,
		      const struct fleet_shard_hooks *hooks)
{
	struct shard_link *links;
	unsigned w, n = cfg->count;
	int ret = 0;

	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	f->nworkers = (n + per_process - 1) / per_process;
	f->inst = calloc(n ? n : 1, sizeof(*f->inst));
	f->workers = calloc(f->nworkers ? f->nworkers : 1, sizeof(*f->workers));
	links = calloc(f->nworkers ? f->nworkers : 1, sizeof(*links));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->arrived, NULL);
	pthread_cond_init(&f->release, NULL);
	pthread_cond_init(&f->creator, NULL);
	if (!f->inst || !f->workers || !links) {
		free(links);
		return err_set("out of memory");
	}
	for (w = 0; w < f->nworkers; w++)
		links[w].up = links[w].down = -1;
	f->t_start_ns = vm_now_ns();
	/* stdout is shared with the workers: nothing buffered may be written twice. */
	fflush(NULL);
	vlog_info("fleet: %u instances over %u worker process%s of at most %u each", n, f->nworkers,
		  f->nworkers == 1 ? "" : "es", per_process);
	ret = shard_start(f, cfg, per_process, hooks, links);
	if (cfg->hold) {
		for (w = 0; w < f->nworkers; w++) {
			char c;

			if (links[w].up >= 0)
				fd_read_all(links[w].up, &c, 1); /* held, or the worker is gone */
		}
		f->t_held_ns = vm_now_ns();
		if (cfg->on_hold)
			cfg->on_hold(cfg->on_hold_ctx, f);
		for (w = 0; w < f->nworkers; w++) {
			char c = SHARD_RELEASE;

			if (links[w].down >= 0)
				fd_write_all(links[w].down, &c, 1);
		}
	}
	for (w = 0; w < f->nworkers; w++) {
		if (links[w].up >= 0 && shard_read_results(f, links[w].up) < 0)
			ret = -1;
		if (links[w].up >= 0)
			close(links[w].up);
		if (links[w].down >= 0)
			close(links[w].down);
		if (f->workers[w] > 0)
			waitpid(f->workers[w], NULL, 0);
	}
	shard_mark_lost(f);
	f->t_end_ns = vm_now_ns();
	free(links);
	return ret;
}
