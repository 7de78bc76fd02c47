/* shellpool.h: VM shells created ahead of need, and VMs torn down, off the critical path. */
#ifndef MVMM_SHELLPOOL_H
#define MVMM_SHELLPOOL_H

#include <pthread.h>
#include <stdint.h>

#include "core/kvm.h"
#include "core/vm.h"

struct shell_pool {
	struct kvm_sys *kvm;
	uint64_t mem_size;
	unsigned target;     /* shells kept ready */
	int warm_memfd;	     /* tables to run each new shell once over (vm_shell_warm), or -1 */
	const struct huge_map *warm_huge; /* their 2 MiB pages, mapped as a clone maps them */
	struct template *warm_tpl; /* the template whose clones' working set shells pre-touch */
	struct vm **ready;   /* [target] */
	unsigned nready;
	struct vm **reap;    /* VMs waiting to be destroyed */
	unsigned nreap, reap_cap;
	pthread_mutex_t lock;
	pthread_cond_t wake;   /* the filler: a shell was taken, or resources were freed */
	pthread_cond_t reaped; /* the reaper: a VM to destroy */
	pthread_t filler, reaper;
	int stop;
	uint64_t misses;     /* gets that found the pool empty and created a shell inline */
};

struct template;

/*
 * With warm (a template, held by the caller until shell_pool_stop), each
 * shell's vCPU is run once over its memory before it is handed out
 * (vm_shell_warm), so a clone of it needs no remap; once a reaped clone has
 * shown the template's working set (template_learn), each new shell also
 * reads those pages once (vm_shell_touch), so clones find them mapped.
 * Starts a background thread that keeps `target` shells (VM fd, memslot
 * over reserved memory, vCPU) for guests of mem_size bytes, and destroys
 * the VMs handed to shell_pool_reap. Creating a VM shell costs ~0.5-1 ms
 * here and tearing one down more: neither belongs between a clone request
 * and its clone running.
 */
int shell_pool_start(struct shell_pool *p, struct kvm_sys *kvm, uint64_t mem_size,
		     unsigned target, struct template *warm);
/* A ready shell, or one made now when the pool is empty (NULL on failure). */
struct vm *shell_pool_get(struct shell_pool *p);
/* A ready shell, or NULL when none is ready now. */
struct vm *shell_pool_try_get(struct shell_pool *p);
/* Destroys vm later, on the pool's thread. */
void shell_pool_reap(struct shell_pool *p, struct vm *vm);
/* Stops the thread, destroys every shell and every VM still waiting to be reaped. */
void shell_pool_stop(struct shell_pool *p);

#endif
