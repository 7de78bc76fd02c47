/*
 * test_hugepage.c: which guest memory gets 2 MiB pages and how they are
 * entered in the page tables, and the translator's read-only rule for them.
 * Nothing here needs a host setting (tests/host/test_huge.c has those).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "core/hugepage.h"
#include "core/layout.h"
#include "core/x86.h"
#include "load/pagetable.h"

#define MiB (1ull << 20)

static void add_seg(struct elfload_program *p, uint64_t gpa, uint64_t memsz, uint32_t flags)
{
	p->segs[p->nsegs++] = (struct elfload_segment){ .gpa = gpa, .memsz = memsz,
							.filesz = memsz, .flags = flags };
}

Test(hugepage, modes_parse_and_name)
{
	static const char *const names[] = { "auto", "thp", "hugetlb", "off" };
	enum huge_mode m;

	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(huge_mode_parse(names[i], &m), 0);
		cr_assert_eq(m, (enum huge_mode)i);
		cr_assert_str_eq(huge_mode_name(m), names[i]);
	}
	cr_assert_eq(huge_mode_parse("THP", &m), -1);
	cr_assert_eq(huge_mode_parse("", &m), -1);
	cr_assert_eq(huge_mode_parse("hugetlbfs", &m), -1);
	cr_assert_str_eq(huge_backing_name(HUGE_BACKING_NONE), "4k");
}

Test(hugepage, off_and_empty_plans_ask_the_host_nothing)
{
	enum huge_backing b = HUGE_BACKING_THP;

	cr_assert_eq(huge_choose(HUGE_MODE_OFF, 9, &b), 0);
	cr_assert_eq(b, HUGE_BACKING_NONE);
	b = HUGE_BACKING_THP;
	cr_assert_eq(huge_choose(HUGE_MODE_THP, 0, &b), 0, "no chunk: nothing to ask for");
	cr_assert_eq(b, HUGE_BACKING_NONE);
}

/* R at 4 MiB (3 MiB: one whole chunk, half of the next), RX after it, RW at 8 MiB. */
static void sdk_like(struct elfload_program *p)
{
	memset(p, 0, sizeof(*p));
	add_seg(p, 4 * MiB, 3 * MiB, 4 /* R */);
	add_seg(p, 7 * MiB, 64 * 1024, 5 /* RX */);
	add_seg(p, 8 * MiB, 8192, 6 /* RW */);
}

Test(hugepage, plan_takes_chunks_of_read_only_program_memory_only)
{
	struct elfload_program p;
	struct huge_map h;

	sdk_like(&p);
	pagetable_plan_huge(64 * MiB, &p, 8 * MiB + 8192, &h);
	cr_assert_eq(h.nchunks, 2);
	cr_assert(huge_map_test(&h, 2), "[4, 6) MiB: read-only data");
	cr_assert(huge_map_test(&h, 3), "[6, 8) MiB: data and code");
	cr_assert_not(huge_map_test(&h, 4), "[8, 10) MiB: writable");
	cr_assert_not(huge_map_test(&h, 0), "the system area is never huge");
	cr_assert_not(huge_map_test(&h, 31), "the stack is never huge");
}

Test(hugepage, a_chunk_with_a_writable_page_or_the_heap_stays_4_kib)
{
	struct elfload_program p;
	struct huge_map h;

	memset(&p, 0, sizeof(p));
	add_seg(&p, 4 * MiB, 1 * MiB, 5);
	add_seg(&p, 5 * MiB, 4096, 6); /* .data in the same chunk as the code */
	pagetable_plan_huge(64 * MiB, &p, 5 * MiB + 4096, &h);
	cr_assert_eq(h.nchunks, 0);

	memset(&p, 0, sizeof(p));
	add_seg(&p, 4 * MiB, 1 * MiB, 5); /* code, then the heap in the same chunk */
	pagetable_plan_huge(64 * MiB, &p, 5 * MiB, &h);
	cr_assert_eq(h.nchunks, 0);
}

Test(hugepage, huge_chunks_get_user_read_only_pdes_with_nx_unless_code)
{
	uint64_t size = 16 * MiB, *pd;
	struct elfload_program p;
	struct huge_map h;
	uint8_t *mem = calloc(1, size);

	cr_assert(mem);
	sdk_like(&p);
	pagetable_plan_huge(size, &p, 8 * MiB + 8192, &h);
	pagetable_build(mem, size, &p, NULL, 8 * MiB + 8192, &h);
	pd = (uint64_t *)(mem + LAYOUT_PD_GPA);
	cr_assert_eq(pd[2], 4 * MiB | PTE_P | PTE_US | PTE_A | PTE_D | PTE_PS | PTE_NX);
	cr_assert_eq(pd[3], 6 * MiB | PTE_P | PTE_US | PTE_A | PTE_D | PTE_PS, "code: executable");
	cr_assert_eq(pd[4], layout_pt_gpa(4) | PTE_TABLE, "writable data: a page table");
	cr_assert_eq(pd[0], layout_pt_gpa(0) | PTE_TABLE);
	pagetable_build(mem, size, &p, NULL, 8 * MiB + 8192, NULL);
	cr_assert_eq(pd[2], layout_pt_gpa(2) | PTE_TABLE, "no plan: 4 KiB pages");
	free(mem);
}

Test(hugepage, hypercall_writes_into_huge_pages_are_refused)
{
	static uint8_t backing[16 * 1024 * 1024] __attribute__((aligned(4096)));
	struct gmem m = { .host = backing, .size = 16 * MiB };
	struct huge_map h = { .backing = HUGE_BACKING_THP, .fd = -1 };

	huge_map_set(&h, 3);
	h.nchunks = 1;
	m.huge = &h;
	cr_assert_not_null(gmem_user_ptr(&m, 6 * MiB, 4096), "reads are allowed");
	cr_assert_null(gmem_user_ptr_rw(&m, 6 * MiB, 4096));
	cr_assert_null(gmem_user_ptr_rw(&m, 6 * MiB - 8, 16), "straddling into the chunk");
	cr_assert_null(gmem_user_ptr_rw(&m, 8 * MiB - 1, 1));
	cr_assert_not_null(gmem_user_ptr_rw(&m, 8 * MiB, 4096));
	cr_assert_not_null(gmem_user_ptr_rw(&m, 6 * MiB - 4096, 4096));
	m.huge = NULL;
	cr_assert_not_null(gmem_user_ptr_rw(&m, 6 * MiB, 4096), "no map: no read-only chunk");
}
