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
	cr_assert_str_eq(hypercall_name(MVMM_HC_WRITE), "write");
	cr_assert_str_eq(hypercall_name(MVMM_HC_READ), "read");
	cr_assert_str_eq(hypercall_name(MVMM_HC_EXIT), "exit");
	cr_assert_str_eq(hypercall_name(MVMM_HC_CLOCK), "clock");
	cr_assert_str_eq(hypercall_name(MVMM_HC_BOOTINFO), "bootinfo");
	cr_assert_str_eq(hypercall_name(MVMM_HC_ABORT), "abort");
	cr_assert_str_eq(hypercall_name(MVMM_HC_WAIT), "wait");
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
	F.vm.bootinfo_size = 123;
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

static size_t drain(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);

	n = n < 0 ? 0 : n;
	buf[n] = '\0';
	return (size_t)n;
}

static void expect_guest_error(enum exit_action act, const char *needle)
{
	cr_assert_eq(act, EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_GUEST_ERROR, "end %d, message '%s'", F.res.end,
		     F.res.message);
	cr_assert(strstr(F.res.message, needle), "message '%s' lacks '%s'", F.res.message, needle);
}

TestSuite(dispatch, .init = fake_setup, .fini = fake_teardown);

Test(dispatch, write_ok)
{
	struct mvmm_hc_write w = { .ret = -99, .fd = 1, .buf = BUF, .len = 13 };
	char out[64];

	put(BUF, "hello, world\n", 13);
	put(BLK, &w, sizeof(w));
	cr_assert_eq(fake_hc(MVMM_HC_WRITE, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, 13);
	cr_assert_eq(F.res.end, VM_END_NONE);
	cr_assert_eq(F.res.hypercalls, 1);
	cr_assert_eq(drain(F.out[0], out, sizeof(out)), 13);
	cr_assert_str_eq(out, "hello, world\n");

	/* stderr, from the boot info area, length 0 */
	w = (struct mvmm_hc_write){ .ret = -99, .fd = 2, .buf = MVMM_BOOTINFO_GPA + 8, .len = 3 };
	put(MVMM_BOOTINFO_GPA + 8, "err", 3);
	put(MVMM_BOOTINFO_GPA + 0x100, &w, sizeof(w));
	cr_assert_eq(fake_hc(MVMM_HC_WRITE, MVMM_BOOTINFO_GPA + 0x100), EXIT_CONTINUE);
	get(MVMM_BOOTINFO_GPA + 0x100, &w, sizeof(w));
	cr_assert_eq(w.ret, 3);
	cr_assert_eq(drain(F.err[0], out, sizeof(out)), 3);
	cr_assert_str_eq(out, "err");

	w = (struct mvmm_hc_write){ .ret = -99, .fd = 1, .buf = MEM, .len = 0 };
	put(BLK, &w, sizeof(w));
	cr_assert_eq(fake_hc(MVMM_HC_WRITE, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, 0, "an empty write at the end of memory is fine");
	cr_assert_eq(F.res.hypercalls, 3);
}

Test(dispatch, write_bad_fd)
{
	static const uint32_t fds[] = { 0, 3, 5, 255, UINT32_MAX };
	struct mvmm_hc_write w;
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		w = (struct mvmm_hc_write){ .ret = 7, .fd = fds[i], .buf = BUF, .len = 4 };
		put(BLK, &w, sizeof(w));
		cr_assert_eq(fake_hc(MVMM_HC_WRITE, BLK), EXIT_CONTINUE);
		get(BLK, &w, sizeof(w));
		cr_assert_eq(w.ret, -MVMM_EINVAL, "fd %u: ret %ld", fds[i], (long)w.ret);
	}
	cr_assert_eq(F.res.end, VM_END_NONE);
}

Test(dispatch, write_closed_stream)
{
	struct mvmm_hc_write w = { .fd = 1, .buf = BUF, .len = 4 };

	F.vm.out_fd = -1;
	put(BLK, &w, sizeof(w));
	cr_assert_eq(fake_hc(MVMM_HC_WRITE, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, -MVMM_EIO);
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
	{ 0x7000, 8 },			/* system area below the boot info */
	{ MVMM_GDT_GPA, 16 },
	{ MVMM_PGTABLE_GPA, 8 },	/* page tables */
	{ 0x3ff000, 0x1000 },		/* last page-table page */
	{ 0xfff0, 0x20 },		/* boot info straddling into the page tables */
	{ 0x3ffff8, 16 },		/* page tables straddling into the image */
};

Test(dispatch, write_bad_buffer)
{
	size_t i;

	for (i = 0; i < sizeof(bad_bufs) / sizeof(bad_bufs[0]); i++) {
		struct mvmm_hc_write w = { .ret = 5, .fd = 1, .buf = bad_bufs[i].buf,
					   .len = bad_bufs[i].len };
		char out[16];

		memset(&F.res, 0, sizeof(F.res));
		put(BLK, &w, sizeof(w));
		expect_guest_error(fake_hc(MVMM_HC_WRITE, BLK), "hypercall write");
		cr_assert(strstr(F.res.message, "outside"), "%s", F.res.message);
		cr_assert_eq(drain(F.out[0], out, sizeof(out)), 0, "case %zu wrote", i);
	}
}

Test(dispatch, read_ok_and_bad)
{
	struct mvmm_hc_read r = { .ret = -99, .fd = 0, .buf = BUF, .len = 100 };
	char got[8] = { 0 };
	size_t i;

	cr_assert_eq(write(F.in[1], "input", 5), 5);
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_READ, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 5);
	get(BUF, got, 5);
	cr_assert_str_eq(got, "input");

	r = (struct mvmm_hc_read){ .ret = -99, .fd = 1, .buf = BUF, .len = 1 };
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_READ, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, -MVMM_EINVAL);

	F.vm.in_fd = -1;
	r = (struct mvmm_hc_read){ .ret = -99, .fd = 0, .buf = BUF, .len = 1 };
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_READ, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_eq(r.ret, 0, "no stdin reads as end of file");

	F.vm.in_fd = F.in[0];
	for (i = 0; i < sizeof(bad_bufs) / sizeof(bad_bufs[0]); i++) {
		uint8_t pt[16], pt_after[16];

		memset(&F.res, 0, sizeof(F.res));
		cr_assert_eq(write(F.in[1], "XXXXXXXXXXXXXXXX", 16), 16);
		get(MVMM_PGTABLE_GPA, pt, sizeof(pt));
		r = (struct mvmm_hc_read){ .fd = 0, .buf = bad_bufs[i].buf, .len = bad_bufs[i].len };
		put(BLK, &r, sizeof(r));
		expect_guest_error(fake_hc(MVMM_HC_READ, BLK), "hypercall read");
		get(MVMM_PGTABLE_GPA, pt_after, sizeof(pt_after));
		cr_assert_arr_eq(pt, pt_after, sizeof(pt), "case %zu wrote the page tables", i);
		drain(F.in[0], (char[32]){ 0 }, 32);
	}
}

