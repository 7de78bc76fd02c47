/*
 * pagetable.c: the guest's 4 KiB page tables, built into an image: the system
 * area for ring 0, program segments with their ELF permissions, heap and stack.
 */
#include "pagetable.h"

#include <string.h>

#include "core/layout.h"
#include "core/x86.h"
#include "mvmm_abi.h"

#define PTE_SYS	    (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_NX)
#define PTE_SYS_X   (PTE_P | PTE_A | PTE_D)
#define PTE_USER_RW (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_NX)
#define PTE_USER_RX (PTE_P | PTE_US | PTE_A | PTE_D)
#define PTE_USER_RWX (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)

static uint64_t *pte_at(uint8_t *mem, uint64_t gpa)
{
	return (uint64_t *)(mem + layout_pt_gpa(gpa >> 21)) + ((gpa >> 12) & 511);
}

static void map_range(uint8_t *mem, uint64_t start, uint64_t end, uint64_t flags)
{
	uint64_t a;

	for (a = start & ~4095ull; a < end; a += MVMM_PAGE_SIZE)
		*pte_at(mem, a) = a | flags;
}

/* A page shared by two segments gets the union of their permissions. */
static void map_segment(uint8_t *mem, const struct elfload_segment *seg)
{
	uint64_t flags = PTE_P | PTE_US | PTE_A | PTE_D;
	uint64_t a, *pte;

	if (seg->flags & 2 /* PF_W */)
		flags |= PTE_RW;
	for (a = seg->gpa & ~4095ull; a < seg->gpa + seg->memsz; a += MVMM_PAGE_SIZE) {
		pte = pte_at(mem, a);
		if (*pte & PTE_P) {
			*pte |= flags;
			if (seg->flags & 1 /* PF_X */)
				*pte &= ~PTE_NX;
		} else {
			*pte = a | flags | ((seg->flags & 1) ? 0 : PTE_NX);
		}
	}
}

/* Whether chunk [lo, lo + 2 MiB) qualifies; *exec: a segment in it is executable. */
static int chunk_is_read_only_program(uint64_t lo, const struct elfload_program *prog, int *exec)
{
	uint64_t hi = lo + HUGE_PAGE_SIZE;
	int any = 0;

	*exec = 0;
	for (size_t i = 0; i < prog->nsegs; i++) {
		const struct elfload_segment *seg = &prog->segs[i];

		if (seg->gpa >= hi || seg->gpa + seg->memsz <= lo)
			continue;
		if (seg->flags & 2 /* PF_W */)
			return 0;
		if (seg->flags & 1 /* PF_X */)
			*exec = 1;
		any = 1;
	}
	return any;
}

void pagetable_plan_huge(uint64_t mem_size, const struct elfload_program *prog,
			 uint64_t heap_start, struct huge_map *h)
{
	uint64_t heap_page = heap_start & ~4095ull, lo;
	int exec;

	memset(h->chunks, 0, sizeof(h->chunks));
	h->nchunks = 0;
	for (lo = MVMM_IMAGE_BASE; lo + HUGE_PAGE_SIZE <= heap_page && lo < mem_size;
	     lo += HUGE_PAGE_SIZE) {
		if (!chunk_is_read_only_program(lo, prog, &exec))
			continue;
		huge_map_set(h, lo / HUGE_PAGE_SIZE);
		h->nchunks++;
	}
}

static void map_huge_chunks(uint64_t *pd, const struct elfload_program *prog,
			    const struct huge_map *huge, uint64_t npt)
{
	uint64_t flags = PTE_P | PTE_US | PTE_A | PTE_D | PTE_PS;
	int exec;

	for (uint64_t c = 0; c < npt; c++) {
		if (!huge_map_test(huge, c))
			continue;
		chunk_is_read_only_program(c * HUGE_PAGE_SIZE, prog, &exec);
		pd[c] = c * HUGE_PAGE_SIZE | flags | (exec ? 0 : PTE_NX);
	}
}

void pagetable_build(uint8_t *mem, uint64_t mem_size, const struct elfload_program *prog,
		     const struct elfload_program *interp, uint64_t heap_start,
		     const struct huge_map *huge)
{
	uint64_t *pml4 = (uint64_t *)(mem + LAYOUT_PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(mem + LAYOUT_PDPT_GPA);
	uint64_t *pd = (uint64_t *)(mem + LAYOUT_PD_GPA);
	uint64_t npt = mem_size >> 21, i;
	uint64_t guard = layout_guard_page(mem_size);
	int dynamic = interp && interp->nsegs;

	pml4[0] = LAYOUT_PDPT_GPA | PTE_TABLE;
	pdpt[0] = LAYOUT_PD_GPA | PTE_TABLE;
	for (i = 0; i < npt; i++)
		pd[i] = layout_pt_gpa(i) | PTE_TABLE;

	map_range(mem, MVMM_GDT_GPA, MVMM_STUBS_GPA, PTE_SYS);
	map_range(mem, MVMM_STUBS_GPA, MVMM_STUBS_GPA + MVMM_PAGE_SIZE, PTE_SYS_X);
	map_range(mem, MVMM_STUBS_GPA + MVMM_PAGE_SIZE, MVMM_R0STACK_TOP, PTE_SYS);
	map_range(mem, MVMM_SYSCALL_GPA, MVMM_SYSCALL_GPA + MVMM_PAGE_SIZE, PTE_USER_RX);
	map_range(mem, MVMM_PGTABLE_GPA, layout_pt_gpa(npt), PTE_SYS);
	for (i = 0; i < prog->nsegs; i++)
		map_segment(mem, &prog->segs[i]);
	for (i = 0; dynamic && i < interp->nsegs; i++)
		map_segment(mem, &interp->segs[i]);
	map_range(mem, heap_start, guard, dynamic ? PTE_USER_RWX : PTE_USER_RW);
	map_range(mem, guard + MVMM_PAGE_SIZE, mem_size, PTE_USER_RW);
	/* The 4 KiB tables of a huge chunk stay written but unused: one layout for both. */
	if (huge && huge->nchunks)
		map_huge_chunks(pd, prog, huge, npt);
}

