/* test_hostile.c: a guest passing bad pointers to every hypercall ends with a guest error, both
 * through `mvmm run` and in-process, and the host stays sound for the next guest. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/hypercall.h"
#include "harness.h"
#include "load/image.h"
#include "mvmm_abi.h"
#include "core/vm.h"
#include "guestabi/guest.h"

#define BADPTR T_TEST_GUEST("badptr")

static const char *const block_kinds[] = { "oob",	 "end",	       "misaligned",
					   "systemarea", "pagetables", "null" };
static const char *const buf_kinds[] = { "oob", "end", "wrap", "huge", "null", "systemarea",
					 "pagetables" };

static int has_buffer(unsigned nr)
{
	return nr == MVMM_HC_REQUEST || nr == MVMM_HC_SHM_LOOKUP;
}

/* Calls fn(case, expected substring) for every case aimed at hypercall nr (MVMM_HC_COUNT: unknown). */
static void for_cases(unsigned nr, void (*fn)(const char *c, const char *needle))
{
	char c[64], needle[64];
	size_t i;

	if (nr >= MVMM_HC_COUNT) {
		snprintf(needle, sizeof(needle), "unknown hypercall %d", MVMM_HC_COUNT);
		fn("unknown-nr", needle);
		fn("unknown-nr-63", "unknown hypercall 63");
		return;
	}
	snprintf(needle, sizeof(needle), "hypercall %s", hypercall_name(nr));
	for (i = 0; i < sizeof(block_kinds) / sizeof(block_kinds[0]); i++) {
		snprintf(c, sizeof(c), "%s-block-%s", hypercall_name(nr), block_kinds[i]);
		fn(c, needle);
	}
	if (!has_buffer(nr))
		return;
	for (i = 0; i < sizeof(buf_kinds) / sizeof(buf_kinds[0]); i++) {
		snprintf(c, sizeof(c), "%s-buf-%s", hypercall_name(nr), buf_kinds[i]);
		fn(c, needle);
	}
}

/* ---- through the command --------------------------------------------------------------- */

static void cli_case(const char *c, const char *needle)
{
	struct t_proc p;

	T_MVMM(&p, 20000, "run", BADPTR, (char *)c);
	cr_expect(!p.timed_out, "%s: timed out", c);
	cr_expect_eq(p.status, 123, "%s: status %d, stderr:\n%s", c, p.status, p.err);
	cr_expect(strstr(p.err, "guest error"), "%s: no 'guest error' in:\n%s", c, p.err);
	cr_expect(strstr(p.err, needle), "%s: '%s' not named in:\n%s", c, needle, p.err);
	cr_expect(!strstr(p.out, "accepted"), "%s: %s", c, p.out);
	cr_expect(!strstr(p.err, "AddressSanitizer") && !strstr(p.err, "runtime error"),
		  "%s: sanitizer report:\n%s", c, p.err);
	/* One line from mvmm, nothing from the guest. */
	cr_expect(strchr(p.err, '\n') == p.err + p.err_len - 1, "%s: stderr:\n%s", c, p.err);
	t_proc_free(&p);
}

Test(hostile_cli, ready, .timeout = 240) { for_cases(MVMM_HC_READY, cli_case); }
Test(hostile_cli, request, .timeout = 240) { for_cases(MVMM_HC_REQUEST, cli_case); }
Test(hostile_cli, wait, .timeout = 240) { for_cases(MVMM_HC_WAIT, cli_case); }
Test(hostile_cli, checkpoint, .timeout = 240) { for_cases(MVMM_HC_CHECKPOINT, cli_case); }
Test(hostile_cli, unknown, .timeout = 240) { for_cases(MVMM_HC_COUNT, cli_case); }
Test(hostile_cli, shm, .timeout = 240)
{
	for_cases(MVMM_HC_SHM_LOOKUP, cli_case);
	for_cases(MVMM_HC_SHM_ATTACH, cli_case);
	for_cases(MVMM_HC_SHM_DETACH, cli_case);
	for_cases(MVMM_HC_SHM_INFO, cli_case);
	for_cases(MVMM_HC_SHM_NOTIFY, cli_case);
	for_cases(MVMM_HC_SHM_WAIT, cli_case);
}

