/* dedup.c: the deduplication pass: hash private pages, confirm, remap them onto a store memfd. */
#define _GNU_SOURCE
#include "dedup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "load/image.h"
#include "memstat.h"

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

static const uint8_t zero_page[PG];

static int store_grow(struct dedup *d);

static uint64_t dedup_key(uint64_t h, unsigned domain)
{
	uint64_t k = h ^ ((uint64_t)domain * 0x9e3779b97f4a7c15ull);

	return k ? k : 1;
}

static int table_grow(struct dedup_table *t)
{
	uint64_t ncap = t->cap ? t->cap * 2 : 4096, i;
	struct dedup_entry *ne = calloc(ncap, sizeof(*ne));

	if (!ne)
		return err_set("out of memory");
	for (i = 0; i < t->cap; i++) {
		uint64_t j;

		if (!t->e[i].key)
			continue;
		for (j = t->e[i].key & (ncap - 1); ne[j].key; j = (j + 1) & (ncap - 1))
			;
		ne[j] = t->e[i];
	}
	free(t->e);
	t->e = ne;
	t->cap = ncap;
	return 0;
}

static struct dedup_entry *table_find(struct dedup_table *t, uint64_t key)
{
	uint64_t j;

	if (!t->cap)
		return NULL;
	for (j = key & (t->cap - 1); t->e[j].key; j = (j + 1) & (t->cap - 1))
		if (t->e[j].key == key)
			return &t->e[j];
	return NULL;
}

/* Sets key's entry (replacing a stale one). */
static int table_put(struct dedup_table *t, uint64_t key, uint32_t a, uint32_t b)
{
	struct dedup_entry *e = table_find(t, key);
	uint64_t j;

	if (!e) {
		if ((t->used + 1) * 2 > t->cap && table_grow(t) < 0)
			return -1;
		for (j = key & (t->cap - 1); t->e[j].key; j = (j + 1) & (t->cap - 1))
			;
		e = &t->e[j];
		e->key = key;
		t->used++;
	}
	e->a = a;
	e->b = b;
	return 0;
}

