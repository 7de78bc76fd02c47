/* gwalk.c: CPL3's view of a guest address, from the guest's page tables (see gwalk.h). */
#include "gwalk.h"

#include <stddef.h>

#include "layout.h"
#include "x86.h"

#define GWALK_ADDR_MASK 0x000ffffffffff000ull
#define GWALK_LEN_MAX	(1ull << 20)

/* Entry idx of the table at gpa, or 0 (not present) when the table lies outside guest memory. */
static uint64_t gwalk_entry(const struct gmem *m, uint64_t gpa, unsigned idx)
{
	const uint64_t *e = gmem_ptr(m, (gpa & GWALK_ADDR_MASK) + idx * 8ull, 8);

	return e ? *e : 0;
}

unsigned gwalk_user(const struct gmem *m, uint64_t va)
{
	static const unsigned shift[] = {39, 30, 21, 12};
	uint64_t table = LAYOUT_PML4_GPA, e = 0;
	int writable = 1, nx = 0;

	if (va >> 47)
		return 0; /* non-canonical or the upper half: never a user page here */
	for (unsigned lvl = 0; lvl < 4; lvl++) {
		e = gwalk_entry(m, table, (unsigned)(va >> shift[lvl]) & 511);
		if (!(e & PTE_P) || !(e & PTE_US))
			return 0;
		writable &= !!(e & PTE_RW);
		nx |= !!(e & PTE_NX);
		if (lvl == 2 && (e & PTE_PS))
			break; /* a 2 MiB page */
		if (lvl == 1 && (e & PTE_PS))
			return 0; /* 1 GiB pages are never built; refuse rather than guess */
		table = e;
	}
	return GWALK_R | (writable ? GWALK_W : 0) | (nx ? 0 : GWALK_X);
}

const void *gwalk_user_ptr(const struct gmem *m, uint64_t va, uint64_t len)
{
	uint64_t pg, last;

	if (len == 0 || len > GWALK_LEN_MAX || va + len < va)
		return NULL;
	last = (va + len - 1) & ~(uint64_t)(MVMM_PAGE_SIZE - 1);
	for (pg = va & ~(uint64_t)(MVMM_PAGE_SIZE - 1); pg <= last; pg += MVMM_PAGE_SIZE)
		if (!gwalk_user(m, pg))
			return NULL;
	return gmem_ptr(m, va, len);
}
