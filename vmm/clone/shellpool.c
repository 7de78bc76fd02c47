/* shellpool.c: a background thread that fills a pool of VM shells and reaps dead VMs. */
#define _GNU_SOURCE
#include "shellpool.h"
#include "template.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void shell_pool_join(struct shell_pool *p, int filler, int reaper);

/*
 * A new shell run over the template's memory, then made to read the pages
 * its clones touch once one clone has shown them (template_learn): each
 * first touch costs a clone ~4-5 us under PVM, here it costs the filler.
 */
static int shell_pool_warm(struct shell_pool *p, struct vm *vm)
{
	const struct template_ws *ws;

	if (vm_shell_warm_at(vm, p->warm_memfd, p->warm_tpl->mem_off, p->warm_huge) < 0)
		return -1;
	ws = p->warm_tpl ? __atomic_load_n(&p->warm_tpl->ws, __ATOMIC_ACQUIRE) : NULL;
	return ws ? vm_shell_touch(vm, ws->pages, ws->n) : 0;
}

/*
 * Two threads: one keeps the pool filled, one destroys dead VMs, so that a
 * burst of teardowns never starves the next clone of a shell.
 */
static void *shell_pool_filler(void *arg)
{
	struct shell_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->nready >= p->target)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		struct vm *vm = vm_shell_create(p->kvm, p->mem_size);

		if (vm && p->warm_memfd >= 0 && shell_pool_warm(p, vm) < 0) {
			vm_destroy(vm);
			vm = NULL;
		}
		pthread_mutex_lock(&p->lock);
		if (!vm) {
			/* Out of fds or memory: wait for a get or a reap before trying again. */
			pthread_cond_wait(&p->wake, &p->lock);
			continue;
		}
		if (p->nready < p->target && !p->stop) {
			p->ready[p->nready++] = vm;
		} else {
			pthread_mutex_unlock(&p->lock);
			vm_destroy(vm);
			pthread_mutex_lock(&p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void *shell_pool_reaper(void *arg)
{
	struct shell_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->nreap == 0)
			pthread_cond_wait(&p->reaped, &p->lock);
		if (p->nreap == 0)
			break; /* stopping, and nothing left to destroy */
		struct vm *vm = p->reap[--p->nreap];

		pthread_mutex_unlock(&p->lock);
		if (p->warm_tpl && vm->tpl == p->warm_tpl)
			template_learn(p->warm_tpl, vm);
		vm_destroy(vm);
		pthread_mutex_lock(&p->lock);
		pthread_cond_broadcast(&p->wake); /* resources freed: the filler may retry */
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int shell_pool_start(struct shell_pool *p, struct kvm_sys *kvm, uint64_t mem_size,
		     unsigned target, struct template *warm)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->kvm = kvm;
	p->mem_size = mem_size;
	p->target = target;
	p->warm_memfd = warm ? warm->memfd : -1;
	p->warm_huge = warm ? &warm->img->huge : NULL;
	p->warm_tpl = warm;
	if (warm && template_ws_prepare(warm) < 0)
		return -1;
	p->reap_cap = 64;
	p->ready = calloc(target ? target : 1, sizeof(*p->ready));
	p->reap = calloc(p->reap_cap, sizeof(*p->reap));
	if (!p->ready || !p->reap) {
		free(p->ready);
		free(p->reap);
		return err_set("out of memory");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->reaped, NULL);
	err = pthread_create(&p->filler, NULL, shell_pool_filler, p);
	if (!err) {
		err = pthread_create(&p->reaper, NULL, shell_pool_reaper, p);
		if (err) {
			shell_pool_join(p, 1, 0);
		}
	}
	if (err) {
		free(p->ready);
		free(p->reap);
		p->ready = p->reap = NULL;
		return err_set("starting the shell pool threads failed (%d)", err);
	}
	return 0;
}

struct vm *shell_pool_try_get(struct shell_pool *p)
{
	struct vm *vm = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nready > 0)
		vm = p->ready[--p->nready];
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return vm;
}

struct vm *shell_pool_get(struct shell_pool *p)
{
	struct vm *vm = shell_pool_try_get(p);

	if (vm)
		return vm;
	pthread_mutex_lock(&p->lock);
	p->misses++;
	pthread_mutex_unlock(&p->lock);
	return vm_shell_create(p->kvm, p->mem_size);
}

void shell_pool_reap(struct shell_pool *p, struct vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nreap == p->reap_cap) {
		struct vm **r = realloc(p->reap, (p->reap_cap * 2) * sizeof(*r));

		if (!r) {
			/* No room to defer: destroy it here rather than leak it. */
			pthread_mutex_unlock(&p->lock);
			vm_destroy(vm);
			return;
		}
		p->reap = r;
		p->reap_cap *= 2;
	}
	p->reap[p->nreap++] = vm;
	pthread_cond_signal(&p->reaped);
	pthread_mutex_unlock(&p->lock);
}

static void shell_pool_join(struct shell_pool *p, int filler, int reaper)
{
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_cond_broadcast(&p->reaped);
	pthread_mutex_unlock(&p->lock);
	if (filler)
		pthread_join(p->filler, NULL);
	if (reaper)
		pthread_join(p->reaper, NULL);
}

void shell_pool_stop(struct shell_pool *p)
{
	unsigned i;

	if (!p->ready)
		return;
	shell_pool_join(p, 1, 1);
	for (i = 0; i < p->nready; i++)
		vm_destroy(p->ready[i]);
	for (i = 0; i < p->nreap; i++)
		vm_destroy(p->reap[i]);
	free(p->ready);
	free(p->reap);
	p->ready = p->reap = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->reaped);
}
