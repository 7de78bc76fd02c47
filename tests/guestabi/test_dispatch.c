/* test_dispatch.c: the exit dispatcher and the hypercall handlers fed fabricated exits over a
 * plain buffer standing in for guest memory, without KVM. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/gmem.h"
#include "guestabi/guest.h"
#include "guestabi/hypercall.h"
#include "load/image.h"
#include "mvmm_abi.h"
#include "core/vm.h"
#include "fakevm.h"

#define MEM (16ull << 20)

Test(hypercall, names)
{
	cr_assert_str_eq(hypercall_name(MVMM_HC_READY), "ready");
	cr_assert_str_eq(hypercall_name(MVMM_HC_REQUEST), "request");
	cr_assert_str_eq(hypercall_name(MVMM_HC_WAIT), "wait");
	cr_assert_str_eq(hypercall_name(MVMM_HC_CHECKPOINT), "checkpoint");
	cr_assert_str_eq(hypercall_name(MVMM_HC_SHM_LOOKUP), "shm_lookup");
	cr_assert_str_eq(hypercall_name(MVMM_HC_SHM_WAIT), "shm_wait");
	cr_assert_null(hypercall_name(MVMM_HC_COUNT));
	cr_assert_null(hypercall_name(UINT32_MAX));
}

/* ---- the exit dispatcher over fabricated exits ---------------------------------------- */

#define RUN_SIZE    4096
#define DATA_OFFSET 2048
#define BLK	    0x500000u /* argument blocks here */
#define BUF	    0x600000u /* data buffers here */

struct fake {
	struct vm vm;
	struct image img;
	struct vm_result res;
	uint8_t *mem;
	struct kvm_run *run;
	int out[2], err[2], in[2];
};

static struct fake F;

static void fake_setup(void)
{
	memset(&F, 0, sizeof(F));
	F.mem = calloc(1, MEM);
	F.run = calloc(1, RUN_SIZE);
	cr_assert(F.mem && F.run);
	cr_assert(pipe2(F.out, O_NONBLOCK) == 0 && pipe2(F.err, O_NONBLOCK) == 0 &&
		  pipe2(F.in, O_NONBLOCK) == 0);
	fake_vm_init(&F.vm, &F.img, F.mem, MEM, F.run, F.in, F.out, F.err, 0x800000, "fake");
	F.vm.res = &F.res;
}

static void fake_teardown(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		close(F.out[i]);
		close(F.err[i]);
		close(F.in[i]);
	}
	free(F.mem);
	free(F.run);
}

/* An `out` of a 32-bit value to port, as KVM reports it. */
static enum exit_action fake_out(unsigned port, uint32_t value)
{
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_IO;
	F.run->io.direction = KVM_EXIT_IO_OUT;
	F.run->io.size = 4;
	F.run->io.port = (uint16_t)port;
	F.run->io.count = 1;
	F.run->io.data_offset = DATA_OFFSET;
	memcpy((uint8_t *)F.run + DATA_OFFSET, &value, 4);
	return exit_dispatch(&F.vm);
}

static enum exit_action fake_hc(unsigned nr, uint32_t block)
{
	return fake_out(MVMM_HC_PORT_BASE + nr, block);
}

static void put(uint64_t gpa, const void *src, size_t len)
{
	memcpy(F.mem + gpa, src, len);
}

static void get(uint64_t gpa, void *dst, size_t len)
{
	memcpy(dst, F.mem + gpa, len);
}

static void expect_guest_error(enum exit_action act, const char *needle)
{
	cr_assert_eq(act, EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_GUEST_ERROR, "end %d, message '%s'", F.res.end,
		     F.res.message);
	cr_assert(strstr(F.res.message, needle), "message '%s' lacks '%s'", F.res.message, needle);
}

TestSuite(dispatch, .init = fake_setup, .fini = fake_teardown);

/* The request: copied whole or cut to the buffer, its full size and argc returned. */
Test(dispatch, request_ok)
{
	static const char *args[] = { "alpha", "be", NULL };
	struct vm_request req;
	struct mvmm_hc_request r = { .ret = -99, .buf = BUF, .len = 100 };
	char got[16];

	cr_assert_eq(vm_request_init(&req, args), 0);
	F.vm.request = &req;
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_REQUEST, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 9);
	cr_assert_eq(r.argc, 2);
	get(BUF, got, 9);
	cr_assert_arr_eq(got, "alpha\0be", 9);
	cr_assert_eq(F.res.end, VM_END_NONE);
	cr_assert_eq(F.res.hypercalls, 1);

	/* a short buffer: what fits, and the full size to retry with */
	memset(F.mem + BUF, 0x5a, 16);
	r = (struct mvmm_hc_request){ .ret = -99, .buf = BUF, .len = 3 };
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_REQUEST, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 9);
	cr_assert_eq(F.mem[BUF + 2], 'p');
	cr_assert_eq(F.mem[BUF + 3], 0x5a, "wrote past the buffer");

	/* none at all */
	F.vm.request = NULL;
	r = (struct mvmm_hc_request){ .ret = -99, .buf = MEM, .len = 0 };
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_REQUEST, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 0);
	cr_assert_eq(r.argc, 0);
	vm_request_free(&req);
}