Test(dispatch, exit_status)
{
	static const struct {
		int64_t status;
		int want;
	} cases[] = { { 0, 0 }, { 42, 42 }, { 255, 255 }, { 256, 0 }, { -1, 255 }, { 0x1234, 0x34 } };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mvmm_hc_exit e = { .status = cases[i].status };

		memset(&F.res, 0, sizeof(F.res));
		put(BLK, &e, sizeof(e));
		cr_assert_eq(fake_hc(MVMM_HC_EXIT, BLK), EXIT_STOP);
		cr_assert_eq(F.res.end, VM_END_EXIT);
		cr_assert_eq(F.res.status, cases[i].want, "exit(%ld) gave %d",
			     (long)cases[i].status, F.res.status);
	}
}

Test(dispatch, clock_and_bootinfo)
{
	struct mvmm_hc_clock c = { .ret = -99 };
	struct mvmm_hc_bootinfo b = { .ret = -99 };
	uint64_t before = vm_now_ns();

	put(BLK, &c, sizeof(c));
	cr_assert_eq(fake_hc(MVMM_HC_CLOCK, BLK), EXIT_CONTINUE);
	get(BLK, &c, sizeof(c));
	cr_assert_eq(c.ret, 0);
	cr_assert(c.ns >= before && c.ns <= vm_now_ns());

	put(BLK, &b, sizeof(b));
	cr_assert_eq(fake_hc(MVMM_HC_BOOTINFO, BLK), EXIT_CONTINUE);
	get(BLK, &b, sizeof(b));
	cr_assert_eq(b.ret, 0);
	cr_assert_eq(b.bootinfo, MVMM_BOOTINFO_GPA);
	cr_assert_eq(b.size, 123);
}

