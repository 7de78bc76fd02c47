/* template.h: a guest frozen at its ready point, and clones made from it. */
#ifndef MVMM_TEMPLATE_H
#define MVMM_TEMPLATE_H

#include <stdint.h>

#include "core/vcpu_state.h"
#include "core/vm.h"
#include "load/image.h"

struct shell_pool;
struct lx_proc;

struct template {
	int refs;
	struct image *img;	  /* program symbols and layout */
	int memfd;		  /* the frozen memory, sealed; holes stay holes */
	uint64_t mem_off;	  /* file offset of guest page 0 in memfd: 0, or a snapshot file's */
	int ovl_fd;		  /* with ovl_n: a sealed memfd of the pages mapped over memfd's */
	uint32_t ovl_n;		  /* runs of ovl (0: no overlay; ovl_fd is not open) */
	uint64_t (*ovl)[2];	  /* { first page, pages } mapped from ovl_fd at the same offsets */
	uint64_t mem_size;
	uint64_t data_pages;	  /* pages the memfd holds */
	uint8_t *data_map;	  /* which ones (one bit per page) */
	struct vcpu_state state;  /* as MVMM_HC_READY returns */
	uint64_t ready_block;	  /* GPA of the ready call's block: each clone's number goes here */
	int64_t resume_ret;	  /* non-zero: clones get this `ret` instead (snapshot at a checkpoint) */
	uint64_t next_clone;	  /* clone numbers start at 1 */
	uint64_t clone_step;	  /* and go up by this (0: 1); serve's workers interleave them */
	uint64_t boot_ns;	  /* how long the template took to reach ready */
	struct lx_proc *lx;	  /* the program's process state at ready (owned) */
	struct template_ws *ws;	  /* what its first reaped clone touched, or NULL (atomic) */
	struct template_ws *ws_buf; /* room for it, made by shell_pool_start's thread */
	int ws_claimed;		  /* a learner is filling ws_buf (atomic) */
};

/* The pages a clone of a template touched: shells pre-touch them (vm_shell_touch). */
struct template_ws {
	uint32_t n;
	uint32_t pages[];
};

#define TEMPLATE_WS_MAX 16384 /* pages a working set keeps at most */

/*
 * Records, once per template, the guest pages clone vm (ended, not yet
 * destroyed) had present: its working set, which later shells pre-touch.
 * It allocates nothing (any thread may learn: the pool's reaper does), so
 * the room comes first from template_ws_prepare; without it, nothing.
 */
void template_learn(struct template *tpl, const struct vm *vm);
/* Makes the room template_learn fills (once; -1 when out of memory). */
int template_ws_prepare(struct template *tpl);

/*
 * Boots img with cfg until it calls MVMM_HC_READY, then freezes it: vCPU
 * state and memory (copied into a new sealed memfd) become the template.
 * If the guest ends another way (exits, faults, times out) returns NULL and
 * *res says how; on a host failure returns NULL with the message set.
 */
struct template *template_create(struct kvm_sys *kvm, struct image *img,
				 const struct vm_config *cfg, struct vm_result *res);

/*
 * A template made from memory already in a sealed memfd and a saved state
 * (snapshots on disk); takes ownership of memfd.
 */
struct template *template_from_parts(struct image *img, int memfd, const struct vcpu_state *st,
				     uint64_t ready_block);

/*
 * A new VM resuming from the template's ready point with its own clone
 * number (MVMM_HC_READY's return) and cfg->request. The shell comes from
 * pool when given (pre-created off the critical path), else is made here.
 */
/*
 * Once the template's working set is known (template_learn): a clone in a
 * shell of pool ready now, which has read that set (vm_shell_touch: the
 * clone finds those pages mapped), or NULL when none is ready.
 */
struct vm *template_clone_touched(struct template *tpl, struct shell_pool *pool,
				  const struct vm_config *cfg);
struct vm *template_clone(struct template *tpl, struct kvm_sys *kvm, struct shell_pool *pool,
			  const struct vm_config *cfg);

/*
 * Turns vm, a finished clone of tpl, into a new clone of it: the template's
 * memory mapped again (dropping every page the last guest wrote), pending
 * events cleared, the state restored, a new clone number.
 */
int template_reuse_clone(struct vm *vm, struct template *tpl, const struct vm_config *cfg);

/*
 * A template whose memory is mapped from a file: guest page 0 at offset
 * mem_off of fd (a snapshot base file), with ovl_n runs of ovl_fd (a
 * sealed memfd holding pages at their guest offsets) mapped over it, both
 * MAP_PRIVATE. data_map (one bit per page) says which pages hold data.
 * Takes fd, ovl_fd (when ovl_n), ovl and data_map, even on failure.
 */
struct template *template_from_file(struct image *img, int fd, uint64_t mem_off, int ovl_fd,
				    uint64_t (*ovl)[2], uint32_t ovl_n, uint8_t *data_map,
				    const struct vcpu_state *st, uint64_t ready_block);

/* Maps tpl's memory over vm's guest memory: the file, then the overlay's runs. */
int template_map(struct vm *vm, const struct template *tpl);

/*
 * A read-only view of tpl's memory (as a clone first sees it) at a new
 * address, mem_size bytes; munmap it when done. NULL with the message set.
 */
uint8_t *template_view(const struct template *tpl);

struct template *template_get(struct template *tpl);
void template_put(struct template *tpl);

/*
 * Copies the guest memory of vm into a new sealed memfd: pages the guest
 * wrote or the image holds; all-zero pages stay holes.
 */
int template_capture_memory(const struct vm *vm, uint64_t *data_pages);

#endif
