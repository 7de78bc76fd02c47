/*
 * test_strace.c: `mvmm run --strace`. The line lx_strace prints for one call, fed fabricated
 * calls over a plain buffer standing in for guest memory (no KVM): argument kinds, strings
 * and buffers cut at 32 bytes, escapes, bad pointers, symbolic flags, errors, unknown
 * numbers, the instance prefix. Then end to end: busybox echo, a program making known calls.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <asm/unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "fakevm.h"
#include "guestabi/lx_int.h"
#include "guestabi/lx_run.h"

/* ---- one line, over a fake VM ----------------------------------------------------------- */

#define MEM  (16ull << 20)
#define STR  0x500000ull /* guest strings and buffers here */
#define STR2 0x510000ull

static struct {
	struct vm vm;
	struct image img;
	uint8_t *mem;
	struct kvm_run *run;
	struct kvm_regs regs;
	struct lx_proc p;
	int in[2], out[2], err[2], trace[2];
} F;

static void fake_setup(void)
{
	memset(&F, 0, sizeof(F));
	F.mem = calloc(1, MEM);
	F.run = calloc(1, 4096);
	cr_assert(F.mem && F.run);
	cr_assert(pipe2(F.in, O_CLOEXEC) == 0 && pipe2(F.out, O_CLOEXEC) == 0 &&
		  pipe2(F.err, O_CLOEXEC) == 0 && pipe2(F.trace, O_CLOEXEC | O_NONBLOCK) == 0);
	fake_vm_init(&F.vm, &F.img, F.mem, MEM, F.run, F.in, F.out, F.err, 0x480000,
		     (char *)"fake");
	F.p.strace = 1;
	F.p.strace_fd = F.trace[1];
	F.vm.lx = &F.p;
}

static void fake_teardown(void)
{
	for (int i = 0; i < 2; i++) {
		close(F.in[i]);
		close(F.out[i]);
		close(F.err[i]);
		if (F.trace[i] >= 0)
			close(F.trace[i]);
	}
	free(F.mem);
	free(F.run);
}

TestSuite(strace_line, .init = fake_setup, .fini = fake_teardown);

static void put(uint64_t gva, const void *data, size_t len)
{
	cr_assert(gva + len <= MEM);
	memcpy(F.mem + gva, data, len);
}

/* The line lx_strace writes for call nr with args a and result ret (the row of nr, if any). */
static char *trace(uint64_t nr, const uint64_t a[6], int64_t ret)
{
	static char line[2048];
	struct lx_call c = {.vm = &F.vm, .p = &F.p, .regs = &F.regs, .nr = nr};
	const struct lx_syscall *sc = nr < LX_NR_LIMIT && lx_table[nr].fn ? &lx_table[nr] : NULL;
	ssize_t n;

	memcpy(c.a, a, sizeof(c.a));
	lx_strace(&c, sc, ret);
	n = read(F.trace[0], line, sizeof(line) - 1);
	cr_assert(n > 0, "no line written");
	line[n] = '\0';
	/* one write per line: nothing more is waiting */
	cr_assert(read(F.trace[0], line + n, 1) < 0 && errno == EAGAIN, "more than one write");
	return line;
}

#define A(...) ((const uint64_t[6]){__VA_ARGS__})

Test(strace_line, openat_read_and_an_error)
{
	put(STR, "/data/x", 8);
	cr_expect_str_eq(
		trace(__NR_openat, A((uint64_t)-100, STR, O_RDONLY | O_CLOEXEC, 0x4242), 3),
		"openat(AT_FDCWD, \"/data/x\", O_RDONLY|O_CLOEXEC) = 3\n");
	put(STR2, "abc\n", 4);
	cr_expect_str_eq(trace(__NR_read, A(3, STR2, 4096), 4), "read(3, \"abc\\n\", 4096) = 4\n");
	put(STR, "/nope", 6);
	cr_expect_str_eq(
		trace(__NR_openat, A((uint32_t)-100, STR, O_RDONLY), -ENOENT),
		"openat(AT_FDCWD, \"/nope\", O_RDONLY) = -1 ENOENT (No such file or directory)\n");
	cr_expect_str_eq(trace(__NR_open, A(STR, O_WRONLY | O_CREAT | O_TRUNC, 0644), -EROFS),
			 "open(\"/nope\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 EROFS (Read-only "
			 "file system)\n");
	cr_expect_str_eq(trace(__NR_openat, A(5, STR, O_RDWR | O_TMPFILE, 0600), 4),
			 "openat(5, \"/nope\", O_RDWR|O_TMPFILE, 0600) = 4\n");
	cr_expect_str_eq(trace(__NR_openat, A(3, STR, O_WRONLY | O_APPEND | 0100000 | O_SYNC), 4),
			 "openat(3, \"/nope\", O_WRONLY|O_APPEND|O_SYNC|O_LARGEFILE) = 4\n");
	cr_expect_str_eq(trace(__NR_close, A(0xffffffff00000003ull), -EBADF),
			 "close(3) = -1 EBADF (Bad file descriptor)\n");
}