static void table_clear(struct dedup_table *t)
{
	if (t->e)
		memset(t->e, 0, t->cap * sizeof(*t->e));
	t->used = 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t count_vmas(void)
{
	char buf[65536];
	uint64_t n = 0;
	ssize_t got;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

static uint64_t read_max_map_count(void)
{
	unsigned long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

struct dedup *dedup_new(const struct dedup_config *cfg)
{
	struct dedup *d = calloc(1, sizeof(*d));

	if (!d) {
		err_set("out of memory");
		return NULL;
	}
	d->store_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->done, NULL);
	d->st.max_vmas = cfg && cfg->max_vmas ? cfg->max_vmas : read_max_map_count() / 8 * 7;
	d->zero_hash = XXH3_64bits(zero_page, PG);
	d->ops = malloc(BATCH * sizeof(*d->ops));
	d->store_fd = memfd_create("mvmm-dedup-store", MFD_CLOEXEC);
	if (d->store_fd < 0) {
		err_sys("memfd_create (dedup store)");
		goto fail;
	}
	d->store_map = mmap(NULL, STORE_MAX * PG, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->store_map == MAP_FAILED) {
		d->store_map = NULL;
		err_sys("reserving the dedup store");
		goto fail;
	}
	if (!d->ops) {
		err_set("out of memory");
		goto fail;
	}
	d->store_next = ZERO_FIRST + ZERO_RUN;
	if (store_grow(d) < 0) /* the zero region must lie inside the file */
		goto fail;
	return d;
fail:
	dedup_free(d);
	return NULL;
}

static void dvm_free(struct dedup_vm *v)
{
	if (!v)
		return;
	free(v->hash);
	free(v->store);
	free(v->flags);
	free(v);
}

void dedup_free(struct dedup *d)
{
	unsigned i;

	if (!d)
		return;
	dedup_stop(d);
	for (i = 0; i < d->nvms; i++)
		dvm_free(d->vms[i]);
	free(d->vms);
	if (d->store_map)
		munmap(d->store_map, STORE_MAX * PG);
	if (d->store_fd >= 0)
		close(d->store_fd);
	free(d->store_refs);
	free(d->stable.e);
	free(d->unstable.e);
	free(d->ops);
	free(d->remaps);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->done);
	free(d);
}

int dedup_attach(struct dedup *d, struct vm *vm, unsigned domain)
{
	struct dedup_vm *v = calloc(1, sizeof(*v));
	int ret = 0;

	if (!v)
		return err_set("out of memory");
	v->vm = vm;
	v->domain = domain;
	v->npages = vm->mem.size / PG;
	/* Large callocs are fresh mappings: entries of pages never private cost nothing. */
	v->hash = calloc(v->npages, sizeof(*v->hash));
	v->store = calloc(v->npages, sizeof(*v->store));
	v->flags = calloc(v->npages, 1);
	v->dontneed_base = vm->no_share || (vm->img && vm->mapped_memfd == vm->img->memfd);
	if (!v->hash || !v->store || !v->flags) {
		dvm_free(v);
		return err_set("out of memory");
	}
	pthread_mutex_lock(&d->lock);
	if (d->nvms == d->cap_vms) {
		unsigned ncap = d->cap_vms ? d->cap_vms * 2 : 64;
		struct dedup_vm **nv = realloc(d->vms, ncap * sizeof(*nv));

		if (!nv) {
			ret = err_set("out of memory");
			goto out;
		}
		d->vms = nv;
		d->cap_vms = ncap;
	}
	d->vms[d->nvms++] = v;
	v = NULL;
out:
	pthread_mutex_unlock(&d->lock);
	dvm_free(v);
	return ret;
}

static void store_unref(struct dedup *d, uint32_t idx)
{
	if (idx < ZERO_FIRST + ZERO_RUN)
		return;
	if (--d->store_refs[idx])
		return;
	/* Nobody maps it: give the memory back (the offset is not reused). */
	fallocate(d->store_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)idx * PG, PG);
	d->st.store_pages--;
	d->st.store_freed++;
	d->st.saved_pages++; /* the last mapper's unmerge did not free a page: this does */
}

/* Page p of v no longer maps its merged page (written, or the VM is going). */
static void page_unmerge(struct dedup *d, struct dedup_vm *v, uint64_t p)
{
	if (v->flags[p] & F_MERGED) {
		store_unref(d, v->store[p]);
		v->flags[p] &= (uint8_t)~F_MERGED;
		v->store[p] = 0;
		d->st.saved_pages--;
		d->st.unmerged++;
	} else if (v->flags[p] & F_ZERO) {
		v->flags[p] &= (uint8_t)~F_ZERO;
		d->st.saved_pages--;
		d->st.unmerged++;
	}
}

void dedup_detach(struct dedup *d, struct vm *vm)
{
	unsigned i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nvms; i++) {
		struct dedup_vm *v = d->vms[i];
		uint64_t p;

		if (v->vm != vm || v->gone)
			continue;
		for (p = 0; p < v->npages; p++)
			if (v->flags[p] & (F_MERGED | F_ZERO)) {
				page_unmerge(d, v, p);
				d->st.unmerged--; /* not a guest write */
			}
		v->gone = 1;
		v->vm = NULL;
		/* Free the page tables now; the slot stays until the round ends (the unstable table). */
		free(v->hash);
		free(v->store);
		free(v->flags);
		v->hash = NULL;
		v->store = NULL;
		v->flags = NULL;
	}
	pthread_mutex_unlock(&d->lock);
}

/* Drops the slots of detached instances; only between rounds (unstable entries name slots). */
static void compact_vms(struct dedup *d)
{
	unsigned i, j = 0;

	for (i = 0; i < d->nvms; i++) {
		if (d->vms[i]->gone)
			dvm_free(d->vms[i]);
		else
			d->vms[j++] = d->vms[i];
	}
	d->nvms = j;
}

