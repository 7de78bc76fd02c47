/* dedup_scan.c: the dedup pass's scanner: hash each private page, track changes, find merge
 * candidates in the stable (store) and unstable (this round) tables. */
#include "dedup.h"
#include "dedup_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/error.h"
#include "memstat.h"

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
int dedup_table_put(struct dedup_table *t, uint64_t key, uint32_t a, uint32_t b)
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

void dedup_table_clear(struct dedup_table *t)
{
	if (t->e)
		memset(t->e, 0, t->cap * sizeof(*t->e));
	t->used = 0;
}

struct dedup_entry *dedup_stable_find(struct dedup *d, uint64_t h, unsigned domain)
{
	struct dedup_entry *e = table_find(&d->stable, dedup_key(h, domain));

	return e && d->store_refs[e->a] ? e : NULL;
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
	if ((e = dedup_stable_find(d, h, v->domain))) {
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
	dedup_table_put(&d->unstable, dedup_key(h, v->domain), slot, (uint32_t)p);
	return 0;
}

/* One batch of pages of one instance: pagemap, hash, then merge under pause. */
int dedup_scan_batch(struct dedup *d, uint32_t slot, uint64_t first, uint64_t n, unsigned flags)
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
			dedup_page_unmerge(d, v, p); /* the guest wrote it: a private copy again */
			v->flags[p] &= (uint8_t)~F_HASHED;
		}
		if (!priv)
			continue;
		nops += (unsigned)scan_page(d, slot, p, flags, &d->ops[nops]);
	}
	return nops ? dedup_run_ops(d, slot, d->ops, nops) : 0;
}
