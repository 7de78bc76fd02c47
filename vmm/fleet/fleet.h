/* fleet.h: N instances of one image running concurrently, one thread each. */
#ifndef MVMM_FLEET_H
#define MVMM_FLEET_H

#include <pthread.h>
#include <sys/types.h>
#include <stdint.h>

#include "core/vm.h"
#include "mem/memstat.h"

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

/*
 * Counts a caller may poll while a fleet runs (progress on a terminal).
 * Updated atomically by every instance thread; for fleet_run_sharded put
 * them in memory shared with the worker processes (MAP_SHARED), as they
 * are bumped there.
 */
struct fleet_progress {
	uint64_t total;	  /* instances of the run: the caller sets it */
	uint64_t started; /* VMs created (or cloned) */
	uint64_t held;	  /* reached the hold point (--hold) */
	uint64_t exited;  /* runs ended, failed creations included */
};

struct fleet_config {
	struct kvm_sys *kvm;
	struct image *img;
	struct template *tpl;	  /* if set, instances are clones of it (img is its image) */
	struct shell_pool *pool;  /* shells for clones, and teardown off the critical path */
	unsigned count;
	unsigned first_instance;     /* instance numbers are first_instance .. + count - 1 */
	struct vm_config vm;	      /* for every instance; .instance and .hooks are set per VM */
	const struct vm_hooks *hooks; /* the caller's output hook (wait is the fleet's) */
	void *hooks_ctx;
	int hold; /* hold instances at MVMM_HC_WAIT until all arrive */
	int confine; /* each instance thread runs its vCPU under the vCPU filter (core/confine.h) */
	unsigned confine_extra; /* what that filter allows besides: CONFINE_VCPU_* */
	/*
	 * Called once every instance is waiting or has ended, before release:
	 * on_held at once (the start-up clock stops there), on_hold after each
	 * instance's pages were counted (--stats reads take time; the instances
	 * stay held through both).
	 */
	void (*on_held)(void *ctx, struct fleet *f);
	void (*on_hold)(void *ctx, struct fleet *f);
	void *on_hold_ctx;
	/*
	 * Called on instance i's thread once its VM is created (live 1, before
	 * it runs) and once its run ended (live 0, before teardown).
	 */
	void (*on_vm)(void *ctx, struct fleet *f, unsigned i, struct vm *vm, int live);
	void *on_vm_ctx;
	struct fleet_progress *progress; /* counts to bump, or NULL */
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
	pid_t *workers; /* fleet_run_sharded: the worker processes */
	unsigned nworkers;
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

struct fleet_shard_hooks {
	/*
	 * In each worker process, before its fleet starts: set up its output
	 * (cfg is its part), and for clones its shell pool (cfg->pool).
	 */
	int (*worker_init)(void *ctx, struct fleet_config *cfg);
	/* In each worker process, after its fleet ended. */
	void (*worker_done)(void *ctx);
	void *ctx;
};

/*
 * As fleet_run, but spread over worker processes of at most per_process
 * instances each, forked after the image is loaded (they map the same
 * memfd, so the page cache still holds one copy). Why: KVM_CREATE_VM walks
 * every VMA of its process, and the kernel's page-aging walks call every
 * VM's MMU notifier of a process for every mapping of a shared page; both
 * grow with the instances per process, so one process of thousands of VMs
 * slows down quadratically. The hold barrier spans all workers; results
 * come back to f->inst. With cfg->tpl, every worker clones from the one
 * frozen memfd made before the fork (its pages are shared, copy-on-write);
 * cfg->pool must be NULL, as shells and pool threads belong to the process
 * that made them: a worker's own comes from hooks->worker_init. f->workers
 * lists the worker pids while on_hold runs.
 */
int fleet_run_sharded(struct fleet *f, const struct fleet_config *cfg, unsigned per_process,
		      const struct fleet_shard_hooks *hooks);

#endif
