/* shellpool.c: a background thread that fills a pool of VM shells and reaps dead VMs. */
#define _GNU_SOURCE
#include "shellpool.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static int pool_has_work(const struct shell_pool *p)
{
	return p->stop || p->nreap > 0 || p->nready < p->target;
}

/* Reaping first: it frees what filling would need. */
static void *shell_pool_main(void *arg)
{
	struct shell_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!pool_has_work(p))
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		if (p->nreap > 0) {
			struct vm *vm = p->reap[--p->nreap];

			pthread_mutex_unlock(&p->lock);
			vm_destroy(vm);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		struct vm *vm = vm_shell_create(p->kvm, p->mem_size);
		pthread_mutex_lock(&p->lock);
		if (!vm) {
			/* Out of fds or memory: stop filling until a get or reap wakes us. */
			pthread_cond_wait(&p->wake, &p->lock);
			continue;
		}
		if (p->nready < p->target && !p->stop)
			p->ready[p->nready++] = vm;
		else
			p->reap[p->nreap++] = vm; /* cannot overflow: see shell_pool_reap */
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int shell_pool_start(struct shell_pool *p, struct kvm_sys *kvm, uint64_t mem_size,
		     unsigned target)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->kvm = kvm;
	p->mem_size = mem_size;
	p->target = target;
	p->reap_cap = target + 64;
	p->ready = calloc(target ? target : 1, sizeof(*p->ready));
	p->reap = calloc(p->reap_cap, sizeof(*p->reap));
	if (!p->ready || !p->reap) {
		free(p->ready);
		free(p->reap);
		return err_set("out of memory");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	err = pthread_create(&p->thread, NULL, shell_pool_main, p);
	if (err) {
		free(p->ready);
		free(p->reap);
		return err_set("starting the shell pool thread failed (%d)", err);
	}
	return 0;
}

struct vm *shell_pool_get(struct shell_pool *p)
{
	struct vm *vm = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nready > 0)
		vm = p->ready[--p->nready];
	else
		p->misses++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return vm ? vm : vm_shell_create(p->kvm, p->mem_size);
}

void shell_pool_reap(struct shell_pool *p, struct vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nreap + p->target + 1 > p->reap_cap) {
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
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void shell_pool_stop(struct shell_pool *p)
{
	unsigned i;

	if (!p->ready)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	for (i = 0; i < p->nready; i++)
		vm_destroy(p->ready[i]);
	for (i = 0; i < p->nreap; i++)
		vm_destroy(p->reap[i]);
	free(p->ready);
	free(p->reap);
	p->ready = p->reap = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
}
