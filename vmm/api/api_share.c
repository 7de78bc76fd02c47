/* api_share.c: mvmm.h's sharing calls: shared-memory regions, and dedup over held runs. */
#define _GNU_SOURCE
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vm.h"
#include "mem/dedup.h"
#include "mem/shm.h"

#define API_SHM_PER_RUN 64u /* regions one run may be given */

/* ---- shared-memory regions ------------------------------------------- */

struct mvmm_shm {
	struct shm_region *r;
	char name[MVMM_SHM_NAME_MAX];
	int ro;
};

MVMM_API int mvmm_shm_new(const char *name, uint64_t size, unsigned flags, struct mvmm_shm **out)
{
	struct mvmm_shm *s;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_shm_new: out");
	*out = NULL;
	if (!name || !shm_name_ok(name, strlen(name))) {
		err_set("mvmm_shm_new: the name must be 1-63 letters, digits, _ - .");
		return MVMM_ERR_INVAL;
	}
	if (!size || size % 4096 || size > MVMM_SHM_WINDOW) {
		err_set("mvmm_shm_new: size %lu is not a multiple of 4 KiB from 4 KiB to 512 MiB",
			(unsigned long)size);
		return MVMM_ERR_INVAL;
	}
	if (flags & ~MVMM_SHM_GUEST_RO) {
		err_set("mvmm_shm_new: unknown flags 0x%x", flags & ~MVMM_SHM_GUEST_RO);
		return MVMM_ERR_INVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return api_fail(MVMM_ERR_NOMEM, "mvmm_shm_new");
	s->r = shm_region_create(size);
	if (!s->r) {
		free(s);
		return MVMM_ERR_HOST; /* the message says why */
	}
	strcpy(s->name, name);
	s->ro = !!(flags & MVMM_SHM_GUEST_RO);
	*out = s;
	return 0;
}

MVMM_API void *mvmm_shm_host(struct mvmm_shm *s, uint64_t *size)
{
	void *p;

	if (size)
		*size = s ? shm_region_size(s->r) : 0;
	if (!s) {
		api_fail(MVMM_ERR_INVAL, "mvmm_shm_host: region");
		return NULL;
	}
	p = shm_region_host(s->r);
	if (!p && size)
		*size = 0;
	return p;
}

MVMM_API uint64_t mvmm_shm_notify(struct mvmm_shm *s)
{
	return s ? shm_region_notify(s->r) : 0;
}

MVMM_API unsigned mvmm_shm_attached(const struct mvmm_shm *s)
{
	return s ? shm_region_attached(s->r) : 0;
}

MVMM_API void mvmm_shm_free(struct mvmm_shm *s)
{
	if (!s)
		return;
	shm_region_destroy(s->r);
	free(s);
}

struct shm_grant *api_shm_grants(struct mvmm_shm *const *shm, size_t n, int *code)
{
	struct shm_grant *g;
	size_t i, j;

	*code = 0;
	if (!n)
		return NULL;
	*code = MVMM_ERR_INVAL;
	if (!shm)
		return api_fail(MVMM_ERR_INVAL, "mvmm_run: shm"), NULL;
	if (n > API_SHM_PER_RUN) {
		err_set("mvmm_run: nshm %zu is more than %u regions", n, API_SHM_PER_RUN);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (!shm[i])
			return api_fail(MVMM_ERR_INVAL, "mvmm_run: shm[i]"), NULL;
		for (j = 0; j < i; j++)
			if (!strcmp(shm[i]->name, shm[j]->name)) {
				err_set("mvmm_run: two regions named %s", shm[i]->name);
				return NULL;
			}
	}
	g = calloc(n + 1, sizeof(*g));
	if (!g) {
		*code = api_fail(MVMM_ERR_NOMEM, "mvmm_run");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		g[i].name = shm[i]->name;
		shm_region_handle(shm[i]->r, shm[i]->ro, &g[i].handle);
	}
	*code = 0;
	return g;
}

/* ---- dedup over held runs ------------------------------------------- */

struct mvmm_dedup {
	struct dedup *d;
	pthread_mutex_t lock; /* guards the list */
	struct mvmm_held *held;
};

MVMM_API int mvmm_dedup_new(struct mvmm_dedup **out)
{
	struct mvmm_dedup *d;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_dedup_new: out");
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return api_fail(MVMM_ERR_NOMEM, "mvmm_dedup_new");
	d->d = dedup_new(NULL);
	if (!d->d) {
		free(d);
		return MVMM_ERR_HOST;
	}
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
}

MVMM_API int mvmm_dedup_add(struct mvmm_dedup *d, struct mvmm_held *h, unsigned domain)
{
	if (!d || !h)
		return api_fail(MVMM_ERR_INVAL, d ? "mvmm_dedup_add: held" : "mvmm_dedup_add: dedup");
	if (h->dedup) {
		err_set("mvmm_dedup_add: the run is in a dedup store already");
		return MVMM_ERR_INVAL;
	}
	if (dedup_attach(d->d, h->vm, domain) < 0)
		return MVMM_ERR_HOST;
	pthread_mutex_lock(&d->lock);
	h->dedup = d;
	h->next = d->held;
	if (h->next)
		h->next->pprev = &h->next;
	h->pprev = &d->held;
	d->held = h;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void api_held_detach(struct mvmm_held *h)
{
	struct mvmm_dedup *d = h->dedup;

	if (!d)
		return;
	dedup_detach(d->d, h->vm);
	pthread_mutex_lock(&d->lock);
	*h->pprev = h->next;
	if (h->next)
		h->next->pprev = h->pprev;
	pthread_mutex_unlock(&d->lock);
	h->dedup = NULL;
}

MVMM_API int mvmm_dedup_pass(struct mvmm_dedup *d)
{
	if (!d)
		return api_fail(MVMM_ERR_INVAL, "mvmm_dedup_pass: dedup");
	/* Held runs have ended: every page may be merged at once (DEDUP_EAGER). */
	if (dedup_pass(d->d, 0, DEDUP_EAGER | DEDUP_FULL) < 0)
		return MVMM_ERR_HOST;
	return 0;
}

MVMM_API int mvmm_dedup_stats(struct mvmm_dedup *d, struct mvmm_dedup_stats *out, size_t size)
{
	struct mvmm_dedup_stats st;
	struct dedup_stats s;

	if (!d || !out)
		return api_fail(MVMM_ERR_INVAL, d ? "mvmm_dedup_stats: out" : "mvmm_dedup_stats: dedup");
	dedup_get_stats(d->d, &s);
	memset(&st, 0, sizeof(st));
	st.passes = s.passes;
	st.pages_scanned = s.pages_scanned;
	st.merged = s.merged;
	st.zero_reclaimed = s.zero_reclaimed;
	st.unmerged = s.unmerged;
	st.store_pages = s.store_pages;
	st.saved_pages = s.saved_pages;
	st.last_pass_ns = (uint64_t)(s.last_pass_ms * 1e6);
	st.total_pass_ns = (uint64_t)(s.total_pass_ms * 1e6);
	/* A caller built against an older header passes a smaller size: it gets the fields it knows. */
	memcpy(out, &st, size < sizeof(st) ? size : sizeof(st));
	return 0;
}

MVMM_API void mvmm_dedup_free(struct mvmm_dedup *d)
{
	if (!d)
		return;
	while (d->held)
		api_held_detach(d->held);
	dedup_free(d->d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
