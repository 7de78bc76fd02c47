/* gmem.h: the one checked translator from guest addresses to host pointers. */
#ifndef MVMM_GMEM_H
#define MVMM_GMEM_H

#include <stdint.h>

#include "hugepage.h"
#include "mvmm_abi.h"

struct gmem {
	uint8_t *host; /* host mapping of guest-physical 0 (2 MiB-aligned) */
	uint64_t size; /* bytes */
	/* The guest's 2 MiB pages (read-only to it and to hypercalls), or NULL; not owned. */
	const struct huge_map *huge;
};

/*
 * Host pointer for guest range [gpa, gpa + len) if it lies wholly inside
 * guest memory, else NULL. Overflow-safe for any gpa and len. Nothing else
 * in the VMM turns a guest address into a pointer.
 */
void *gmem_ptr(const struct gmem *m, mvmm_gpa_t gpa, uint64_t len);

/*
 * As gmem_ptr, but only for ranges a guest program may hand to a
 * hypercall: its boot info area or its program/heap/stack area. The
 * system area (descriptor tables, stubs, page tables) is refused, so no
 * hypercall can be used to rewrite the guest's own page tables.
 */
void *gmem_user_ptr(const struct gmem *m, mvmm_gpa_t gpa, uint64_t len);

/*
 * As gmem_user_ptr, for a range the VMM will write (a hypercall's result
 * block or buffer): the guest's read-only 2 MiB pages are refused too, as
 * Linux's read() refuses a read-only buffer. Under hugetlbfs they are
 * mapped read-only on the host as well.
 */
void *gmem_user_ptr_rw(const struct gmem *m, mvmm_gpa_t gpa, uint64_t len);

#endif
