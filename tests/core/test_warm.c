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