Test(dispatch, wait_without_hook)
{
	struct mvmm_hc_wait w = { .ret = -99 };

	put(BLK, &w, sizeof(w));
	cr_assert_eq(fake_hc(MVMM_HC_WAIT, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, 0);
}

Test(dispatch, abort_message)
{
	static const char msg[] = "bad\x1b[31mthing\x01\xff\n!";
	struct mvmm_hc_abort a = { .msg = BUF, .len = sizeof(msg) - 1 };

	put(BUF, msg, sizeof(msg) - 1);
	put(BLK, &a, sizeof(a));
	cr_assert_eq(fake_hc(MVMM_HC_ABORT, BLK), EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_ABORT);
	cr_assert_str_eq(F.res.message, "bad?[31mthing??\n!");
}

Test(dispatch, abort_long_message_truncated)
{
	struct mvmm_hc_abort a = { .msg = BUF, .len = 100000 };

	memset(F.mem + BUF, 'A', 100000);
	put(BLK, &a, sizeof(a));
	cr_assert_eq(fake_hc(MVMM_HC_ABORT, BLK), EXIT_STOP);
	cr_assert_eq(F.res.end, VM_END_ABORT);
	cr_assert_eq(strlen(F.res.message), sizeof(F.res.message) - 1);
}

Test(dispatch, abort_bad_message)
{
	size_t i;

	for (i = 0; i < sizeof(bad_bufs) / sizeof(bad_bufs[0]); i++) {
		struct mvmm_hc_abort a = { .msg = bad_bufs[i].buf, .len = bad_bufs[i].len };

		memset(&F.res, 0, sizeof(F.res));
		put(BLK, &a, sizeof(a));
		expect_guest_error(fake_hc(MVMM_HC_ABORT, BLK), "hypercall abort");
	}
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
	struct mvmm_hc_write w = { .ret = -99, .fd = 1, .pad = 0xabcd, .buf = BUF, .len = 2 };
	char out[8];

	put(BUF, "ok", 2);
	put(BLK, &w, sizeof(w));
	memset(F.mem + BLK + sizeof(w), 0x5a, 8);
	cr_assert_eq(fake_hc(MVMM_HC_WRITE, BLK), EXIT_CONTINUE);
	get(BLK, &w, sizeof(w));
	cr_assert_eq(w.ret, 2);
	cr_assert_eq(w.pad, 0xabcd);
	cr_assert_eq(w.buf, BUF);
	cr_assert_eq(F.mem[BLK + sizeof(w)], 0x5a, "wrote past the block");
	drain(F.out[0], out, sizeof(out));
}

/* Files: only paths the host exposed, byte for byte; handles checked. */
Test(dispatch, exposed_files_only)
{
	static const char *exposed[] = { "/etc/hostname", NULL };
	const char *paths[] = { "/etc/passwd", "/etc/hostname/", "/etc//hostname", "etc/hostname" };
	struct mvmm_hc_open o;
	struct mvmm_hc_pread r;
	struct mvmm_hc_close c;
	char buf[64];
	size_t i;

	F.vm.exposed = exposed;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		put(BLK + 0x100, paths[i], strlen(paths[i]));
		o = (struct mvmm_hc_open){ .path = BLK + 0x100, .path_len = strlen(paths[i]) };
		put(BLK, &o, sizeof(o));
		cr_assert_eq(fake_hc(MVMM_HC_OPEN, BLK), EXIT_CONTINUE);
		get(BLK, &o, sizeof(o));
		cr_assert_eq(o.ret, -MVMM_ENOENT, "%s opened", paths[i]);
	}
	put(BLK + 0x100, exposed[0], strlen(exposed[0]));
	o = (struct mvmm_hc_open){ .path = BLK + 0x100, .path_len = strlen(exposed[0]) };
	put(BLK, &o, sizeof(o));
	cr_assert_eq(fake_hc(MVMM_HC_OPEN, BLK), EXIT_CONTINUE);
	get(BLK, &o, sizeof(o));
	cr_assert_geq(o.ret, 0);

	r = (struct mvmm_hc_pread){ .handle = o.ret, .buf = BLK + 0x200, .len = sizeof(buf) };
	put(BLK, &r, sizeof(r));
	cr_assert_eq(fake_hc(MVMM_HC_PREAD, BLK), EXIT_CONTINUE);
	get(BLK, &r, sizeof(r));
	cr_assert_gt(r.ret, 0);

	c = (struct mvmm_hc_close){ .handle = o.ret };
	put(BLK, &c, sizeof(c));
	cr_assert_eq(fake_hc(MVMM_HC_CLOSE, BLK), EXIT_CONTINUE);
	get(BLK, &c, sizeof(c));
	cr_assert_eq(c.ret, 0);
	/* closed, out of range, negative: all EBADF, never another fd of the host */
	for (i = 0; i < 3; i++) {
		int64_t h[] = { o.ret, MVMM_OPEN_MAX, -1 };

		r = (struct mvmm_hc_pread){ .handle = h[i], .buf = BLK + 0x200, .len = 8 };
		put(BLK, &r, sizeof(r));
		cr_assert_eq(fake_hc(MVMM_HC_PREAD, BLK), EXIT_CONTINUE);
		get(BLK, &r, sizeof(r));
		cr_assert_eq(r.ret, -MVMM_EBADF);
	}
	F.vm.exposed = NULL;
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
	expect_guest_error(fake_hc(MVMM_HC_EXIT, BLK), "no guest ABI");
}

