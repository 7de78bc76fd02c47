/* fleet.h: N instances of one image running concurrently, one thread each. */
#ifndef MVMM_FLEET_H
#define MVMM_FLEET_H

#include <pthread.h>
#include <stdint.h>

#include "memstat.h"
#include "vm.h"

struct fleet_instance {
	struct vm *vm; /* live between creation and the end of its run */
	struct vm_result res;
	struct memstat_vm mem; /* taken at the hold point, or just before teardown */
	int mem_taken;
	int create_failed; /* res.message says why */
	int waiting;	   /* blocked in MVMM_HC_WAIT */
	int ended;
	pthread_t thread;
	int thread_ok;
};

struct fleet;
struct template;
struct shell_pool;

struct fleet_config {
	struct kvm_sys *kvm;
	struct image *img;
	struct template *tpl;	  /* if set, instances are clones of it (img is its image) */
	struct shell_pool *pool;  /* shells for clones, and teardown off the critical path */
	unsigned count;
	struct vm_config vm;	      /* for every instance; .instance and .hooks are set per VM */
	const struct vm_hooks *hooks; /* the caller's output hook (wait is the fleet's) */
	void *hooks_ctx;
	int hold; /* hold instances at MVMM_HC_WAIT until all arrive */
	/* Called once every instance is waiting or has ended, before release. */
	void (*on_hold)(void *ctx, struct fleet *f);
	void *on_hold_ctx;
};

struct fleet {
	struct fleet_config cfg;
	struct fleet_instance *inst;
	pthread_mutex_t lock;
	/* Separate conditions: one broadcast per event would wake thousands of threads. */
	pthread_cond_t arrived; /* main waits: an instance reached its wait or ended */
	pthread_cond_t release; /* held instances wait: broadcast once, at release */
	pthread_cond_t creator; /* a creation slot became free */
	unsigned waiting, ended;
	int released;
	uint64_t t_start_ns, t_held_ns, t_end_ns;
	int creators; /* instances being created right now (bounded by the CPU count) */
	int max_creators;
	void *stacks; /* one mapping holds every instance thread's stack */
	size_t stacks_size;
};

/*
 * Runs cfg->count instances of cfg->img to their ends and fills f->inst.
 * Each instance runs on its own small-stack thread: a guest that waits
 * blocks its thread and burns no core. Returns 0 once all have ended (each
 * has its own result), or -1 if threads could not be started.
 * fleet_free releases the results.
 */
int fleet_run(struct fleet *f, const struct fleet_config *cfg);
void fleet_free(struct fleet *f);

#endif
