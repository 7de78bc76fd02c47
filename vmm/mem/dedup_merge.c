/* dedup_merge.c: the dedup pass's merger: pause the owners, confirm the bytes, remap the pages
 * onto the store memfd (or drop zero pages); the store's pages and their references. */
#define _GNU_SOURCE
#include "dedup.h"
#include "dedup_int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "core/vm.h"
#include "load/image.h"

/* Never written: what all-zero candidates are compared with (and hashed, dedup_new). */
const uint8_t dedup_zero_page[PG];

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
void dedup_page_unmerge(struct dedup *d, struct dedup_vm *v, uint64_t p)
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

/* The memfd grows by chunks, each mapped MAP_SHARED after the last (one VMA in all). */
int dedup_store_grow(struct dedup *d)
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
	if (d->store_next >= d->store_size && dedup_store_grow(d) < 0)
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

	if (!d->nremaps)
		return 0; /* nothing recorded: the array may not even exist (qsort wants a pointer) */
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

	if (memcmp(page_ptr(v, p), dedup_zero_page, PG)) {
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
	if (op->kind == OP_PAIR && (e = dedup_stable_find(d, op->hash, v->domain))) {
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
	if (dedup_table_put(&d->stable, dedup_key(op->hash, v->domain), idx, 0) < 0)
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
int dedup_run_ops(struct dedup *d, uint32_t slot, struct dedup_op *ops, unsigned nops)
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