/* Buffers a guest must not name: outside memory, wrapping, or in the system area. */
static const struct {
	uint64_t buf, len;
} bad_bufs[] = {
	{ MEM, 1 },			/* just past the end */
	{ MEM - 8, 9 },			/* straddles the end */
	{ 0xfffff000, 0x100 },		/* below 4 GiB but beyond memory */
	{ UINT64_MAX - 0xfff, 0x2000 }, /* wraps around to 0x1000 */
	{ UINT64_MAX, 1 },
	{ BUF, UINT64_MAX },		/* huge length */
	{ BUF, UINT64_MAX - BUF + 1 },	/* wraps to exactly 0 */
	{ 0, 8 },			/* NULL page */
	{ 0x7000, 8 },			/* the system-call entry page */
	{ 0x8000, 8 },			/* the retired boot info's place */
	{ MVMM_GDT_GPA, 16 },
	{ MVMM_PGTABLE_GPA, 8 },	/* page tables */
	{ 0x3ff000, 0x1000 },		/* last page-table page */
	{ 0xfff0, 0x20 },		/* straddling into the page tables */
	{ 0x3ffff8, 16 },		/* page tables straddling into the image */
};

/* A request buffer the guest does not own: a guest error, and nothing written. */
Test(dispatch, request_bad_buffer)
{
	static const char *args[] = { "XXXXXXXXXXXXXXXX", NULL };
	struct vm_request req;
	size_t i;

	cr_assert_eq(vm_request_init(&req, args), 0);
	F.vm.request = &req;
	for (i = 0; i < sizeof(bad_bufs) / sizeof(bad_bufs[0]); i++) {
		struct mvmm_hc_request r = { .ret = 5, .buf = bad_bufs[i].buf,
					     .len = bad_bufs[i].len };
		uint8_t pt[16], pt_after[16];

		memset(&F.res, 0, sizeof(F.res));
		get(MVMM_PGTABLE_GPA, pt, sizeof(pt));
		put(BLK, &r, sizeof(r));
		expect_guest_error(fake_hc(MVMM_HC_REQUEST, BLK), "hypercall request");
		cr_assert(strstr(F.res.message, "outside"), "%s", F.res.message);
		get(MVMM_PGTABLE_GPA, pt_after, sizeof(pt_after));
		cr_assert_arr_eq(pt, pt_after, sizeof(pt), "case %zu wrote the page tables", i);
	}
	F.vm.request = NULL;
	vm_request_free(&req);
}

Test(dispatch, ready_and_checkpoint_outside_templates)
{
	struct mvmm_hc_ready r = { .ret = -99 };
	struct mvmm_hc_checkpoint c = { .ret = -99 };

	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_READY, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 0, "a plain run's ready returns 0");
	F.vm.clone_no = 7;
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_READY, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 7, "a clone's ready returns its number");
	put(BLK, &c, sizeof(c));
	cr_assert_eq(fake_hc(MVMM_HC_CHECKPOINT, BLK), EXIT_CONTINUE);
	get(BLK, &c, sizeof(c));
	cr_assert_eq(c.ret, 0, "no snapshot is taken: checkpoint 0");
}

Test(dispatch, wait_without_hook)
{
	struct mvmm_hc_wait w = { .ret = -99 };

	put(BLK, &w, sizeof(w));
	cr_assert_eq(fake_hc(MVMM_HC_WAIT, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, 0);
}

/* Argument blocks: misaligned, outside memory, in the system area, straddling the end. */
Test(dispatch, bad_blocks_every_hypercall)
{
	static const uint32_t blocks[] = {
		BLK + 4, BLK + 1, 0xfffffff8u, (uint32_t)MEM, 0, MVMM_GDT_GPA, MVMM_TSS_GPA,
		0x7ff8, MVMM_PGTABLE_GPA, 0x3ffff8,
	};
	unsigned nr;
	size_t i;

	for (nr = 0; nr < MVMM_HC_COUNT; nr++) {
		const char *name = hypercall_name(nr);
		char needle[64];

		snprintf(needle, sizeof(needle), "hypercall %s", name);
		for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
			uint8_t pt[64], pt_after[64];

			memset(&F.res, 0, sizeof(F.res));
			get(MVMM_PGTABLE_GPA, pt, sizeof(pt));
			expect_guest_error(fake_hc(nr, blocks[i]), needle);
			cr_assert(strstr(F.res.message, blocks[i] % 8 ? "aligned" : "outside"),
				  "%s: block 0x%x: '%s'", name, blocks[i], F.res.message);
			get(MVMM_PGTABLE_GPA, pt_after, sizeof(pt_after));
			cr_assert_arr_eq(pt, pt_after, sizeof(pt));
			cr_assert_eq(F.res.hypercalls, 0);
		}
	}
}

