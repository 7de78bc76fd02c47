/* dedup_int.h: the dedup pass's internals: page state, the store and the ops, shared by the pass
 * and its API (dedup.c), the scanner (dedup_scan.c) and the merger (dedup_merge.c). */
#ifndef MVMM_DEDUP_INT_H
#define MVMM_DEDUP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "dedup.h"
#include "memstat.h"
#include "mvmm_abi.h"

#define PG	     MVMM_PAGE_SIZE
#define BATCH	     MEMSTAT_BATCH /* pages per pagemap read and per pause */
#define ZERO_FIRST   1u	   /* store pages [1, 1 + ZERO_RUN) are the zero region */
#define ZERO_RUN     512u  /* never written: read as zero */
#define STORE_CHUNK  16384ull /* store growth, in pages (64 MiB) */
#define STORE_MAX    (1ull << 24) /* pages (64 GiB) of address space reserved for the store */

/* Per-page flags. */
#define F_HASHED   1 /* hash[] holds the hash of the page's private copy */
#define F_MERGED   2 /* maps store page store[] (holds a reference unless in the zero region) */
#define F_ZERO	   4 /* dropped with MADV_DONTNEED: reads zero until written */
#define F_STOREVMA 8 /* the VMA under the page is the store: DONTNEED would not give zero */

struct dedup_vm {
	struct vm *vm;
	unsigned domain;
	uint64_t npages;
	uint64_t *hash;
	uint32_t *store;
	uint8_t *flags;
	int dontneed_base; /* the mapping under untouched pages is the image (holes read zero) */
	int gone;
};

/* Open addressing on a 64-bit key; key 0 is empty. */
struct dedup_entry {
	uint64_t key;
	uint32_t a, b;
};

struct dedup_table {
	struct dedup_entry *e;
	uint64_t cap, used;
};

/* An action decided while the owners run, carried out while they are paused. */
enum op_kind { OP_ZERO, OP_STORE, OP_PAIR };

struct dedup_op {
	enum op_kind kind;
	uint32_t page;
	uint32_t idx;	       /* OP_STORE: the store page */
	uint32_t slot2, page2; /* OP_PAIR: the partner page */
	uint64_t hash;
};

/* A remap decided under pause: page of slot gets store page idx (0: DONTNEED). */
struct dedup_remap {
	uint32_t slot, page, idx;
};

struct dedup {
	pthread_mutex_t lock; /* the instance list and everything a pass touches */
	struct dedup_vm **vms;
	unsigned nvms, cap_vms;
	unsigned cursor_vm;
	uint64_t cursor_page;
	/* the store */
	int store_fd;
	uint8_t *store_map; /* MAP_SHARED, STORE_MAX pages reserved */
	uint64_t store_next, store_size; /* in pages */
	uint32_t *store_refs;
	uint64_t store_refs_cap;
	struct dedup_table stable;   /* (hash, domain) -> store page */
	struct dedup_table unstable; /* (hash, domain) -> (slot, page), this round */
	uint64_t zero_hash;
	struct dedup_stats st;
	uint64_t vma_est;
	/* scratch */
	struct dedup_op *ops;
	struct dedup_remap *remaps;
	size_t nremaps, cap_remaps;
	/* the thread */
	pthread_t thread;
	int thread_on, stopping, full_req, full_flags, full_done, full_ret;
	pthread_cond_t wake, done;
	uint64_t period_ns, budget_ns;
};

/* Page p of v's guest memory, in this process. */
static inline uint8_t *page_ptr(struct dedup_vm *v, uint64_t p)
{
	return (uint8_t *)v->vm->mem.host + p * PG;
}

/* ---- hashing pages and the tables (dedup_scan.c) ---- */

static inline uint64_t dedup_key(uint64_t h, unsigned domain)
{
	uint64_t k = h ^ ((uint64_t)domain * 0x9e3779b97f4a7c15ull);

	return k ? k : 1;
}

/* Sets key's entry (replacing a stale one). */
int dedup_table_put(struct dedup_table *t, uint64_t key, uint32_t a, uint32_t b);
void dedup_table_clear(struct dedup_table *t);
/* The published store page holding content h in domain (still referenced), or NULL. */
struct dedup_entry *dedup_stable_find(struct dedup *d, uint64_t h, unsigned domain);
/* One batch of pages of one instance: pagemap, hash, then merge under pause. */
int dedup_scan_batch(struct dedup *d, uint32_t slot, uint64_t first, uint64_t n, unsigned flags);

/* ---- the store and merging (dedup_merge.c) ---- */

/* A page of zeros (never written). */
extern const uint8_t dedup_zero_page[PG];

/* Grows the store memfd by a chunk (mapped after the last); 0 or -1 (message set). */
int dedup_store_grow(struct dedup *d);
/* Page p of v no longer maps its merged page (written, or the VM is going). */
void dedup_page_unmerge(struct dedup *d, struct dedup_vm *v, uint64_t p);
/* Pauses slot and the partners of its ops, carries the ops out, resumes. */
int dedup_run_ops(struct dedup *d, uint32_t slot, struct dedup_op *ops, unsigned nops);

#endif
