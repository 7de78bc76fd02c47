/* test_unit.c: pure logic without KVM: guest address checks, option parsers, vector names, and
 * the exit dispatcher fed fabricated exits. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exit.h"
#include "gmem.h"
#include "hypercall.h"
#include "image.h"
#include "mvmm_abi.h"
#include "vm.h"
#include "x86.h"

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
	cr_assert_null(gmem_user_ptr(&m, 0x7fff, 2), "straddles into the boot info");
	/* Boot info: allowed, wholly. */
	cr_assert_eq(gmem_user_ptr(&m, MVMM_BOOTINFO_GPA, 8), P(MVMM_BOOTINFO_GPA));
	cr_assert_eq(gmem_user_ptr(&m, MVMM_BOOTINFO_GPA, MVMM_BOOTINFO_SIZE),
		     P(MVMM_BOOTINFO_GPA));
	cr_assert_eq(gmem_user_ptr(&m, 0xfff8, 8), P(0xfff8));
	cr_assert_null(gmem_user_ptr(&m, 0xfff8, 9), "straddles into the page tables");
	cr_assert_null(gmem_user_ptr(&m, MVMM_BOOTINFO_GPA, MVMM_BOOTINFO_SIZE + 1));
	/* Page tables up to the image: refused. */
	cr_assert_null(gmem_user_ptr(&m, MVMM_PGTABLE_GPA, 1));
	cr_assert_null(gmem_user_ptr(&m, MVMM_PGTABLE_GPA, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x200000, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x3ffff8, 8));
	cr_assert_null(gmem_user_ptr(&m, 0x3fffff, 1));
	cr_assert_null(gmem_user_ptr(&m, 0x3ffff0, 0x20), "straddles into the image");
	cr_assert_null(gmem_user_ptr(&m, 0xfff8, 0x400000), "spans the page tables");
	cr_assert_null(gmem_user_ptr(&m, MVMM_BOOTINFO_GPA, MEM), "spans the page tables");
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
	cr_assert_null(gmem_user_ptr(&m, UINT64_MAX - 0xfff, 0x1000 + MVMM_BOOTINFO_GPA + 8),
		       "wraps into the boot info");
	cr_assert_null(gmem_user_ptr(&m, MVMM_IMAGE_BASE, UINT64_MAX));
	cr_assert_null(gmem_user_ptr(&m, MVMM_BOOTINFO_GPA, UINT64_MAX - MVMM_BOOTINFO_GPA + 1),
		       "wraps to 0");
	cr_assert_null(gmem_user_ptr(&m, MVMM_BOOTINFO_GPA, UINT64_MAX));
}

/* ---- option parsers ------------------------------------------------------------------- */

Test(cli, parse_size_good)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "64M", 64ull << 20 },	   { "1G", 1ull << 30 },	{ "65536", 65536 },
		{ "512K", 512ull << 10 },  { "512k", 512ull << 10 },	{ "8m", 8ull << 20 },
		{ "2g", 2ull << 30 },	   { "64MiB", 64ull << 20 },	{ "64MB", 64ull << 20 },
		{ "1Gi", 1ull << 30 },	   { "0", 0 },			{ "007", 7 },
		{ "18446744073709551615", UINT64_MAX },		{ "17179869183G", 17179869183ull << 30 },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 12345;

		cr_expect_eq(cli_parse_size(good[i].s, &v), 0, "'%s' refused", good[i].s);
		cr_expect_eq(v, good[i].v, "'%s' gave %lu", good[i].s, (unsigned long)v);
	}
}

Test(cli, parse_size_bad)
{
	static const char *const bad[] = {
		"",	     "M",    "-1",   "+5",  " 64M", "64M ", "64X", "64MM", "64Mx", "abc",
		"0x10",	     "1.5G", "64 M", "1T",  "iB",   "64B",  "64i",  "64MiBB",
		"18446744073709551616", /* 2^64 */
		"17179869184G",		/* 2^64 after the shift */
		"99999999999999999999999999",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 12345;

		cr_expect_eq(cli_parse_size(bad[i], &v), -1, "'%s' accepted as %lu", bad[i],
			     (unsigned long)v);
		cr_expect_eq(v, 12345, "'%s' clobbered the result", bad[i]);
	}
	cr_expect_eq(cli_parse_size(NULL, NULL), -1);
}

Test(cli, parse_seconds_good)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "1", 1000000000ull },	 { "0.5", 500000000ull },  { "2.25", 2250000000ull },
		{ "60", 60000000000ull }, { "0.001", 1000000ull }, { "1e-3", 1000000ull },
		{ "1000000000", 1000000000000000000ull },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t ns = 0;

		cr_expect_eq(cli_parse_seconds(good[i].s, &ns), 0, "'%s' refused", good[i].s);
		/* Binary fractions: allow one nanosecond of rounding. */
		cr_expect(ns + 1 >= good[i].ns && ns <= good[i].ns + 1, "'%s' gave %lu ns",
			  good[i].s, (unsigned long)ns);
	}
}

Test(cli, parse_seconds_bad)
{
	static const char *const bad[] = {
		"",   "0",   "0.0",	 "-1",	  "-0.5", "abc", " 1", "1s", "1 ", "nan", "inf",
		"-inf", "1e10", "1000000001", "1e-10", "1e400", ".",  "1..2",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ns = 777;

		cr_expect_eq(cli_parse_seconds(bad[i], &ns), -1, "'%s' accepted as %lu ns", bad[i],
			     (unsigned long)ns);
	}
	cr_expect_eq(cli_parse_seconds(NULL, NULL), -1);
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
	F.img.memfd = -1;
	F.img.mem_size = MEM;
	F.img.heap_start = 0x800000;
	F.img.heap_end = MEM - MVMM_STACK_SIZE - MVMM_PAGE_SIZE;
	F.img.name = "fake";
	F.img.refs = 1;
	F.vm.img = &F.img;
	F.vm.mem.host = F.mem;
	F.vm.mem.size = MEM;
	F.vm.fd = F.vm.vcpu_fd = -1;
	F.vm.run = F.run;
	F.vm.in_fd = F.in[0];
	F.vm.out_fd = F.out[1];
	F.vm.err_fd = F.err[1];
	F.vm.bootinfo_size = 123;
	for (unsigned i = 0; i < MVMM_OPEN_MAX; i++)
		F.vm.files[i] = -1;
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