Test(dispatch, unknown_hypercall)
{
	/* every number inside the 64 hypercall ports the TSS opens, but unassigned */
	static const unsigned nrs[] = { MVMM_HC_COUNT, 63 };
	size_t i;

	for (i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		char needle[64];

		memset(&F.res, 0, sizeof(F.res));
		snprintf(needle, sizeof(needle), "unknown hypercall %u", nrs[i]);
		expect_guest_error(fake_hc(nrs[i], BLK), needle);
	}
}

Test(dispatch, non_hypercall_ports)
{
	/* below the range, above it, the fault port from CPL3 with a wrong size */
	static const unsigned ports[] = { 0x4ff, 0x3f8, 0x80, 0x540, 0x547, 0x548, 0xffff };
	size_t i;

	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		memset(&F.res, 0, sizeof(F.res));
		expect_guest_error(fake_out(ports[i], BLK), "not a hypercall");
	}

	/* the right port, but `in`, a byte, or a string instruction */
	memset(&F.res, 0, sizeof(F.res));
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_IO;
	F.run->io.direction = KVM_EXIT_IO_IN;
	F.run->io.size = 4;
	F.run->io.port = MVMM_HC_PORT_BASE;
	F.run->io.count = 1;
	F.run->io.data_offset = DATA_OFFSET;
	expect_guest_error(exit_dispatch(&F.vm), "not a hypercall");

	memset(&F.res, 0, sizeof(F.res));
	F.run->io.direction = KVM_EXIT_IO_OUT;
	F.run->io.size = 1;
	expect_guest_error(exit_dispatch(&F.vm), "not a hypercall");

	memset(&F.res, 0, sizeof(F.res));
	F.run->io.size = 4;
	F.run->io.count = 2;
	expect_guest_error(exit_dispatch(&F.vm), "not a hypercall");

	memset(&F.res, 0, sizeof(F.res));
	F.run->io.count = 1;
	F.run->io.port = MVMM_FAULT_PORT;
	expect_guest_error(exit_dispatch(&F.vm), "not a hypercall");
}

Test(dispatch, mmio_and_hlt)
{
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_MMIO;
	F.run->mmio.phys_addr = 0xdead000;
	expect_guest_error(exit_dispatch(&F.vm), "0xdead000");

	memset(&F.res, 0, sizeof(F.res));
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_HLT;
	expect_guest_error(exit_dispatch(&F.vm), "halt");
}

Test(dispatch, host_errors)
{
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	F.run->internal.suberror = 3;
	cr_assert_eq(exit_dispatch(&F.vm), EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_HOST_ERROR);
	cr_assert(strstr(F.res.message, "internal error"), "%s", F.res.message);

	memset(&F.res, 0, sizeof(F.res));
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	cr_assert_eq(exit_dispatch(&F.vm), EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_HOST_ERROR);

	memset(&F.res, 0, sizeof(F.res));
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = 9999;
	cr_assert_eq(exit_dispatch(&F.vm), EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_HOST_ERROR);
	cr_assert(strstr(F.res.message, "9999"), "%s", F.res.message);
}

/* The block is copied in once and back once: the handler's view cannot change under it. */
Test(dispatch, block_copied_back_only_ret)
{
	struct mvmm_hc_shm_wait w = { .ret = -99, .handle = { { 1, 2 } }, .seen = 3, .flags = 0,
				      .pad = 0xabcd };

	put(BLK, &w, sizeof(w));
	memset(F.mem + BLK + sizeof(w), 0x5a, 8);
	cr_assert_eq(fake_hc(MVMM_HC_SHM_WAIT, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, -MVMM_ENOENT);
	cr_assert_eq(w.pad, 0xabcd);
	cr_assert_eq(w.seen, 3);
	cr_assert_eq(F.mem[BLK + sizeof(w)], 0x5a, "wrote past the block");
}

/* The core reaches the guest ABI only through vm->up: a test handler sees the call, a VM with no
 * ABI refuses it. */
static unsigned seen_nr;
static uint64_t seen_arg;

static enum exit_action record_hypercall(struct vm *vm, unsigned nr, uint64_t arg)
{
	(void)vm;
	seen_nr = nr;
	seen_arg = arg;
	return EXIT_CONTINUE;
}

Test(dispatch, hypercalls_go_through_the_upcall_table)
{
	static const struct vm_upcalls test_up = { .hypercall = record_hypercall };

	F.vm.up = &test_up;
	cr_assert_eq(fake_hc(5, 0x12345678u), EXIT_CONTINUE);
	cr_assert_eq(seen_nr, 5);
	cr_assert_eq(seen_arg, 0x12345678u);
	F.vm.up = NULL;
	expect_guest_error(fake_hc(MVMM_HC_WAIT, BLK), "no guest ABI");
}

