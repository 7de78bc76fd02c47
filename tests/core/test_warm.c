/*
 * test_warm.c: every KVM_RUN mvmm makes for itself is bounded: warming a VM shell over memory
 * whose exception stub spins (`jmp .`, as a forged template could hold) fails, it does not hang.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>

#include "core/vm.h"
#include "harness.h"
#include "load/image.h"
#include "mem/memstat.h"
#include "mvmm_abi.h"

Test(warm, a_shell_warmed_over_spinning_stubs_fails_in_bounded_time, .timeout = 60)
{
	struct kvm_sys kvm = { .fd = -1 };
	struct image *img;
	struct vm *vm;
	uint8_t jmp_self[2] = { 0xeb, 0xfe };
	uint64_t t0;
	int memfd;

	t_kvm_open(&kvm);
	img = image_load_file(T_GUEST("hello"), 64ull << 20);
	cr_assert(img, "%s", mvmm_errmsg());
	/* an unsealed copy of the image, its stub for vector 0 patched to spin at CPL0 */
	memfd = memfd_create("forged", MFD_CLOEXEC);
	cr_assert(memfd >= 0 && ftruncate(memfd, (off_t)img->mem_size) == 0);
	{
		uint8_t *dst = mmap(NULL, img->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);

		cr_assert(dst != MAP_FAILED);
		cr_assert(image_copy_to(img, dst) == 0);
		memcpy(dst + MVMM_STUBS_GPA, jmp_self, sizeof(jmp_self));
		munmap(dst, img->mem_size);
	}
	vm = vm_shell_create(&kvm, img->mem_size);
	cr_assert(vm, "%s", mvmm_errmsg());
	t0 = t_now_ns();
	cr_assert_eq(vm_shell_warm(vm, memfd, NULL), -1, "a spinning stub warmed a shell");
	cr_assert(strstr(mvmm_errmsg(), "did not exit"), "%s", mvmm_errmsg());
	cr_assert_lt(t_now_ns() - t0, 30000000000ull, "the warm-up was not bounded");
	/* and over mvmm's own stubs it works */
	vm_destroy(vm);
	vm = vm_shell_create(&kvm, img->mem_size);
	cr_assert(vm);
	cr_assert_eq(vm_shell_warm(vm, img->memfd, &img->huge), 0, "%s", mvmm_errmsg());
	vm_destroy(vm);
	close(memfd);
	image_put(img);
	kvm_sys_close(&kvm);
}

/*
 * A shell reads a template's working set once (vm_shell_touch): the listed pages CPL3 may
 * read become present in the shell's mapping, the rest are left out without a fault, and the
 * system-call page the toucher was written into holds the image's bytes again.
 */
Test(warm, a_shell_touches_the_pages_it_is_given_and_nothing_else, .timeout = 60)
{
	struct kvm_sys kvm = { .fd = -1 };
	uint8_t want[MVMM_PAGE_SIZE];
	uint32_t pages[8], n = 0, nseg;
	uint64_t e;
	struct image *img;
	struct vm *vm;

	t_kvm_open(&kvm);
	img = image_load_file(T_GUEST("hello"), 64ull << 20);
	cr_assert(img, "%s", mvmm_errmsg());
	vm = vm_shell_create(&kvm, img->mem_size);
	cr_assert(vm, "%s", mvmm_errmsg());
	cr_assert_eq(vm_shell_warm(vm, img->memfd, &img->huge), 0, "%s", mvmm_errmsg());
	/* the first page of each segment: user-readable */
	for (size_t i = 0; i < img->prog.nsegs && n < 4; i++)
		pages[n++] = (uint32_t)(img->prog.segs[i].gpa / MVMM_PAGE_SIZE);
	nseg = n;
	pages[n++] = MVMM_GDT_GPA / MVMM_PAGE_SIZE;		 /* supervisor only: left out */
	pages[n++] = (uint32_t)(img->mem_size / MVMM_PAGE_SIZE); /* beyond memory: left out */
	for (uint32_t i = 0; i < nseg; i++) {
		cr_assert_eq(memstat_pagemap_read(vm, pages[i], 1, &e), 0);
		cr_expect(!memstat_entry_present(e), "page %u present before the touch", pages[i]);
	}
	cr_assert_eq(vm_shell_touch(vm, pages, n), 0, "%s", mvmm_errmsg());
	for (uint32_t i = 0; i < nseg; i++) {
		cr_assert_eq(memstat_pagemap_read(vm, pages[i], 1, &e), 0);
		cr_expect(memstat_entry_present(e), "page %u not touched", pages[i]);
	}
	cr_assert_eq(pread(img->memfd, want, sizeof(want), MVMM_SYSCALL_GPA), (ssize_t)sizeof(want));
	cr_expect(memcmp(vm->mem.host + MVMM_SYSCALL_GPA, want, sizeof(want)) == 0,
		  "the system-call page was not put back");
	vm_destroy(vm);
	image_put(img);
	kvm_sys_close(&kvm);
}