Test(strace_line, strings_cut_at_32_bytes)
{
	const char s32[] = "0123456789abcdef0123456789ABCDEF",
		   s33[] = "0123456789abcdef0123456789ABCDEFG";

	put(STR, s32, sizeof(s32));
	cr_expect_str_eq(trace(__NR_unlink, A(STR), 0),
			 "unlink(\"0123456789abcdef0123456789ABCDEF\") = 0\n");
	put(STR2, s33, sizeof(s33));
	cr_expect_str_eq(trace(__NR_unlink, A(STR2), 0),
			 "unlink(\"0123456789abcdef0123456789ABCDEF\"...) = 0\n");
	put(STR, "", 1);
	cr_expect_str_eq(trace(__NR_chdir, A(STR), -ENOENT),
			 "chdir(\"\") = -1 ENOENT (No such file or directory)\n");
}

Test(strace_line, bad_pointers_print_as_addresses)
{
	cr_expect_str_eq(trace(__NR_chdir, A(0), -EFAULT),
			 "chdir(NULL) = -1 EFAULT (Bad address)\n");
	cr_expect_str_eq(trace(__NR_chdir, A(0x10), -EFAULT),
			 "chdir(0x10) = -1 EFAULT (Bad address)\n");
	cr_expect_str_eq(trace(__NR_chdir, A(0xffffffff81000000ull), -EFAULT),
			 "chdir(0xffffffff81000000) = -1 EFAULT (Bad address)\n");
	cr_expect_str_eq(trace(__NR_write, A(1, 0x20000000, 5), -EFAULT),
			 "write(1, 0x20000000, 5) = -1 EFAULT (Bad address)\n");
	/* an unterminated string running into the end of memory */
	memset(F.mem + MEM - 8, 'z', 8);
	cr_expect_str_eq(trace(__NR_chdir, A(MEM - 8), -EFAULT),
			 "chdir(0xfffff8) = -1 EFAULT (Bad address)\n");
	/* a buffer whose first 32 bytes are there but whose length runs past memory */
	memset(F.mem + MEM - 40, 'q', 40);
	cr_expect_str_eq(trace(__NR_write, A(1, MEM - 40, 1ull << 40), -EFAULT),
			 "write(1, \"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\"..., 1099511627776) = -1 "
			 "EFAULT (Bad address)\n");
	cr_expect_str_eq(trace(__NR_write, A(1, MEM - 4, 16), -EFAULT),
			 "write(1, 0xfffffc, 16) = -1 EFAULT (Bad address)\n");
	/* the system area below the image is no program's */
	cr_expect_str_eq(trace(__NR_write, A(1, 0x1000, 4), -EFAULT),
			 "write(1, 0x1000, 4) = -1 EFAULT (Bad address)\n");
}

Test(strace_line, escapes)
{
	static const uint8_t b[] = {1, '\t', '"', '\\', 0x7f, 0xff, 0, '7', 'z', '\r', 0, 'x'};

	put(STR, b, sizeof(b));
	cr_expect_str_eq(trace(__NR_write, A(2, STR, sizeof(b)), (int64_t)sizeof(b)),
			 "write(2, \"\\1\\t\\\"\\\\\\177\\377\\0007z\\r\\0x\", 12) = 12\n");
}

Test(strace_line, buffers_by_the_result)
{
	char big[100];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('A' + i % 26);
	put(STR, big, sizeof(big));
	cr_expect_str_eq(trace(__NR_write, A(1, STR, 100), 100),
			 "write(1, \"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF\"..., 100) = 100\n");
	cr_expect_str_eq(trace(__NR_read, A(0, STR, 4096), 0), "read(0, \"\", 4096) = 0\n");
	cr_expect_str_eq(trace(__NR_read, A(0, STR, 4096), 40),
			 "read(0, \"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF\"..., 4096) = 40\n");
	cr_expect_str_eq(trace(__NR_read, A(9, STR, 4096), -EBADF),
			 "read(9, 0x500000, 4096) = -1 EBADF (Bad file descriptor)\n");
	cr_expect_str_eq(trace(__NR_pread64, A(3, STR, 3, 1ull << 33), 3),
			 "pread64(3, \"ABC\", 3, 8589934592) = 3\n");
	put(STR2, "/proc/self/exe", 15);
	cr_expect_str_eq(trace(__NR_readlink, A(STR2, STR, 4096), 5),
			 "readlink(\"/proc/self/exe\", \"ABCDE\", 4096) = 5\n");
	cr_expect_str_eq(trace(__NR_lseek, A(3, (uint64_t)-5, SEEK_END), 95),
			 "lseek(3, -5, 2) = 95\n");
}

