/* test_run.c: end-to-end runs of the mvmm command: status, output and time. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "load/image.h"
#include "mvmm_abi.h"

#define T_LIMIT_MS 20000 /* per run; the harness kills a run that goes past it */

static void expect_no_sanitizer(const struct t_proc *p)
{
	cr_expect(!strstr(p->err, "AddressSanitizer") && !strstr(p->err, "runtime error") &&
			  !strstr(p->err, "LeakSanitizer"),
		  "sanitizer report:\n%s", p->err);
}

/* The number of lines in s. */
static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(kvm, dev_kvm_usable)
{
	struct kvm_sys kvm;

	t_kvm_open(&kvm);
	cr_assert(kvm.run_size >= 2048);
	kvm_sys_close(&kvm);
	cr_assert_eq(kvm.fd, -1);
}

Test(kvm, advice_for_open_errors)
{
	cr_assert(strstr(kvm_open_advice(ENOENT), "module"));
	cr_assert(strstr(kvm_open_advice(EACCES), "kvm"));
	cr_assert(kvm_open_advice(EIO)[0]);
}

Test(run, hello)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", T_GUEST("hello"));
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, T_HELLO_TEXT), "stdout:\n%s", p.out);
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

Test(run, hello_pie)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", T_HELLO_PIE);
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, T_HELLO_TEXT), "stdout:\n%s", p.out);
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

Test(run, hello_smallest_and_largest_memory)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--mem", "8M", T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "8M: status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, T_HELLO_TEXT));
	t_proc_free(&p);
	T_MVMM(&p, T_LIMIT_MS, "run", "--mem", "1G", T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "1G: status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, T_HELLO_TEXT));
	t_proc_free(&p);
}

Test(run, args)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", T_GUEST("args"), "a", "b c", "d");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "a\nb c\nd\n"), "stdout:\n%s", p.out);
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

Test(run, args_empty_and_many)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", T_GUEST("args"), "", "x", "--timeout", "-");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "\nx\n--timeout\n-\n"), "stdout:\n%s", p.out);
	t_proc_free(&p);
}

Test(run, exit_codes)
{
	static const char *const codes[] = { "0", "1", "42", "255" };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct t_proc p;

		T_MVMM(&p, T_LIMIT_MS, "run", T_GUEST("exitcode"), (char *)codes[i]);
		cr_assert(!p.timed_out);
		cr_expect_eq(p.status, atoi(codes[i]), "exitcode %s gave %d, stderr:\n%s", codes[i],
			     p.status, p.err);
		cr_expect_eq(p.err_len, 0, "exitcode %s: stderr:\n%s", codes[i], p.err);
		t_proc_free(&p);
	}
}

Test(run, fault_report)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", T_GUEST("fault"));
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "page fault") || strstr(p.err, "protection fault") ||
			  strstr(p.err, "invalid opcode"),
		  "no exception name in:\n%s", p.err);
	cr_expect(strstr(p.err, "rip"), "no rip in:\n%s", p.err);
	cr_expect(strstr(p.err, "<main+") || strstr(p.err, "<crash") || strstr(p.err, "<fault"),
		  "no symbol in:\n%s", p.err);
	cr_expect(strstr(p.err, "=>"), "no marked instruction in:\n%s", p.err);
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

Test(run, timeout)
{
	struct t_proc p;

	T_MVMM(&p, 10000, "run", "--timeout", "1", T_GUEST("spin"));
	cr_assert(!p.timed_out, "the harness had to kill it");
	cr_expect_eq(p.status, 124, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(p.secs >= 0.95 && p.secs < 2.0, "took %.3f s", p.secs);
	cr_expect(strstr(p.err, "timeout"), "stderr:\n%s", p.err);
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

Test(run, timeout_fraction)
{
	struct t_proc p;

	T_MVMM(&p, 10000, "run", "--timeout", "0.2", T_GUEST("spin"));
	cr_expect_eq(p.status, 124, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(p.secs >= 0.19 && p.secs < 1.2, "took %.3f s", p.secs);
	t_proc_free(&p);
}

Test(run, timeout_not_reached)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--timeout", "30", T_GUEST("exitcode"), "7");
	cr_expect_eq(p.status, 7, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(p.secs < 5, "took %.3f s", p.secs);
	t_proc_free(&p);
}

/* mvmm's own errors: status 125 and one clear line on stderr. */
static void expect_error(const struct t_proc *p, const char *needle)
{
	cr_expect(!p->timed_out);
	cr_expect_eq(p->status, 125, "status %d, stderr:\n%s", p->status, p->err);
	cr_expect(strstr(p->err, needle), "'%s' not in:\n%s", needle, p->err);
	cr_expect_eq(p->out_len, 0, "stdout:\n%s", p->out);
	expect_no_sanitizer(p);
}

Test(run, bad_elf)
{
	char path[] = "/tmp/mvmm-test-XXXXXX";
	char hdr[64] = "\x7f" "ELF\x01\x01\x01"; /* a 32-bit ELF header */
	int fd = mkstemp(path);
	struct t_proc p;

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
	T_MVMM(&p, T_LIMIT_MS, "run", path);
	unlink(path);
	expect_error(&p, "not a 64-bit ELF");
	cr_expect(strstr(p.err, path), "the message should name the file:\n%s", p.err);
	cr_expect_eq(lines(p.err), 1, "one line, not:\n%s", p.err);
	t_proc_free(&p);
}

Test(run, not_an_elf)
{
	struct t_proc p;

	/* the test's own source: text, not an ELF */
	T_MVMM(&p, T_LIMIT_MS, "run", "tests/cli/test_run.c");
	expect_error(&p, "not an ELF");
	cr_expect_eq(lines(p.err), 1, "one line, not:\n%s", p.err);
	t_proc_free(&p);
}

Test(run, host_dynamic_program_runs)
{
	struct t_proc p;

	/* a dynamically linked host program: its loader and libc come from the host */
	T_MVMM(&p, T_LIMIT_MS, "run", "/bin/false");
	cr_expect_eq(p.status, 1, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_eq(p.err_len, 0, "stderr:\n%s", p.err);
	t_proc_free(&p);
}

Test(run, missing_file)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "build/no/such/guest.elf");
	expect_error(&p, "build/no/such/guest.elf");
	cr_expect(strstr(p.err, "No such file"), "stderr:\n%s", p.err);
	cr_expect_eq(lines(p.err), 1, "one line, not:\n%s", p.err);
	t_proc_free(&p);
}

Test(run, directory_refused)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "tests");
	expect_error(&p, "not a regular file");
	t_proc_free(&p);
}

