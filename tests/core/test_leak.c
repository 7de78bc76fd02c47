/* test_leak.c: a thousand VMs and two hundred images in one process leave no fd or mapping behind. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>

#include "core/vm.h"
#include "guestabi/guest.h"
#include "harness.h"
#include "load/image.h"

static struct kvm_sys kvm = { .fd = -1 };

static void setup(void)
{
	t_kvm_open(&kvm);
}

static void teardown(void)
{
	kvm_sys_close(&kvm);
}

TestSuite(leak, .init = setup, .fini = teardown, .timeout = 240);

/* One full life of a VM: create, run hello to exit 0, destroy. */
static void one_vm(struct image *img, int devnull, int timeout)
{
	const char *argv[] = { "hello", NULL };
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = devnull, .err_fd = devnull,
				 .timeout_ns = timeout ? 10000000000ull : 0 };
	struct vm_result res;
	struct vm *vm = vm_create(&kvm, img, &cfg);

	cr_assert(vm, "%s", mvmm_errmsg());
	cr_assert_eq(vm_run(vm, &res), 0, "%s", mvmm_errmsg());
	cr_assert_eq(res.end, VM_END_EXIT, "end %d: %s", res.end, res.message);
	cr_assert_eq(res.status, 0);
	vm_result_clear(&res);
	vm_destroy(vm);
}

Test(leak, thousand_vms)
{
	struct image *img = image_load_file(T_GUEST("hello"), 16u << 20);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int fds, maps, i;
	uint64_t t0;

	cr_assert(img, "%s", mvmm_errmsg());
	cr_assert(devnull >= 0);
	one_vm(img, devnull, 1); /* first use: lazy allocations, the kick signal, timers */
	one_vm(img, devnull, 0);
	fds = t_count_fds();
	maps = t_count_maps();
	t0 = t_now_ns();
	for (i = 0; i < 1000; i++)
		one_vm(img, devnull, i % 2);
	cr_log_info("1000 VMs in %.2f s", (double)(t_now_ns() - t0) / 1e9);
	cr_expect_eq(t_count_fds(), fds, "fds: %d before, %d after", fds, t_count_fds());
	cr_expect_eq(t_count_maps(), maps, "maps: %d before, %d after", maps, t_count_maps());
	cr_expect_eq(img->refs, 1, "the VMs left %d references on the image", img->refs - 1);
	image_put(img);
	close(devnull);
	t_lsan_check();
}

Test(leak, two_hundred_images)
{
	int fds, maps, i;
	struct image *img;

	img = image_load_file(T_GUEST("hello"), 16u << 20);
	cr_assert(img, "%s", mvmm_errmsg());
	image_put(img);
	fds = t_count_fds();
	maps = t_count_maps();
	for (i = 0; i < 200; i++) {
		img = image_load_file(T_GUEST("hello"), (i % 2 ? 8u : 64u) << 20);
		cr_assert(img, "%s", mvmm_errmsg());
		image_put(img);
	}
	/* failed loads clean up too */
	for (i = 0; i < 50; i++) {
		cr_assert_null(image_load_file("tests/core/test_leak.c", 16u << 20));
		cr_assert_null(image_load_file("build/no/such.elf", 16u << 20));
		cr_assert_null(image_load_file(T_GUEST("hello"), 1u << 20));
	}
	cr_expect_eq(t_count_fds(), fds, "fds: %d before, %d after", fds, t_count_fds());
	cr_expect_eq(t_count_maps(), maps, "maps: %d before, %d after", maps, t_count_maps());
	t_lsan_check();
}