/* The memfd grows by chunks, each mapped MAP_SHARED after the last (one VMA in all). */
static int store_grow(struct dedup *d)
{
	uint64_t nsize = d->store_size + STORE_CHUNK;

	if (nsize > STORE_MAX || nsize > UINT32_MAX)
		return err_set("dedup store full");
	if (ftruncate(d->store_fd, (off_t)(nsize * PG)) < 0)
		return err_sys("growing the dedup store");
	if (mmap(d->store_map + d->store_size * PG, STORE_CHUNK * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, d->store_fd, (off_t)(d->store_size * PG)) == MAP_FAILED)
		return err_sys("mapping the dedup store");
	d->store_size = nsize;
	return 0;
}

/* A fresh store page. */
static int store_alloc(struct dedup *d, uint32_t *idx)
{
	if (d->store_next >= d->store_size && store_grow(d) < 0)
		return -1;
	if (d->store_next >= d->store_refs_cap) {
		uint64_t ncap = d->store_size;
		uint32_t *nr = realloc(d->store_refs, ncap * sizeof(*nr));

		if (!nr)
			return err_set("out of memory");
		memset(nr + d->store_refs_cap, 0, (ncap - d->store_refs_cap) * sizeof(*nr));
		d->store_refs = nr;
		d->store_refs_cap = ncap;
	}
	*idx = (uint32_t)d->store_next++;
	return 0;
}

static uint8_t *page_ptr(struct dedup_vm *v, uint64_t p)
{
	return (uint8_t *)v->vm->mem.host + p * PG;
}

static int dontneed_ok(const struct dedup_vm *v, uint64_t p)
{
	if (v->flags[p] & F_STOREVMA)
		return 0;
	return v->vm->no_share || (v->dontneed_base && !image_page_has_data(v->vm->img, p));
}

static int remap_add(struct dedup *d, uint32_t slot, uint32_t page, uint32_t idx)
{
	if (d->nremaps == d->cap_remaps) {
		size_t ncap = d->cap_remaps ? d->cap_remaps * 2 : 2 * BATCH;
		struct dedup_remap *nr = realloc(d->remaps, ncap * sizeof(*nr));

		if (!nr)
			return err_set("out of memory");
		d->remaps = nr;
		d->cap_remaps = ncap;
	}
	d->remaps[d->nremaps++] = (struct dedup_remap){slot, page, idx};
	return 0;
}

