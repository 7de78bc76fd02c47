/* layout.h: where things go in a guest of a given memory size. */
#ifndef MVMM_LAYOUT_H
#define MVMM_LAYOUT_H

#include <stdint.h>

#include "mvmm_abi.h"

/* The user stack occupies the top MVMM_STACK_SIZE bytes; a guard page sits below it. */
static inline uint64_t layout_stack_top(uint64_t mem_size)
{
	return mem_size;
}

static inline uint64_t layout_guard_page(uint64_t mem_size)
{
	return mem_size - MVMM_STACK_SIZE - MVMM_PAGE_SIZE;
}

/* Program segments and the heap must end at or below this address. */
static inline uint64_t layout_program_limit(uint64_t mem_size)
{
	return layout_guard_page(mem_size);
}

/* One page-table page maps 2 MiB; PML4, PDPT and one PD precede them. */
static inline uint64_t layout_pt_gpa(uint64_t index)
{
	return MVMM_PGTABLE_GPA + (3 + index) * MVMM_PAGE_SIZE;
}

#define LAYOUT_PML4_GPA MVMM_PGTABLE_GPA
#define LAYOUT_PDPT_GPA (MVMM_PGTABLE_GPA + MVMM_PAGE_SIZE)
#define LAYOUT_PD_GPA	(MVMM_PGTABLE_GPA + 2 * MVMM_PAGE_SIZE)

_Static_assert(MVMM_PGTABLE_GPA + (3 + (MVMM_MEM_MAX >> 21)) * MVMM_PAGE_SIZE <= MVMM_IMAGE_BASE,
	       "page tables for the largest guest must fit below the image");

/*
 * The shared-memory window (MVMM_SHM_BASE..) has its own page directory
 * (PDPT entry 1) and one page-table page per 2 MiB of it, in the reserved
 * area after the tables of the largest guest. They are zero (not present)
 * in every image; the VMM fills an instance's copy at attach (shm.c).
 */
#define LAYOUT_SHM_PD_GPA layout_pt_gpa(MVMM_MEM_MAX >> 21)
static inline uint64_t layout_shm_pt_gpa(uint64_t index)
{
	return LAYOUT_SHM_PD_GPA + (1 + index) * MVMM_PAGE_SIZE;
}

_Static_assert(MVMM_PGTABLE_GPA + (3 + (MVMM_MEM_MAX >> 21) + 1 + (MVMM_SHM_WINDOW >> 21)) *
			       MVMM_PAGE_SIZE <=
		       MVMM_IMAGE_BASE,
	       "the shared-memory window's page tables must fit below the image");

#endif
