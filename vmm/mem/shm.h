/* shm.h: shared-memory regions between guests: capabilities, attachments, doorbells. */
#ifndef MVMM_SHM_H
#define MVMM_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "core/exit.h"
#include "mvmm_abi.h"

/*
 * A region is a memfd of a page-multiple size. The host creates it and
 * gives guests its handles: unguessable 128-bit capabilities (getrandom),
 * one read-write and one read-only, resolvable process-wide while the
 * region is not destroyed. A guest attaches a region by handle as its own
 * memslot (MAP_SHARED), identity-mapped in its attachment window; the
 * region's memory lives until the host destroyed it and no guest has it
 * attached. Each region also carries a doorbell: a sequence counter with a
 * condition variable (see MVMM_HC_SHM_WAIT in mvmm_abi.h).
 *
 * Threads: every call may come from any thread; attach and detach run on
 * the attaching VM's own runner thread (hypercalls), which is also the only
 * thread that writes that VM's page tables.
 */
struct shm_region;
struct vm;

/* A zero-filled region of size bytes (a multiple of 4 KiB, at most MVMM_SHM_WINDOW); NULL on failure. */
struct shm_region *shm_region_create(uint64_t size);

/*
 * Revokes both handles at once (attach, lookup, notify and wait by them
 * fail from now on; waiters wake with -MVMM_EPIPE) and drops the host's
 * reference. Attachments keep working until detached; the memory goes
 * with the last of them.
 */
void shm_region_destroy(struct shm_region *r);

uint64_t shm_region_size(const struct shm_region *r);

/* The handle a guest needs: read-write (ro 0) or read-only (attaches only with MVMM_SHM_RO). */
void shm_region_handle(const struct shm_region *r, int ro, struct mvmm_shm_handle *h);

/* The region mapped MAP_SHARED in the host (made on first call, kept until the region ends); NULL on failure. */
void *shm_region_host(struct shm_region *r);

/* Rings the doorbell from the host; returns the counter after the bump. */
uint64_t shm_region_notify(struct shm_region *r);

/* Attachments of r across all guests now. */
unsigned shm_region_attached(const struct shm_region *r);

/*
 * What a guest may find by name (MVMM_HC_SHM_LOOKUP): vm_config.shm points
 * at an array of grants ended by one with a NULL name; it must outlive the
 * VM. A grant holds only the handle: a destroyed region's lookup fails.
 */
struct shm_grant {
	const char *name;
	struct mvmm_shm_handle handle;
};

/* A region name as --shm and mvmm_shm_new take it: 1-63 letters, digits, _ - . (len bytes of s). */
int shm_name_ok(const char *s, size_t len);

/* Regions in this process not yet freed (created and not destroyed, or still attached). */
unsigned shm_live_regions(void);

/*
 * The VM's run is over: detaches all its attachments (page tables cleared,
 * memslots deleted) and wakes the regions' waiters, counting the VM as
 * ended for their -MVMM_EPIPE rule. vm_run calls it; idempotent.
 */
void shm_vm_end(struct vm *vm);

/*
 * The host gave r's handles to `guests` guests in all (a run's instances).
 * Once every one of them but a waiter has ended, attached or not, the
 * waiter's wait fails with -MVMM_EPIPE: nobody is left to ring. 0, the
 * default: only guests that ended with the region attached count.
 */
void shm_region_expect(struct shm_region *r, unsigned guests);
/* vm was given grants (vm_config.shm): the end of its run counts for their regions. */
int shm_vm_granted(struct vm *vm);
/* Frees the VM's attachment state (vm_destroy calls it, before guest memory is unmapped). */
void shm_vm_free(struct vm *vm);

/* The hypercall handlers (hypercall.c's table routes to them). */
enum exit_action shm_hc_lookup(struct vm *vm, void *blk);
enum exit_action shm_hc_attach(struct vm *vm, void *blk);
enum exit_action shm_hc_detach(struct vm *vm, void *blk);
enum exit_action shm_hc_info(struct vm *vm, void *blk);
enum exit_action shm_hc_notify(struct vm *vm, void *blk);
enum exit_action shm_hc_wait(struct vm *vm, void *blk);

#endif