Test(strace_line, memory_calls)
{
	cr_expect_str_eq(
		trace(__NR_mmap,
		      A(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0xffffffff,
			0),
		      0x3efd000),
		"mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = "
		"0x3efd000\n");
	cr_expect_str_eq(
		trace(__NR_mmap,
		      A(0x600000, 4096, PROT_NONE, MAP_SHARED | MAP_FIXED | 0x10000000, 3, 4096),
		      -EINVAL),
		"mmap(0x600000, 4096, PROT_NONE, MAP_SHARED|MAP_FIXED|0x10000000, 3, 0x1000) = "
		"-1 EINVAL (Invalid argument)\n");
	cr_expect_str_eq(
		trace(__NR_mprotect, A(0x600000, 4096, PROT_READ | PROT_EXEC), -EACCES),
		"mprotect(0x600000, 4096, PROT_READ|PROT_EXEC) = -1 EACCES (Permission denied)\n");
	cr_expect_str_eq(trace(__NR_mremap, A(0x600000, 4096, 8192, MREMAP_MAYMOVE, 0), 0x700000),
			 "mremap(0x600000, 4096, 8192, MREMAP_MAYMOVE, NULL) = 0x700000\n");
	cr_expect_str_eq(trace(__NR_brk, A(0), 0x4ac000), "brk(NULL) = 0x4ac000\n");
	cr_expect_str_eq(trace(__NR_arch_prctl, A(0x1002, 0x4ac380), 0),
			 "arch_prctl(ARCH_SET_FS, 0x4ac380) = 0\n");
	cr_expect_str_eq(trace(__NR_pipe2, A(STR, O_CLOEXEC | O_NONBLOCK), 0),
			 "pipe2(0x500000, O_NONBLOCK|O_CLOEXEC) = 0\n");
	cr_expect_str_eq(trace(__NR_pipe2, A(STR, 0), 0), "pipe2(0x500000, 0) = 0\n");
}

Test(strace_line, unknown_numbers_and_odd_results)
{
	cr_expect_str_eq(trace(333, A(1, 2, 3, 4, 5, 6), -ENOSYS),
			 "io_pgetevents(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not "
			 "implemented)\n");
	cr_expect_str_eq(trace(600, A(0), -ENOSYS),
			 "syscall_600(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)\n");
	cr_expect_str_eq(trace(0xffffffff00000001ull, A(0), -ENOSYS),
			 "syscall_18446744069414584321(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not "
			 "implemented)\n");
	cr_expect_str_eq(trace(__NR_exit_group, A(3), LX_STOP), "exit_group(3) = ?\n");
	F.regs.rax = 5;
	cr_expect_str_eq(trace(__NR_rt_sigreturn, A(0), LX_JUMPED), "rt_sigreturn() = 5\n");
	cr_expect_str_eq(trace(__NR_getpid, A(0), -4095), "getpid() = -1 (errno 4095)\n");
	cr_expect_str_eq(trace(__NR_getpid, A(0), -4096), "getpid() = -4096\n");
	cr_expect_str_eq(trace(__NR_getpid, A(0), INT64_MAX), "getpid() = 9223372036854775807\n");
}

Test(strace_line, instance_prefix)
{
	F.p.strace_numbered = 1;
	F.vm.instance = 7;
	cr_expect_str_eq(trace(__NR_getpid, A(0), 1), "[7] getpid() = 1\n");
	F.p.strace_numbered = 0;
	cr_expect_str_eq(trace(__NR_getpid, A(0), 1), "getpid() = 1\n");
}

Test(strace_line, a_closed_trace_fd_is_no_crash)
{
	struct lx_call c = {.vm = &F.vm, .p = &F.p, .regs = &F.regs, .nr = __NR_getpid};

	close(F.trace[0]);
	close(F.trace[1]);
	F.trace[0] = F.trace[1] = -1;
	F.p.strace_fd = -1;
	lx_strace(&c, &lx_table[__NR_getpid], 1);
	F.p.strace_fd = 1000; /* not open */
	lx_strace(&c, &lx_table[__NR_getpid], 1);
}

