/* dedup.h: merge identical private guest pages of live instances back into shared pages. */
#ifndef MVMM_DEDUP_H
#define MVMM_DEDUP_H

#include <stdint.h>

#include "core/vm.h"

/*
 * How it works. Each instance's guest memory is a MAP_PRIVATE mapping; a
 * page the guest wrote is a private anonymous copy (pagemap: present, not
 * file-backed). A pass reads pagemap, hashes each private page (XXH3) and
 * keeps per page its hash and whether it was merged. A page whose hash is
 * unchanged since the previous pass is stable and a merge candidate (an
 * "eager" pass, run while every guest is held, takes changed pages too).
 * Candidates are looked up by (hash, domain) among published store pages,
 * then among the stable pages seen earlier in this round. A merge pauses
 * exactly the owners of the pages involved (vm_pause), compares the bytes,
 * copies one page into the store memfd (only for a new store page; a store
 * page is never written after it is published), and replaces each copy by
 * mmap(MAP_PRIVATE | MAP_FIXED, store, off): the guest's next write copies it
 * again. Runs of pages that map contiguous store pages are remapped with one
 * mmap. All-zero pages are dropped with MADV_DONTNEED where the page under
 * them is a hole of the image (or the memory is anonymous), and otherwise
 * mapped from a zero region of the store (never written, so it reads zero).
 * Store pages nobody maps any more are punched out of the memfd; their
 * offsets are not reused.
 *
 * Every remapped page splits a VMA: the pass counts the process's VMAs and
 * stops merging (dedup_stats.vma_limited) before vm.max_map_count.
 *
 * Domains: instances merge only with instances of their own domain
 * (dedup_attach's domain; `mvmm run --dedup-domain=N` puts instance i in
 * domain i % N).
 *
 * SECURITY: page sharing is a timing side channel between the guests that
 * share, as with KSM. A write to a merged page costs a copy-on-write fault
 * (~6 us here against ~0.1 us for a private page), so a guest can learn
 * whether another guest of its domain held a page with exactly the content
 * it guesses: write a candidate page, wait for a pass, time a write to it.
 * That reveals, e.g., which version of a library or data another guest
 * has, or guesses of a secret a page holds. Put guests that do not trust
 * each other in different domains (or do not use --dedup).
 */

struct dedup;

struct dedup_stats {
	uint64_t passes, rounds;  /* passes run; full rounds over every instance completed */
	uint64_t pages_scanned;	  /* private pages read and hashed */
	uint64_t pages_unchanged; /* of those, hash unchanged since the previous pass */
	uint64_t pages_volatile;  /* of those, changed since the previous pass: not merged yet */
	uint64_t pages_skipped;	  /* merged or zeroed pages still shared: skipped, not read */
	uint64_t merged;	  /* pages remapped to a store page, in all */
	uint64_t zero_reclaimed;  /* all-zero pages returned to the zero state, in all */
	uint64_t unmerged;	  /* merged or zeroed pages the guest wrote again since */
	uint64_t mismatches;	  /* candidates whose bytes differed (hash collision or new write) */
	uint64_t store_pages;	  /* store pages alive now */
	uint64_t store_freed;	  /* store pages punched out, nobody mapped them */
	uint64_t saved_pages;	  /* private pages saved now: merged + zeroed - store pages */
	uint64_t mmaps, madvises; /* system calls that remapped */
	uint64_t pauses;	  /* vm_pause calls */
	uint64_t vmas, max_vmas;  /* the process's VMAs after the last pass; the limit kept */
	uint64_t vma_limited;	  /* merges skipped to stay under the limit */
	double last_pass_ms, max_pass_ms, total_pass_ms;
	double cpu_ms; /* the passes' thread CPU time */
};

struct dedup_config {
	uint64_t max_vmas; /* 0: 7/8 of /proc/sys/vm/max_map_count */
};

struct dedup *dedup_new(const struct dedup_config *cfg);
/* Stops the thread if started. The store's pages live on in any mapping that still uses them. */
void dedup_free(struct dedup *d);

/* Adds a live instance (any thread; it may be running). Returns 0 or -1 (message set). */
int dedup_attach(struct dedup *d, struct vm *vm, unsigned domain);
/* Removes vm before it is destroyed or remapped; waits for a pass in progress to end. */
void dedup_detach(struct dedup *d, struct vm *vm);

#define DEDUP_EAGER 1 /* merge pages seen for the first time or changed (guests are held) */
#define DEDUP_FULL  2 /* start a fresh round and run it to its end, whatever the budget */

/*
 * One pass: continues the current round (over every attached instance) for
 * about budget_ns (0: to the round's end). Returns 1 if a round ended in
 * this pass, 0 if the budget ran out first, -1 on a host failure.
 */
int dedup_pass(struct dedup *d, uint64_t budget_ns, unsigned flags);

void dedup_get_stats(struct dedup *d, struct dedup_stats *st);

/* A thread that runs a pass of budget_ms every period_ms. */
int dedup_start(struct dedup *d, uint64_t period_ms, uint64_t budget_ms);
/* Runs a DEDUP_FULL pass (with flags) on the thread, or here if none; returns when done. */
int dedup_run_full(struct dedup *d, unsigned flags);
void dedup_stop(struct dedup *d);

/* --ksm: marks vm's guest memory MADV_MERGEABLE for the kernel's KSM. */
int dedup_ksm_mark(struct vm *vm);

#endif