Test(run, bad_mem)
{
	static const struct {
		const char *mem, *needle;
	} bad[] = {
		{ "3M", "outside 8 MiB" },
		{ "2G", "outside 8 MiB" },
		{ "1025M", "outside 8 MiB" },
		{ "0", "outside 8 MiB" },
		{ "18446744073709551615B", "--mem needs a size" },
		{ "18446744073709551615", "--mem needs a size" }, /* MiB: overflows */
		{ "17592186044415", "outside 8 MiB" },		  /* MiB: 2^64 - 1 MiB wraps */
		{ "4", "outside 8 MiB" },			  /* 4 MiB, not 4 bytes */
		{ "17179869183G", "outside 8 MiB" },
		{ "lots", "--mem needs a size" },
		{ "64Q", "--mem needs a size" },
		{ "", "--mem needs a size" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct t_proc p;

		T_MVMM(&p, T_LIMIT_MS, "run", "--mem", (char *)bad[i].mem, T_GUEST("hello"));
		expect_error(&p, bad[i].needle);
		t_proc_free(&p);
	}
}

/* Guest memory sizes at and beyond the limits, through the library. */
Test(image, mem_size_bounds)
{
	static const uint64_t bad[] = { 0, MVMM_MEM_MIN - 1, MVMM_MEM_MAX + 1, 1ull << 40,
					UINT64_MAX - (1u << 20), UINT64_MAX };
	struct image *img;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		img = image_load_file(T_GUEST("hello"), bad[i]);
		cr_expect_null(img, "mem_size %lu accepted", (unsigned long)bad[i]);
		if (img)
			image_put(img);
		else
			cr_expect(strstr(mvmm_errmsg(), "outside"), "mem_size %lu: %s",
				  (unsigned long)bad[i], mvmm_errmsg());
	}
	img = image_load_file(T_GUEST("hello"), MVMM_MEM_MIN);
	cr_assert(img, "%s", mvmm_errmsg());
	cr_expect_eq(img->mem_size, MVMM_MEM_MIN);
	image_put(img);
	img = image_load_file(T_GUEST("hello"), (9u << 20) + 1);
	cr_assert(img, "%s", mvmm_errmsg());
	cr_expect_eq(img->mem_size, 10u << 20, "rounded up to 2 MiB");
	image_put(img);
	img = image_load_file(T_GUEST("hello"), MVMM_MEM_MAX);
	cr_assert(img, "%s", mvmm_errmsg());
	image_put(img);
}

Test(run, bad_timeout)
{
	static const char *const bad[] = { "0", "-1", "soon", "" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct t_proc p;

		T_MVMM(&p, T_LIMIT_MS, "run", "--timeout", (char *)bad[i], T_GUEST("hello"));
		expect_error(&p, "--timeout");
		t_proc_free(&p);
	}
}

Test(run, usage_errors)
{
	struct t_proc p;
	char *none[] = { (char *)t_mvmm_bin(), NULL };

	t_run(none, T_LIMIT_MS, &p);
	expect_error(&p, "usage");
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "run");
	expect_error(&p, "no guest program");
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "frobnicate");
	expect_error(&p, "unknown command");
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "run", "--bogus", T_GUEST("hello"));
	expect_error(&p, "mvmm run: unknown option '--bogus'");
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "run", "--mem");
	expect_error(&p, "mvmm run: option '--mem' needs a value");
	t_proc_free(&p);
}

Test(run, help)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "--help");
	cr_expect_eq(p.status, 0);
	cr_expect(strstr(p.out, "run"), "stdout:\n%s", p.out);
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "run", "--help");
	cr_expect_eq(p.status, 0);
	cr_expect(strstr(p.out, "--timeout"), "stdout:\n%s", p.out);
	cr_expect(strstr(p.out, "--mem"));
	cr_expect(strstr(p.out, "125"));
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "--version");
	cr_expect_eq(p.status, 0);
	cr_expect(strstr(p.out, "mvmm"));
	t_proc_free(&p);
}

/* Guest output goes to a closed pipe: mvmm must neither die of SIGPIPE nor hang. */
Test(run, stdout_closed, .timeout = 30)
{
	int pfd[2], st;
	pid_t pid;

	cr_assert(pipe(pfd) == 0);
	close(pfd[0]);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl(t_mvmm_bin(), t_mvmm_bin(), "run", T_GUEST("hello"), (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st), "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