/* ---- end to end -------------------------------------------------------------------------- */

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

TestSuite(strace, .init = lxt_need_kvm, .timeout = 300);

/* Every line of err is a trace line ("name(...) = ...") or one of mvmm's notes. */
static void expect_only_trace_lines(const char *err)
{
	for (const char *s = err; *s;) {
		const char *nl = strchr(s, '\n');
		int len = nl ? (int)(nl - s) : (int)strlen(s);
		char line[1200];

		snprintf(line, sizeof(line), "%.*s", len, s);
		cr_expect(!strncmp(line, "mvmm: system call ", 18) ||
				  (strchr(line, '(') && strstr(line, ") = ")),
			  "not a trace line: [%s]", line);
		s += len + (nl ? 1 : 0);
	}
}

Test(strace, busybox_echo)
{
	struct t_proc g;

	lxt_guest(&g, ARGS("--strace"), LXT_BUSYBOX, ARGS("echo", "hi"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect_str_eq(g.out, "hi\n");
	cr_expect(strstr(g.err, "write(1, \"hi\\n\", 3) = 3\n"), "stderr:\n%s", g.err);
	cr_expect(strstr(g.err, "exit_group(0) = ?\n"), "stderr:\n%s", g.err);
	cr_expect_eq(lxt_count(g.err, "exit_group("), 1, "stderr:\n%s", g.err);
	expect_only_trace_lines(g.err);
	lxt_expect_no_sanitizer("strace echo", &g);
	t_proc_free(&g);

	/* without --strace: nothing of it */
	lxt_guest(&g, NULL, LXT_BUSYBOX, ARGS("echo", "hi"), NULL, LXT_LIMIT_MS);
	cr_expect(!strstr(g.err, "write(1"), "stderr:\n%s", g.err);
	t_proc_free(&g);
}

Test(strace, known_calls)
{
	static const char *const want[] = {
		"openat(AT_FDCWD, \"/data/x\", O_RDONLY|O_CLOEXEC) = 3\n",
		"read(3, \"abc\\n\", 4096) = 4\n",
		"close(3) = 0\n",
		"openat(AT_FDCWD, \"/nope\", O_RDONLY) = -1 ENOENT (No such file or directory)\n",
		"openat(AT_FDCWD, \"/data/a-path-name-longer-than-th\"..., "
		"O_WRONLY|O_CREAT|O_TRUNC, "
		"0644) = -1 EROFS (Read-only file system)\n",
		"write(1, \"\\1\\t\\\"\\\\z\\0007\", 7) = 7\n",
		"write(1, \"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF\"..., 100) = 100\n",
		"write(1, 0x10, 5) = -1 EFAULT (Bad address)\n",
		"mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x",
		"io_pgetevents(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not "
		"implemented)\n",
		"syscall_600(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)\n",
		"exit_group(4) = ?\n",
	};
	char *d = lxt_tmpdir(), spec[4200];

	lxt_mkfile(d, "x", "abc\n", 4);
	snprintf(spec, sizeof(spec), "%s:/data", d);
	for (size_t k = 0; k < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); k++) {
		char prog[256];
		struct t_proc g;
		const char *at;

		lxt_prog(prog, sizeof(prog), "stracecase", lxt_libcs[k]);
		lxt_guest(&g, ARGS("--strace", "--dir", spec), prog, NULL, NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 4, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		/* in this order */
		at = g.err;
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			const char *hit = strstr(at, want[i]);

			cr_expect(hit, "%s: no [%s] (in order) in:\n%s", prog, want[i], g.err);
			if (hit)
				at = hit + 1;
		}
		expect_only_trace_lines(g.err);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
	lxt_rmtree(d);
}

Test(strace, numbered_instances)
{
	struct t_proc g;

	lxt_guest(&g, ARGS("--strace", "--count", "2"), LXT_BUSYBOX, ARGS("echo", "hi"), NULL,
		  LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "[0] write(1, \"hi\\n\", 3) = 3\n") ||
			  strstr(g.err, "[1] write(1, \"hi\\n\", 3) = 3\n"),
		  "stderr:\n%s", g.err);
	cr_expect_eq(lxt_count(g.err, "] exit_group(0) = ?\n"), 2, "stderr:\n%s", g.err);
	cr_expect(!strstr(g.err, "\nwrite(") && strncmp(g.err, "write(", 6),
		  "a line without its instance:\n%s", g.err);
	lxt_expect_no_sanitizer("strace --count 2", &g);
	t_proc_free(&g);
}
