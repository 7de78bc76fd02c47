/*
 * gwalk.h: what the guest's own page tables say about a virtual address,
 * read through gmem: for crash reports, backtraces and core files, which
 * must not read (or present as the guest's) memory the guest cannot see.
 */
#ifndef MVMM_GWALK_H
#define MVMM_GWALK_H

#include <stdint.h>

#include "gmem.h"

/* Access bits of a user page, as gwalk_user returns them. */
#define GWALK_R 1u
#define GWALK_W 2u
#define GWALK_X 4u

/*
 * The access CPL3 has to the page holding va under the tables at
 * LAYOUT_PML4_GPA (every guest's): GWALK_* bits, 0 when not present or
 * supervisor only. Every table entry is read through gmem and checked, so
 * a guest that rewrote its tables cannot point the walk outside its memory.
 */
unsigned gwalk_user(const struct gmem *m, uint64_t va);

/*
 * Host pointer to [va, va + len) when every page of it is readable at
 * CPL3 (len at most 1 MiB), else NULL. Guest memory is identity mapped:
 * the address is also the guest-physical one.
 */
const void *gwalk_user_ptr(const struct gmem *m, uint64_t va, uint64_t len);

#endif