static int remap_cmp(const void *a, const void *b)
{
	const struct dedup_remap *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

/*
 * Carries out the remaps (owners paused): runs of pages over contiguous
 * store pages, or contiguous DONTNEED pages, take one system call each.
 */
static int remap_flush(struct dedup *d)
{
	size_t i = 0, n;

	qsort(d->remaps, d->nremaps, sizeof(*d->remaps), remap_cmp);
	for (i = 0; i < d->nremaps; i += n) {
		struct dedup_remap *r = &d->remaps[i];
		struct dedup_vm *v = d->vms[r->slot];
		uint8_t *at = page_ptr(v, r->page);

		for (n = 1; i + n < d->nremaps; n++) {
			struct dedup_remap *q = &d->remaps[i + n];

			if (q->slot != r->slot || q->page != r->page + n ||
			    (r->idx ? q->idx != r->idx + n : q->idx != 0))
				break;
		}
		if (!r->idx) {
			if (madvise(at, n * PG, MADV_DONTNEED) < 0)
				return err_sys("madvise(MADV_DONTNEED) on guest memory");
			d->st.madvises++;
			continue;
		}
		if (mmap(at, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
			 d->store_fd, (off_t)r->idx * PG) == MAP_FAILED)
			return err_sys("remapping guest memory onto the dedup store");
		d->st.mmaps++;
		d->vma_est += 2;
	}
	d->nremaps = 0;
	return 0;
}

/* Records page p of slot as mapping store page idx (the reference is taken here). */
static int merge_page(struct dedup *d, uint32_t slot, uint32_t p, uint32_t idx)
{
	struct dedup_vm *v = d->vms[slot];

	if (remap_add(d, slot, p, idx) < 0)
		return -1;
	v->flags[p] |= F_MERGED | F_STOREVMA;
	v->store[p] = idx;
	if (idx >= ZERO_FIRST + ZERO_RUN)
		d->store_refs[idx]++;
	d->st.saved_pages++;
	return 0;
}

static int vma_room(struct dedup *d)
{
	if (d->vma_est + 2 * BATCH <= d->st.max_vmas)
		return 1;
	d->st.vma_limited++;
	return 0;
}

/* Zero pages of one run: DONTNEED where that gives zero, else the store's zero region. */
static int do_zero(struct dedup *d, uint32_t slot, uint32_t p)
{
	struct dedup_vm *v = d->vms[slot];

	if (memcmp(page_ptr(v, p), zero_page, PG)) {
		d->st.mismatches++;
		return 0;
	}
	if (dontneed_ok(v, p)) {
		if (remap_add(d, slot, p, 0) < 0)
			return -1;
		v->flags[p] |= F_ZERO;
		d->st.saved_pages++;
	} else {
		if (!vma_room(d))
			return 0;
		if (merge_page(d, slot, p, ZERO_FIRST + p % ZERO_RUN) < 0)
			return -1;
	}
	d->st.zero_reclaimed++;
	return 0;
}

static struct dedup_entry *stable_find(struct dedup *d, uint64_t h, unsigned domain)
{
	struct dedup_entry *e = table_find(&d->stable, dedup_key(h, domain));

	return e && d->store_refs[e->a] ? e : NULL;
}

/* Owners paused: confirms and merges. */
static int do_op(struct dedup *d, uint32_t slot, struct dedup_op *op)
{
	struct dedup_vm *v = d->vms[slot], *w;
	struct dedup_entry *e;
	uint32_t idx = 0;

	if (op->kind == OP_ZERO)
		return do_zero(d, slot, op->page);
	if (!vma_room(d))
		return 0;
	if (op->kind == OP_PAIR && (e = stable_find(d, op->hash, v->domain))) {
		/* An earlier op of this batch published the content. */
		op->kind = OP_STORE;
		op->idx = e->a;
	}
	if (op->kind == OP_STORE) {
		if (memcmp(page_ptr(v, op->page), d->store_map + (uint64_t)op->idx * PG, PG)) {
			d->st.mismatches++;
			return 0;
		}
		d->st.merged++;
		return merge_page(d, slot, op->page, op->idx);
	}
	w = d->vms[op->slot2];
	if (w->gone || (w->flags[op->page2] & (F_MERGED | F_ZERO)) ||
	    memcmp(page_ptr(v, op->page), page_ptr(w, op->page2), PG)) {
		d->st.mismatches++;
		return 0;
	}
	if (store_alloc(d, &idx) < 0)
		return -1;
	/* Written once, before anyone maps it; never again. */
	memcpy(d->store_map + (uint64_t)idx * PG, page_ptr(v, op->page), PG);
	if (table_put(&d->stable, dedup_key(op->hash, v->domain), idx, 0) < 0)
		return -1;
	d->st.store_pages++;
	d->st.merged += 2;
	if (merge_page(d, slot, op->page, idx) < 0 || merge_page(d, op->slot2, op->page2, idx) < 0)
		return -1;
	d->st.saved_pages--; /* two pages became one store page */
	return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* Pauses slot and the partners of its ops, carries the ops out, resumes. */
static int run_ops(struct dedup *d, uint32_t slot, struct dedup_op *ops, unsigned nops)
{
	unsigned owners[BATCH + 1], nown = 0, i, k;
	int ret = 0;

	owners[nown++] = slot;
	for (i = 0; i < nops; i++)
		if (ops[i].kind == OP_PAIR)
			owners[nown++] = ops[i].slot2;
	qsort(owners, nown, sizeof(*owners), cmp_unsigned);
	for (i = 0, k = 0; i < nown; i++)
		if (!k || owners[k - 1] != owners[i])
			owners[k++] = owners[i];
	nown = k;
	for (i = 0; i < nown; i++)
		if (!d->vms[owners[i]]->gone) {
			vm_pause(d->vms[owners[i]]->vm);
			d->st.pauses++;
		}
	for (i = 0; i < nops && ret == 0; i++)
		ret = do_op(d, slot, &ops[i]);
	if (ret == 0)
		ret = remap_flush(d);
	d->nremaps = 0;
	for (i = 0; i < nown; i++)
		if (!d->vms[owners[i]]->gone)
			vm_resume(d->vms[owners[i]]->vm);
	return ret;
}

/* Decides what to do with private page p (owner running); returns 1 if an op was added. */
static int scan_page(struct dedup *d, uint32_t slot, uint64_t p, unsigned flags,
		     struct dedup_op *op)
{
	struct dedup_vm *v = d->vms[slot];
	struct dedup_entry *e;
	uint64_t h = XXH3_64bits(page_ptr(v, p), PG);
	int changed = !(v->flags[p] & F_HASHED) || v->hash[p] != h;

	d->st.pages_scanned++;
	v->hash[p] = h;
	v->flags[p] |= F_HASHED;
	if (changed) {
		d->st.pages_volatile++;
		if (!(flags & DEDUP_EAGER))
			return 0;
	} else {
		d->st.pages_unchanged++;
	}
	memset(op, 0, sizeof(*op));
	op->page = (uint32_t)p;
	op->hash = h;
	if (h == d->zero_hash) {
		op->kind = OP_ZERO;
		return 1;
	}
	if ((e = stable_find(d, h, v->domain))) {
		op->kind = OP_STORE;
		op->idx = e->a;
		return 1;
	}
	e = table_find(&d->unstable, dedup_key(h, v->domain));
	if (e && !(e->a == slot && e->b == p)) {
		struct dedup_vm *w = d->vms[e->a];

		if (!w->gone && w->domain == v->domain && (w->flags[e->b] & F_HASHED) &&
		    !(w->flags[e->b] & (F_MERGED | F_ZERO)) && w->hash[e->b] == h) {
			op->kind = OP_PAIR;
			op->slot2 = e->a;
			op->page2 = e->b;
			return 1;
		}
	}
	table_put(&d->unstable, dedup_key(h, v->domain), slot, (uint32_t)p);
	return 0;
}

/* One batch of pages of one instance: pagemap, hash, then merge under pause. */
static int scan_batch(struct dedup *d, uint32_t slot, uint64_t first, uint64_t n, unsigned flags)
{
	struct dedup_vm *v = d->vms[slot];
	uint64_t ent[BATCH], i;
	unsigned nops = 0;

	if (memstat_pagemap_read(v->vm, first, n, ent) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t p = first + i;
		int priv = memstat_entry_private(ent[i]);

		if (v->flags[p] & (F_MERGED | F_ZERO)) {
			if (!priv) {
				d->st.pages_skipped++;
				continue;
			}
			page_unmerge(d, v, p); /* the guest wrote it: a private copy again */
			v->flags[p] &= (uint8_t)~F_HASHED;
		}
		if (!priv)
			continue;
		nops += (unsigned)scan_page(d, slot, p, flags, &d->ops[nops]);
	}
	return nops ? run_ops(d, slot, d->ops, nops) : 0;
}

static void round_end(struct dedup *d)
{
	d->cursor_vm = 0;
	d->cursor_page = 0;
	d->st.rounds++;
	table_clear(&d->unstable);
	compact_vms(d);
}

int dedup_pass(struct dedup *d, uint64_t budget_ns, unsigned flags)
{
	uint64_t t0 = vm_now_ns(), c0 = thread_cpu_ns(), dt;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (flags & DEDUP_FULL) {
		d->cursor_vm = 0;
		d->cursor_page = 0;
		table_clear(&d->unstable);
		compact_vms(d);
		budget_ns = 0;
	}
	d->vma_est = count_vmas();
	for (;;) {
		struct dedup_vm *v;
		uint64_t n;

		if (d->cursor_vm >= d->nvms) {
			round_end(d);
			ret = 1;
			break;
		}
		if (budget_ns && vm_now_ns() - t0 >= budget_ns)
			break;
		v = d->vms[d->cursor_vm];
		if (v->gone || d->cursor_page >= v->npages) {
			d->cursor_vm++;
			d->cursor_page = 0;
			continue;
		}
		n = v->npages - d->cursor_page < BATCH ? v->npages - d->cursor_page : BATCH;
		if (scan_batch(d, d->cursor_vm, d->cursor_page, n, flags) < 0) {
			ret = -1;
			break;
		}
		d->cursor_page += n;
	}
	d->st.vmas = count_vmas();
	d->st.passes++;
	dt = vm_now_ns() - t0;
	d->st.last_pass_ms = (double)dt / 1e6;
	if (d->st.last_pass_ms > d->st.max_pass_ms)
		d->st.max_pass_ms = d->st.last_pass_ms;
	d->st.total_pass_ms += d->st.last_pass_ms;
	d->st.cpu_ms += (double)(thread_cpu_ns() - c0) / 1e6;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void dedup_get_stats(struct dedup *d, struct dedup_stats *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	pthread_mutex_unlock(&d->lock);
}

/* The thread's state (thread_on, full_*, stopping) is under d->lock too, but passes take it
 * themselves, so the thread drops it around each pass. */
static void *dedup_thread(void *arg)
{
	struct dedup *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		uint64_t wake = vm_now_ns() + d->period_ns;
		struct timespec ts = {(time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull)};

		while (!d->stopping && !d->full_req && vm_now_ns() < wake)
			pthread_cond_clockwait(&d->wake, &d->lock, CLOCK_MONOTONIC, &ts);
		if (d->stopping)
			break;
		if (d->full_req) {
			unsigned fl = (unsigned)d->full_flags | DEDUP_FULL;

			d->full_req = 0;
			pthread_mutex_unlock(&d->lock);
			int r = dedup_pass(d, 0, fl);
			pthread_mutex_lock(&d->lock);
			d->full_ret = r < 0 ? -1 : 0;
			d->full_done = 1;
			pthread_cond_broadcast(&d->done);
			continue;
		}
		pthread_mutex_unlock(&d->lock);
		dedup_pass(d, d->budget_ns, 0);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int dedup_start(struct dedup *d, uint64_t period_ms, uint64_t budget_ms)
{
	int err;

	d->period_ns = (period_ms ? period_ms : 1000) * 1000000ull;
	d->budget_ns = budget_ms * 1000000ull;
	err = pthread_create(&d->thread, NULL, dedup_thread, d);
	if (err) {
		errno = err;
		return err_sys("starting the dedup thread");
	}
	d->thread_on = 1;
	return 0;
}

int dedup_run_full(struct dedup *d, unsigned flags)
{
	int ret;

	if (!d->thread_on)
		return dedup_pass(d, 0, flags | DEDUP_FULL) < 0 ? -1 : 0;
	pthread_mutex_lock(&d->lock);
	d->full_req = 1;
	d->full_flags = (int)flags;
	d->full_done = 0;
	pthread_cond_signal(&d->wake);
	while (!d->full_done)
		pthread_cond_wait(&d->done, &d->lock);
	ret = d->full_ret;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void dedup_stop(struct dedup *d)
{
	if (!d->thread_on)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	d->thread_on = 0;
}

int dedup_ksm_mark(struct vm *vm)
{
	if (madvise(vm->mem.host, vm->mem.size, MADV_MERGEABLE) < 0)
		return err_sys("madvise(MADV_MERGEABLE) on guest memory");
	return 0;
}
