/* fleet.c: run many instances of one image, hold them at their wait, release them. */
#define _GNU_SOURCE
#include "fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clone/shellpool.h"
#include "clone/template.h"
#include "core/confine.h"
#include "core/error.h"
#include "core/log.h"
#include "guestabi/guest.h"
#include "guestabi/lx.h"

#define FLEET_STACK_SIZE (256u << 10)

struct fleet_arg {
	struct fleet *f;
	unsigned i;
};

/* Bumps one of the caller's progress counts (fleet_config.progress), if it asked for them. */
#define fleet_count(f, what)                                                          \
	do {                                                                          \
		if ((f)->cfg.progress)                                                \
			__atomic_add_fetch(&(f)->cfg.progress->what, 1, __ATOMIC_RELAXED); \
	} while (0)

static int64_t fleet_output(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct fleet *f = ctx;

	return f->cfg.hooks->output(f->cfg.hooks_ctx, vm, stream, buf, len);
}

static int fleet_wait(void *ctx, struct vm *vm)
{
	struct fleet *f = ctx;
	struct fleet_instance *in = &f->inst[vm->instance - f->cfg.first_instance];
	int ret = 0;

	if (!f->cfg.hold)
		return 0;
	fleet_count(f, held);
	pthread_mutex_lock(&f->lock);
	in->waiting = 1;
	f->waiting++;
	pthread_cond_signal(&f->arrived);
	while (!f->released) {
		if (vm->deadline_ns) {
			struct timespec ts = {(time_t)(vm->deadline_ns / 1000000000ull),
					      (long)(vm->deadline_ns % 1000000000ull)};

			if (pthread_cond_clockwait(&f->release, &f->lock, CLOCK_MONOTONIC, &ts) ==
			    ETIMEDOUT) {
				ret = -1;
				break;
			}
		} else {
			pthread_cond_wait(&f->release, &f->lock);
		}
	}
	in->waiting = 0;
	f->waiting--;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static const struct vm_hooks fleet_hooks_out = {.output = fleet_output, .wait = fleet_wait};
static const struct vm_hooks fleet_hooks = {.wait = fleet_wait};

/* Bounds concurrent VM creation to the CPU count: more only thrashes KVM's locks. */
static void fleet_creator_enter(struct fleet *f)
{
	pthread_mutex_lock(&f->lock);
	while (f->creators >= f->max_creators)
		pthread_cond_wait(&f->creator, &f->lock);
	f->creators++;
	pthread_mutex_unlock(&f->lock);
}

static void fleet_creator_leave(struct fleet *f)
{
	pthread_mutex_lock(&f->lock);
	f->creators--;
	pthread_cond_signal(&f->creator);
	pthread_mutex_unlock(&f->lock);
}

static void fleet_instance_end(struct fleet *f, struct fleet_instance *in)
{
	fleet_count(f, exited);
	pthread_mutex_lock(&f->lock);
	in->ended = 1;
	f->ended++;
	pthread_cond_signal(&f->arrived);
	pthread_mutex_unlock(&f->lock);
}

static void *fleet_instance_main(void *p)
{
	struct fleet_arg *a = p;
	struct fleet *f = a->f;
	struct fleet_instance *in = &f->inst[a->i];
	struct vm_config cfg = f->cfg.vm;

	cfg.instance = f->cfg.first_instance + a->i;
	cfg.hooks = f->cfg.hooks && f->cfg.hooks->output ? &fleet_hooks_out : &fleet_hooks;
	cfg.hooks_ctx = f;
	fleet_creator_enter(f);
	if (f->cfg.tpl)
		in->vm = template_clone(f->cfg.tpl, f->cfg.kvm, f->cfg.pool, &cfg);
	else
		in->vm = vm_create(f->cfg.kvm, f->cfg.img, &cfg);
	fleet_creator_leave(f);
	if (!in->vm) {
		in->create_failed = 1;
		in->res.end = VM_END_HOST_ERROR;
		snprintf(in->res.message, sizeof(in->res.message), "%s", mvmm_errmsg());
	} else if (f->cfg.confine && confine_vcpu_thread(f->cfg.confine_extra) < 0) {
		in->res.end = VM_END_HOST_ERROR;
		snprintf(in->res.message, sizeof(in->res.message), "%s", mvmm_errmsg());
		vm_destroy(in->vm);
		in->vm = NULL;
	} else {
		fleet_count(f, started);
		if (f->cfg.on_vm)
			f->cfg.on_vm(f->cfg.on_vm_ctx, f, a->i, in->vm, 1);
		vm_run(in->vm, &in->res);
		if (!in->mem_taken)
			in->mem_taken = lx_memstat_read(in->vm, &in->mem) == 0;
		if (f->cfg.on_vm)
			f->cfg.on_vm(f->cfg.on_vm_ctx, f, a->i, in->vm, 0);
		if (f->cfg.pool)
			shell_pool_reap(f->cfg.pool, in->vm);
		else
			vm_destroy(in->vm);
		in->vm = NULL;
	}
	fleet_instance_end(f, in);
	free(a);
	return NULL;
}

/*
 * All instance threads take their stacks from one mapping: a stack of its
 * own (with a guard page) would add two VMAs per instance, and KVM_CREATE_VM
 * walks every VMA of the process (mmu_notifier_register takes all their
 * locks), so creation slowed down with every instance alive.
 */
static int fleet_map_stacks(struct fleet *f)
{
	f->stacks_size = (size_t)f->cfg.count * FLEET_STACK_SIZE;
	f->stacks = mmap(NULL, f->stacks_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (f->stacks == MAP_FAILED) {
		f->stacks = NULL;
		return err_sys("mapping %u thread stacks", f->cfg.count);
	}
	return 0;
}

static int fleet_start_threads(struct fleet *f)
{
	pthread_attr_t attr;
	unsigned i;
	int ret = 0;

	if (fleet_map_stacks(f) < 0)
		return -1;
	pthread_attr_init(&attr);
	for (i = 0; i < f->cfg.count; i++) {
		struct fleet_arg *a = malloc(sizeof(*a));
		int err;

		if (!a) {
			ret = err_set("out of memory");
			break;
		}
		a->f = f;
		a->i = i;
		pthread_attr_setstack(&attr, (uint8_t *)f->stacks + (size_t)i * FLEET_STACK_SIZE,
				      FLEET_STACK_SIZE);
		err = pthread_create(&f->inst[i].thread, &attr, fleet_instance_main, a);
		if (err) {
			free(a);
			errno = err;
			ret = err_sys("starting instance thread %u", i);
			break;
		}
		f->inst[i].thread_ok = 1;
	}
	pthread_attr_destroy(&attr);
	return ret;
}

/* Waits until every instance is waiting or ended, then measures and releases them. */
static void fleet_hold_and_release(struct fleet *f, unsigned started)
{
	unsigned i;

	pthread_mutex_lock(&f->lock);
	while (f->waiting + f->ended < started)
		pthread_cond_wait(&f->arrived, &f->lock);
	f->t_held_ns = vm_now_ns();
	if (f->cfg.on_held)
		f->cfg.on_held(f->cfg.on_hold_ctx, f);
	for (i = 0; i < started; i++) {
		struct fleet_instance *in = &f->inst[i];

		if (in->waiting && in->vm)
			in->mem_taken = lx_memstat_read(in->vm, &in->mem) == 0;
	}
	if (f->cfg.on_hold)
		f->cfg.on_hold(f->cfg.on_hold_ctx, f);
	f->released = 1;
	pthread_cond_broadcast(&f->release);
	pthread_mutex_unlock(&f->lock);
}

int fleet_run(struct fleet *f, const struct fleet_config *cfg)
{
	unsigned i, started = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	f->max_creators = ncpu > 0 ? (int)ncpu : 1;
	f->inst = calloc(cfg->count ? cfg->count : 1, sizeof(*f->inst));
	if (!f->inst)
		return err_set("out of memory");
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->arrived, NULL);
	pthread_cond_init(&f->release, NULL);
	pthread_cond_init(&f->creator, NULL);
	f->t_start_ns = vm_now_ns();
	vlog_debug("fleet: %u instance%s (numbers %u..%u) on threads of this process, %d created "
		   "at once%s", cfg->count, cfg->count == 1 ? "" : "s", cfg->first_instance,
		   cfg->first_instance + cfg->count - 1, f->max_creators,
		   cfg->tpl ? ", clones of a template" : "");
	ret = fleet_start_threads(f);
	for (i = 0; i < cfg->count; i++)
		started += f->inst[i].thread_ok;
	if (cfg->hold)
		fleet_hold_and_release(f, started);
	for (i = 0; i < cfg->count; i++)
		if (f->inst[i].thread_ok)
			pthread_join(f->inst[i].thread, NULL);
	f->t_end_ns = vm_now_ns();
	return ret;
}

void fleet_free(struct fleet *f)
{
	unsigned i;

	if (!f->inst)
		return;
	for (i = 0; i < f->cfg.count; i++)
		vm_result_clear(&f->inst[i].res);
	free(f->inst);
	f->inst = NULL;
	if (f->stacks)
		munmap(f->stacks, f->stacks_size);
	f->stacks = NULL;
	free(f->workers);
	f->workers = NULL;
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->arrived);
	pthread_cond_destroy(&f->release);
	pthread_cond_destroy(&f->creator);
}