/* Every hypercall in the ABI has its cases here. */
Test(hostile_cli, covers_the_abi)
{
	cr_assert_eq(MVMM_HC_COUNT, 10, "a hypercall was added: give it cases in this file");
}

/* ---- in-process ------------------------------------------------------------------------ */

static struct kvm_sys kvm = { .fd = -1 };
static struct image *badptr;

static void lib_setup(void)
{
	t_kvm_open(&kvm);
	badptr = image_load_file(BADPTR, 16u << 20);
	cr_assert(badptr, "%s", mvmm_errmsg());
}

static void lib_teardown(void)
{
	image_put(badptr);
	kvm_sys_close(&kvm);
}

static void lib_case(const char *c, const char *needle)
{
	const char *argv[] = { "badptr", c, NULL };
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .timeout_ns = 20000000000ull };
	struct vm_result res;
	struct vm *vm = vm_create(&kvm, badptr, &cfg);

	cr_assert(vm, "%s: %s", c, mvmm_errmsg());
	cr_expect_eq(vm_run(vm, &res), 0, "%s: %s", c, mvmm_errmsg());
	cr_expect_eq(res.end, VM_END_GUEST_ERROR, "%s: end %d (%s)", c, res.end, res.message);
	cr_expect(strstr(res.message, needle), "%s: '%s' not in '%s'", c, needle, res.message);
	vm_result_clear(&res);
	vm_destroy(vm);
}

/* Runs hello in this process after the hostile guests; its output must be intact. */
static void hello_still_runs(void)
{
	const char *argv[] = { "hello", NULL };
	struct image *img = image_load_file(T_GUEST("hello"), 16u << 20);
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .err_fd = -1 };
	struct vm_result res;
	struct vm *vm;
	char out[256] = { 0 };
	int pfd[2];

	cr_assert(img, "%s", mvmm_errmsg());
	cr_assert(pipe(pfd) == 0);
	cfg.out_fd = pfd[1];
	vm = vm_create(&kvm, img, &cfg);
	cr_assert(vm, "%s", mvmm_errmsg());
	cr_assert_eq(vm_run(vm, &res), 0, "%s", mvmm_errmsg());
	cr_assert_eq(res.end, VM_END_EXIT, "end %d (%s)", res.end, res.message);
	cr_assert_eq(res.status, 0);
	close(pfd[1]);
	cr_assert(read(pfd[0], out, sizeof(out) - 1) > 0);
	cr_assert(strstr(out, T_HELLO_TEXT), "hello printed '%s'", out);
	close(pfd[0]);
	vm_result_clear(&res);
	vm_destroy(vm);
	image_put(img);
}

TestSuite(hostile_lib, .init = lib_setup, .fini = lib_teardown, .timeout = 120);

Test(hostile_lib, every_hypercall_then_hello)
{
	unsigned nr;

	for (nr = 0; nr <= MVMM_HC_COUNT; nr++)
		for_cases(nr, lib_case);
	hello_still_runs();
	t_lsan_check();
}

/* The same image, many hostile runs in a row on one VM each, then the same image runs cleanly. */
Test(hostile_lib, image_unchanged_by_hostile_guests)
{
	const char *argv[] = { "badptr", "request-buf-null", NULL };
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	struct vm_result res;
	int i;

	for (i = 0; i < 3; i++) {
		lib_case("request-buf-pagetables", "hypercall request");
		lib_case("wait-block-pagetables", "hypercall wait");
		lib_case("checkpoint-block-systemarea", "hypercall checkpoint");
	}
	/* A guest error says nothing about the next instance: each starts from the sealed image. */
	argv[1] = "ready-block-misaligned";
	struct vm *vm = vm_create(&kvm, badptr, &cfg);

	cr_assert(vm);
	cr_assert_eq(vm_run(vm, &res), 0);
	cr_assert_eq(res.end, VM_END_GUEST_ERROR);
	cr_assert(strstr(res.message, "aligned"), "%s", res.message);
	vm_result_clear(&res);
	vm_destroy(vm);
	hello_still_runs();
	t_lsan_check();
}
