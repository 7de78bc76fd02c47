/* gmem.c: bounds-checked guest address translation. */
#include "gmem.h"

#include <stddef.h>

/* [gpa, gpa + len) within [lo, hi), without wrapping. */
static int range_within(uint64_t gpa, uint64_t len, uint64_t lo, uint64_t hi)
{
	return gpa >= lo && gpa <= hi && len <= hi - gpa;
}

void *gmem_ptr(const struct gmem *m, mvmm_gpa_t gpa, uint64_t len)
{
	if (!range_within(gpa, len, 0, m->size))
		return NULL;
	return m->host + gpa;
}

void *gmem_user_ptr(const struct gmem *m, mvmm_gpa_t gpa, uint64_t len)
{
	if (range_within(gpa, len, MVMM_IMAGE_BASE, m->size))
		return gmem_ptr(m, gpa, len);
	return NULL;
}

void *gmem_user_ptr_rw(const struct gmem *m, mvmm_gpa_t gpa, uint64_t len)
{
	void *p = gmem_user_ptr(m, gpa, len);

	if (p && huge_map_overlaps(m->huge, gpa, len))
		return NULL;
	return p;
}
