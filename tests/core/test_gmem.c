/* test_gmem.c: pure logic without KVM: the checked guest-address translator and x86 exception
 * names. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "core/x86.h"
#include "mvmm_abi.h"

#define MEM (16ull << 20)

/* ---- gmem ---------------------------------------------------------------------------- */

/* A real guest-sized buffer (untouched pages cost nothing), so every pointer is valid. */
static struct gmem fake_mem(void)
{
	static uint8_t *host;

	if (!host)
		host = calloc(1, MEM);
	cr_assert(host);
	return (struct gmem){ .host = host, .size = MEM };
}

#define P(gpa) (fake_mem().host + (gpa))

Test(gmem, ptr_bounds)
{
	struct gmem m = fake_mem();

	cr_assert_eq(gmem_ptr(&m, 0, 0), P(0));
	cr_assert_eq(gmem_ptr(&m, 0, 1), P(0));
	cr_assert_eq(gmem_ptr(&m, 0, MEM), P(0));
	cr_assert_null(gmem_ptr(&m, 0, MEM + 1));
	cr_assert_eq(gmem_ptr(&m, MEM - 1, 1), P(MEM - 1));
	cr_assert_null(gmem_ptr(&m, MEM - 1, 2));
	cr_assert_eq(gmem_ptr(&m, MEM, 0), P(MEM), "an empty range at the very end is inside");
	cr_assert_null(gmem_ptr(&m, MEM, 1));
	cr_assert_null(gmem_ptr(&m, MEM + 1, 0));
	cr_assert_eq(gmem_ptr(&m, 0x1234, 0x10), P(0x1234));
}

Test(gmem, ptr_wraparound)
{
	struct gmem m = fake_mem();

	cr_assert_null(gmem_ptr(&m, UINT64_MAX, 0));
	cr_assert_null(gmem_ptr(&m, UINT64_MAX, 1));
	cr_assert_null(gmem_ptr(&m, UINT64_MAX, 2), "gpa + len wraps to 1");
	cr_assert_null(gmem_ptr(&m, UINT64_MAX - 0xfff, 0x2000), "wraps to 0x1000");
	cr_assert_null(gmem_ptr(&m, 1ull << 63, 1ull << 63), "wraps to 0");
	cr_assert_null(gmem_ptr(&m, 1, UINT64_MAX));
	cr_assert_null(gmem_ptr(&m, 0, UINT64_MAX));
	cr_assert_null(gmem_ptr(&m, MEM - 16, UINT64_MAX - MEM + 17), "wraps to 1");
	cr_assert_null(gmem_ptr(&m, 0x400000, UINT64_MAX - 0x3fffff), "wraps to 0");
	cr_assert_null(gmem_ptr(&m, 0x100000000ull, 16));
}

Test(gmem, user_ptr_system_area)
{
	struct gmem m = fake_mem();

	/* NULL page, descriptor tables, stubs, ring-0 stack: refused. */
	cr_assert_null(gmem_user_ptr(&m, 0, 1));
	cr_assert_null(gmem_user_ptr(&m, 0, 0));
	cr_assert_null(gmem_user_ptr(&m, MVMM_GDT_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, MVMM_TSS_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, MVMM_IDT_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, MVMM_STUBS_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x7ff8, 8));
	/* The system-call entry page and the old boot info's place: no user buffer there. */
	cr_assert_null(gmem_user_ptr(&m, MVMM_SYSCALL_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x8000, 8));
	cr_assert_null(gmem_user_ptr(&m, 0xfff8, 8));
	/* Page tables up to the image: refused. */
	cr_assert_null(gmem_user_ptr(&m, MVMM_PGTABLE_GPA, 1));
	cr_assert_null(gmem_user_ptr(&m, MVMM_PGTABLE_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x200000, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x3ffff8, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x3fffff, 1));
	cr_assert_null(gmem_user_ptr(&m, 0x3ffff0, 0x20), "straddles into the image");
	cr_assert_null(gmem_user_ptr(&m, 0xfff8, 0x400000), "spans the page tables");
	cr_assert_null(gmem_user_ptr(&m, 0x8000, MEM), "spans the page tables");
	/* Program, heap and stack: allowed up to the end. */
	cr_assert_eq(gmem_user_ptr(&m, MVMM_IMAGE_BASE, 1), P(MVMM_IMAGE_BASE));
	cr_assert_eq(gmem_user_ptr(&m, MVMM_IMAGE_BASE, MEM - MVMM_IMAGE_BASE),
		     P(MVMM_IMAGE_BASE));
	cr_assert_eq(gmem_user_ptr(&m, MEM - 1, 1), P(MEM - 1));
	cr_assert_null(gmem_user_ptr(&m, MEM - 1, 2));
	cr_assert_null(gmem_user_ptr(&m, MEM, 1));
}

Test(gmem, user_ptr_wraparound)
{
	struct gmem m = fake_mem();

	cr_assert_null(gmem_user_ptr(&m, UINT64_MAX, 1));
	cr_assert_null(gmem_user_ptr(&m, UINT64_MAX, 0));
	cr_assert_null(gmem_user_ptr(&m, UINT64_MAX - 0xfff, 0x1000 + MVMM_IMAGE_BASE + 8),
		       "wraps into the image");
	cr_assert_null(gmem_user_ptr(&m, UINT64_MAX - 0xfff, 0x1000 + 0x8000 + 8),
		       "wraps into the system area");
	cr_assert_null(gmem_user_ptr(&m, MVMM_IMAGE_BASE, UINT64_MAX));
	cr_assert_null(gmem_user_ptr(&m, MVMM_IMAGE_BASE, UINT64_MAX - MVMM_IMAGE_BASE + 1),
		       "wraps to 0");
	cr_assert_null(gmem_user_ptr(&m, MEM - 8, UINT64_MAX));
}

/* ---- vector names --------------------------------------------------------------------- */

Test(x86, vector_names)
{
	cr_assert_str_eq(x86_vector_name(14), "page fault");
	cr_assert(strstr(x86_vector_name(13), "general protection"));
	cr_assert(strstr(x86_vector_name(0), "divide"));
	cr_assert(strstr(x86_vector_name(6), "invalid opcode"));
	cr_assert(strstr(x86_vector_name(8), "double fault"));
	cr_assert_null(x86_vector_name(9), "reserved vector");
	cr_assert_null(x86_vector_name(15), "reserved vector");
	cr_assert_null(x86_vector_name(31), "reserved vector");
	cr_assert_null(x86_vector_name(32));
	cr_assert_null(x86_vector_name(255));
	cr_assert_null(x86_vector_name(UINT32_MAX));
	cr_assert_str_eq(x86_vector_mnemonic(14), "#PF");
	cr_assert_str_eq(x86_vector_mnemonic(13), "#GP");
	cr_assert_str_eq(x86_vector_mnemonic(9), "#??");
	cr_assert_str_eq(x86_vector_mnemonic(32), "#??");
	cr_assert_str_eq(x86_vector_mnemonic(UINT32_MAX), "#??");
	cr_assert(x86_vector_has_error_code(14) && x86_vector_has_error_code(13) &&
		  x86_vector_has_error_code(8));
	cr_assert(!x86_vector_has_error_code(0) && !x86_vector_has_error_code(6) &&
		  !x86_vector_has_error_code(3));
}
