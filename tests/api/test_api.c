/* test_api.c: libmvmm's public API, through the installed mvmm.h only (built with pkg-config). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <malloc.h>
#include <mvmm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define API_ASAN 1
#else
#define API_ASAN 0
#endif

/* Guests, relative to the repository root (make test-api runs from there). */
#define CASES_ELF (getenv("MVMM_CASES") ? getenv("MVMM_CASES") : "build/tests/harness/cases.elf")
#define HELLO_ELF "build/guest/hello.elf"
#define ARGS_ELF  "build/guest/args.elf"
#define FAULT_ELF "build/guest/fault.elf"
#define SPIN_ELF  "build/guest/spin.elf"
#define REGS_ELF  "build/tests/guests/regs.elf"

static struct mvmm_runtime *rt;
static struct mvmm_image *img;
static struct mvmm_template *tpl;

static void setup(void)
{
	cr_assert_eq(mvmm_runtime_new(&rt), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(CASES_ELF, 0, &img), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_template_new(rt, img, NULL, 10000, &tpl), 0, "%s", mvmm_last_error());
}

static void teardown(void)
{
	mvmm_template_free(tpl);
	mvmm_image_free(img);
	mvmm_runtime_free(rt);
	tpl = NULL;
	img = NULL;
	rt = NULL;
}

/* Runs case args on tpl; asserts the call itself succeeded. */
static struct mvmm_result *run_case(const char *const *args, uint64_t timeout_ms)
{
	struct mvmm_run_opts o = { .args = args, .timeout_ms = timeout_ms };
	struct mvmm_result *r = NULL;

	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_not_null(r);
	return r;
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 120);

Test(api, run_exit_status_and_output)
{
	const char *args[] = { "add", "2", "40", NULL };
	struct mvmm_result *r = run_case(args, 5000);

	cr_assert_eq(r->end, MVMM_END_EXIT);
	cr_assert_eq(r->status, 0);
	cr_assert_str_eq(r->out, "42\n");
	cr_assert_eq(r->out_len, 3);
	cr_assert_eq(r->err_len, 0);
	cr_assert_str_eq(r->message, "");
	cr_assert_geq(r->stats.hypercalls, 3); /* ready's return, request, write, exit */
	cr_assert_geq(r->stats.exits, r->stats.hypercalls);
	cr_assert_gt(r->stats.first_hypercall_ns, 0);
	cr_assert_geq(r->stats.run_ns, r->stats.first_hypercall_ns);
	cr_assert_eq(r->stats.private_pages, -1);
	cr_assert_geq(r->stats.clone_no, 1);
	mvmm_result_free(r);
}

Test(api, stdin_bytes_and_stderr)
{
	static const char in[] = "hello\nworld, again\n";
	const char *args[] = { "strings", NULL };
	struct mvmm_run_opts o = { .args = args, .input = in, .input_len = sizeof(in) - 1 };
	struct mvmm_result *r;

	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT);
	cr_assert_str_eq(r->out, "HELLO\nWORLD, AGAIN\n");
	cr_assert_str_eq(r->err, "19 bytes\n");
	mvmm_result_free(r);
}

Test(api, output_limit_truncates)
{
	static const char in[] = "abcdefghijklmnopqrstuvwxyz\n";
	const char *args[] = { "strings", NULL };
	struct mvmm_run_opts o = {
		.args = args, .input = in, .input_len = sizeof(in) - 1, .output_limit = 5
	};
	struct mvmm_result *r;

	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT); /* the guest is not told: its writes succeed */
	cr_assert_str_eq(r->out, "ABCDE");
	cr_assert(r->out_truncated);
	cr_assert_str_eq(r->err, "27 by"); /* "27 bytes\n" */
	cr_assert(r->err_truncated);
	mvmm_result_free(r);
}

Test(api, fault_report_is_structured)
{
	const char *args[] = { "fault", NULL };
	struct mvmm_result *r = run_case(args, 5000);

	cr_assert_eq(r->end, MVMM_END_FAULT);
	cr_assert_eq(r->status, -1);
	cr_assert_eq(r->fault.vector, 14);
	cr_assert_eq(r->fault.error_code, 6); /* user write, not present */
	cr_assert_eq(r->fault.address, 0x10);
	cr_assert_neq(r->fault.rip, 0);
	cr_assert_not_null(r->fault.symbol);
	cr_assert(!strcmp(r->fault.symbol, "main") || !strcmp(r->fault.symbol, "case_fault"),
		  "symbol %s", r->fault.symbol);
	cr_assert_not_null(strstr(r->fault.report, "page fault"));
	cr_assert_not_null(strstr(r->fault.report, "=>"));
	mvmm_result_free(r);
}

/* MVMM_RUN_CORE: a faulting clone leaves an ELF core file, mode 0600, never over an old one. */
Test(api, core_file_on_fault)
{
	const char *args[] = { "fault", NULL };
	char dir[] = "/tmp/mvmm-api-core.XXXXXX", path[64];
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000, .flags = MVMM_RUN_CORE };
	struct mvmm_result *r = NULL;
	unsigned char hdr[18];
	struct stat st;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/core", dir);
	o.core_path = path;
	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_FAULT);
	cr_assert_not_null(strstr(r->fault.report, "backtrace:"), "%s", r->fault.report);
	cr_assert_not_null(strstr(r->fault.report, "core file: written to"), "%s", r->fault.report);
	mvmm_result_free(r);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	cr_assert(!memcmp(hdr, "\177ELF", 4));
	cr_assert_eq(hdr[16], 4); /* ET_CORE */
	/* a second fault does not replace it, and says so */
	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_not_null(strstr(r->fault.report, "core file: not written"), "%s", r->fault.report);
	mvmm_result_free(r);
	o.core_path = NULL;
	cr_assert_eq(mvmm_run(tpl, &o, &r), MVMM_ERR_INVAL);
	unlink(path);
	rmdir(dir);
}

Test(api, abort_and_memstat)
{
	const char *args[] = { "abort", NULL }, *corrupt[] = { "corrupt-memory", NULL };
	struct mvmm_run_opts o = { .args = corrupt, .flags = MVMM_RUN_MEMSTAT };
	struct mvmm_result *r = run_case(args, 5000);

	cr_assert_eq(r->end, MVMM_END_ABORT);
	cr_assert_str_eq(mvmm_end_name(r->end), "abort");
	mvmm_result_free(r);
	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->status, 0);
	/* 16 KiB of table and 1 MiB of heap written: at least 256 + 4 private pages. */
	cr_assert_geq(r->stats.private_pages, 260, "%lld", (long long)r->stats.private_pages);
	mvmm_result_free(r);
}

Test(api, run_timeout_then_template_still_good)
{
	const char *spin[] = { "spin", NULL }, *check[] = { "check", NULL };
	struct mvmm_result *r = run_case(spin, 100);

	cr_assert_eq(r->end, MVMM_END_TIMEOUT);
	cr_assert_not_null(strstr(r->message, "100 ms"), "%s", r->message);
	cr_assert_geq(r->stats.run_ns, 100000000ull);
	mvmm_result_free(r);
	r = run_case(check, 5000);
	cr_assert_eq(r->end, MVMM_END_EXIT);
	cr_assert_eq(r->status, 0);
	mvmm_result_free(r);
}

Test(api, clones_are_isolated_and_numbered)
{
	const char *corrupt[] = { "corrupt-memory", NULL }, *fault[] = { "fault", NULL },
		   *check[] = { "check", NULL };
	uint64_t last = 0;
	int i;

	for (i = 0; i < 20; i++) {
		const char *const *a = i % 3 == 0 ? corrupt : i % 3 == 1 ? fault : check;
		struct mvmm_result *r = run_case(a, 5000);

		cr_assert_eq(r->end, a == fault ? MVMM_END_FAULT : MVMM_END_EXIT);
		if (a != fault)
			cr_assert_eq(r->status, 0, "case %s saw an earlier clone's writes", a[0]);
		cr_assert_gt(r->stats.clone_no, last);
		last = r->stats.clone_no;
		mvmm_result_free(r);
	}
}

Test(api, image_from_buffer_and_run_image)
{
	FILE *f = fopen(ARGS_ELF, "rb");
	static char buf[4 << 20];
	size_t n;
	struct mvmm_image *h;
	struct mvmm_result *r;
	const char *argv[] = { "args", "x", "y", NULL };

	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_eq(mvmm_image_load_buffer(buf, n, 16 << 20, &h), 0, "%s", mvmm_last_error());
	memset(buf, 0, n); /* the image copied it */
	cr_assert_eq(mvmm_run_image(rt, h, argv, NULL, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT);
	cr_assert_eq(r->status, 0);
	cr_assert_str_eq(r->out, "args\nx\ny\n");
	cr_assert_eq(r->stats.clone_no, 0);
	mvmm_result_free(r);
	mvmm_image_free(h);
}

/* ---- error paths: each returns its code and names the cause ---- */

Test(errors, null_arguments)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t;
	struct mvmm_result *res = (void *)1;
	const char *args[] = { "x", NULL };
	struct mvmm_run_opts o = { .args = args, .input_len = 3 };

	cr_assert_eq(mvmm_runtime_new(NULL), MVMM_ERR_INVAL);
	cr_assert_not_null(strstr(mvmm_last_error(), "mvmm_runtime_new"));
	cr_assert_eq(mvmm_image_load_file(NULL, 0, &i), MVMM_ERR_INVAL);
	cr_assert_null(i);
	cr_assert_not_null(strstr(mvmm_last_error(), "path"));
	cr_assert_eq(mvmm_image_load_file(HELLO_ELF, 0, NULL), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_image_load_buffer(NULL, 10, 0, &i), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(HELLO_ELF, 0, &i), 0);
	cr_assert_eq(mvmm_template_new(NULL, i, NULL, 0, &t), MVMM_ERR_INVAL);
	cr_assert_null(t);
	cr_assert_not_null(strstr(mvmm_last_error(), "runtime"));
	cr_assert_eq(mvmm_template_new(r, NULL, NULL, 0, &t), MVMM_ERR_INVAL);
	cr_assert_not_null(strstr(mvmm_last_error(), "image"));
	cr_assert_eq(mvmm_template_new(r, i, NULL, 0, NULL), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_run(NULL, NULL, &res), MVMM_ERR_INVAL);
	cr_assert_null(res);
	cr_assert_not_null(strstr(mvmm_last_error(), "template"));
	cr_assert_eq(mvmm_run(NULL, NULL, NULL), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_run_image(r, i, NULL, &o, &res), MVMM_ERR_INVAL); /* input_len, no input */
	cr_assert_not_null(strstr(mvmm_last_error(), "input"));
	cr_assert_eq(mvmm_run_image(NULL, i, NULL, NULL, &res), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_run_image(r, NULL, NULL, NULL, &res), MVMM_ERR_INVAL);
	/* The free functions take NULL. */
	mvmm_result_free(NULL);
	mvmm_template_free(NULL);
	mvmm_image_free(NULL);
	mvmm_runtime_free(NULL);
	mvmm_image_free(i);
	mvmm_runtime_free(r);
	cr_assert_str_eq(mvmm_strerror(MVMM_ERR_INVAL), "invalid argument");
	cr_assert_str_eq(mvmm_strerror(-1000), "unknown error");
	cr_assert_str_eq(mvmm_version(), "0.1.0");
}

Test(errors, bad_path)
{
	struct mvmm_image *i = (void *)1;

	cr_assert_eq(mvmm_image_load_file("build/no/such.elf", 0, &i), MVMM_ERR_IO);
	cr_assert_null(i);
	cr_assert_not_null(strstr(mvmm_last_error(), "build/no/such.elf"), "%s",
			   mvmm_last_error());
	cr_assert_not_null(strstr(mvmm_last_error(), "No such file"), "%s", mvmm_last_error());
}

Test(errors, bad_elf_and_bad_size)
{
	static const char junk[] = "this is not an ELF file at all, not even close........";
	struct mvmm_image *i;

	cr_assert_eq(mvmm_image_load_buffer(junk, sizeof(junk), 0, &i), MVMM_ERR_IMAGE);
	cr_assert_null(i);
	cr_assert_not_null(strstr(mvmm_last_error(), "ELF"), "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file("Makefile", 0, &i), MVMM_ERR_IMAGE);
	cr_assert_not_null(strstr(mvmm_last_error(), "Makefile"), "%s", mvmm_last_error());
	/* a dynamic program is an image too: its loader is in it */
	cr_assert_eq(mvmm_image_load_file("/bin/true", 0, &i), MVMM_OK, "%s", mvmm_last_error());
	mvmm_image_free(i);
	i = NULL;
	cr_assert_eq(mvmm_image_load_file(HELLO_ELF, 4096, &i), MVMM_ERR_IMAGE);
	cr_assert_not_null(strstr(mvmm_last_error(), "memory size"), "%s", mvmm_last_error());
}

/* The huge-page option: 4 KiB on request, a bad value refused; what an image got is reported. */
Test(errors, image_options)
{
	struct mvmm_image_options o = { .mem_size = 32u << 20, .huge_pages = MVMM_HUGE_OFF };
	struct mvmm_image *i = (void *)1;
	uint64_t bytes = 1;

	cr_assert_eq(mvmm_image_load_file_opts(HELLO_ELF, &o, &i), 0, "%s", mvmm_last_error());
	cr_assert_str_eq(mvmm_image_huge_pages(i, &bytes), "4k");
	cr_assert_eq(bytes, 0);
	mvmm_image_free(i);
	o.huge_pages = 7;
	cr_assert_eq(mvmm_image_load_file_opts(HELLO_ELF, &o, &i), MVMM_ERR_INVAL);
	cr_assert_null(i);
	cr_assert_not_null(strstr(mvmm_last_error(), "huge_pages"), "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_buffer_opts("x", 1, &o, &i), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_image_load_file_opts(HELLO_ELF, NULL, &i), 0, "NULL options: defaults");
	cr_assert_not_null(mvmm_image_huge_pages(i, NULL));
	mvmm_image_free(i);
	cr_assert_str_eq(mvmm_image_huge_pages(NULL, &bytes), "?");
}

/* A template from img_path must fail with code, and the message must contain what. */
static void template_fails(const char *img_path, uint64_t timeout_ms, int code, const char *what)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t = (void *)1;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(img_path, 0, &i), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_template_new(r, i, NULL, timeout_ms, &t), code, "%s",
		     mvmm_last_error());
	cr_assert_null(t);
	cr_assert_not_null(strstr(mvmm_last_error(), what), "%s", mvmm_last_error());
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}

Test(errors, never_ready)
{
	template_fails(HELLO_ELF, 5000, MVMM_ERR_NOT_READY, "exited with status 0");
}

Test(errors, template_timeout)
{
	template_fails(SPIN_ELF, 200, MVMM_ERR_TIMEOUT, "within 200 ms");
}

Test(errors, template_fault)
{
	template_fails(FAULT_ELF, 5000, MVMM_ERR_FAULT, "page fault");
}

/* ---- concurrency and leaks ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

struct worker {
	int n, failed;
	unsigned id;
};

static void *worker(void *p)
{
	struct worker *w = p;
	int i;

	for (i = 0; i < w->n; i++) {
		char num[24];
		const char *args[] = { "case", num, NULL };
		struct mvmm_run_opts o = { .args = args, .timeout_ms = 10000 };
		struct mvmm_result *r;
		char want[40];

		snprintf(num, sizeof(num), "%u", w->id * 100000 + (unsigned)i);
		snprintf(want, sizeof(want), "case %s\n", num);
		if (mvmm_run(tpl, &o, &r) < 0) {
			w->failed++;
			continue;
		}
		if (r->end != MVMM_END_EXIT || r->status != (int)((w->id * 100000 + i) % 100) ||
		    strcmp(r->out, want))
			w->failed++;
		mvmm_result_free(r);
	}
	return NULL;
}

/* One whole life: runtime, image, template, threads x n runs, all freed. */
static void life(int threads, int n)
{
	struct worker w[4];
	pthread_t th[4];
	int i, failed = 0;

	setup();
	for (i = 0; i < threads; i++) {
		w[i] = (struct worker){ .n = n, .id = (unsigned)i };
		cr_assert_eq(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].failed;
	}
	teardown();
	cr_assert_eq(failed, 0, "%d of %d runs failed", failed, threads * n);
}

Test(concurrency, two_threads_5000_runs_each_no_leak, .timeout = 600)
{
	int fds, maps;
	size_t heap;

	/* One arena, so that mallinfo2 sees the workers' allocations too. */
	mallopt(M_ARENA_MAX, 1);
	life(2, 20); /* warms what lives on: glibc's thread stack cache, the kick signal handler */
	fds = count_fds();
	maps = count_maps();
	heap = mallinfo2().uordblks;
	life(2, 5000);
	cr_assert_eq(count_fds(), fds, "fds: %d before, %d after", fds, count_fds());
	cr_assert_eq(count_maps(), maps, "mappings: %d before, %d after", maps, count_maps());
	if (!API_ASAN)
		cr_assert_leq(mallinfo2().uordblks, heap + 4096, "heap: %zu bytes before, %zu after",
			      heap, mallinfo2().uordblks);
#if API_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}

/*
 * Isolation between runs that reuse one VM: a case that scribbles over every register class
 * (general, x87, MXCSR, XMM/YMM/ZMM, opmask, GS base) leaves nothing for the next case, which
 * resumes with exactly the template's values (regs.c prints "<class> same" when it does).
 */
static void regs_run(struct mvmm_template *t, const char *what, char *out, size_t cap)
{
	const char *args[] = { what, NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 10000 };
	struct mvmm_result *r = NULL;

	cr_assert_eq(mvmm_run(t, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT, "%s", r->message);
	cr_assert_eq(r->status, 0);
	snprintf(out, cap, "%s", r->out ? r->out : "");
	mvmm_result_free(r);
}

Test(isolation, registers_do_not_leak_between_runs_of_one_vm, .timeout = 60)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t;
	char out[1024];
	int round;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(REGS_ELF, 0, &i), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_template_new(r, i, NULL, 10000, &t), 0, "%s", mvmm_last_error());
	for (round = 0; round < 3; round++) {
		regs_run(t, "read", out, sizeof(out));
		cr_assert(strstr(out, "gpr same") && strstr(out, "x87 same") &&
				  strstr(out, "mxcsr same") && strstr(out, "xmm same"),
			  "round %d:\n%s", round, out);
		cr_assert_null(strstr(out, "DIFFERENT"), "round %d, a register leaked:\n%s", round,
			       out);
		/* the scribbling case changes every class it reports (the check can see a leak) */
		regs_run(t, "write", out, sizeof(out));
		cr_assert_null(strstr(out, " same"), "write left a class unchanged:\n%s", out);
	}
	mvmm_template_free(t);
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}


/*
 * mvmm_runtime_options.seccomp: a thread that runs guests is confined from its first run on;
 * runs keep working, and a system call outside the filter ends the process with status 159.
 */
static long confined_runs(struct mvmm_template *t, int n)
{
	const char *args[] = { "add", "1", "2", NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 10000 };
	long ok = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct mvmm_result *r = NULL;

		if (mvmm_run(t, &o, &r) == 0 && r->end == MVMM_END_EXIT && !strcmp(r->out, "3\n"))
			ok++;
		mvmm_result_free(r);
	}
	return ok;
}

static void *runs_20(void *t)
{
	return (void *)confined_runs(t, 20);
}

static void *run_then_forbidden_call(void *t)
{
	confined_runs(t, 1);
	syscall(SYS_personality, 0xffffffffUL); /* a query: harmless, but not on the list */
	return NULL;
}

Test(isolation, seccomp_option_confines_threads_that_run_guests, .timeout = 120)
{
	int err[2], st = 0;
	char msg[512] = "";
	ssize_t n;
	pid_t pid;

	cr_assert(pipe(err) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct mvmm_runtime_options opts = { .seccomp = 1 };
		struct mvmm_runtime *r;
		struct mvmm_image *i;
		struct mvmm_template *t;
		pthread_t th;
		void *ok = NULL;

		dup2(err[1], 2);
		if (mvmm_runtime_new_opts(&opts, &r) || mvmm_image_load_file(CASES_ELF, 0, &i) ||
		    mvmm_template_new(r, i, NULL, 10000, &t))
			_exit(2);
		if (pthread_create(&th, NULL, runs_20, t) || pthread_join(th, &ok) || (long)ok != 20)
			_exit(3);
		if (pthread_create(&th, NULL, run_then_forbidden_call, t) == 0)
			pthread_join(th, NULL);
		_exit(4);
	}
	close(err[1]);
	while (waitpid(pid, &st, 0) < 0)
		;
	n = read(err[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(err[0]);
	cr_assert(WIFEXITED(st), "status 0x%x: %s", st, msg);
	cr_assert_eq(WEXITSTATUS(st), 159, "status %d: %s", WEXITSTATUS(st), msg);
	cr_assert(strstr(msg, "forbidden system call personality"), "%s", msg);
}

/*
 * ---- Linux programs ----
 * mvmm_image_load_file takes an unmodified static Linux executable (tests/linux/NAME.c, built by
 * tests.mk as build/tests/linux/NAME-musl and NAME-glibc). Its template is frozen at its
 * first read of stdin (tplread.c: after filling a 1 MiB table); each mvmm_run's clone reads
 * opts.input there, then end of file. mvmm_run_image runs one from its entry point.
 */
#define LX_TPLREAD(libc) "build/tests/linux/tplread-" libc
#define LX_HELLO(libc)	 "build/tests/linux/hello-" libc
#define LX_TABLE	 "table: 0cd00000\n" /* tplread's check of its table */

static const char *const lx_libcs[] = { "musl", "glibc" };

static void lx_load(const char *path, struct mvmm_image **i)
{
	cr_assert_eq(access(path, X_OK), 0, "%s missing: make %s", path, path);
	cr_assert_eq(mvmm_image_load_file(path, 0, i), 0, "%s: %s", path, mvmm_last_error());
}

/* Runs a clone of t with input (NULL: none); asserts the call itself succeeded. */
static struct mvmm_result *lx_run(struct mvmm_template *t, const char *input, uint64_t timeout_ms)
{
	struct mvmm_run_opts o = { .input = input, .input_len = input ? strlen(input) : 0,
				   .timeout_ms = timeout_ms };
	struct mvmm_result *r = NULL;

	cr_assert_eq(mvmm_run(t, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_not_null(r);
	return r;
}

/* The 32 hex digits after "random: " in out (tplread's AT_RANDOM bytes), in hex[33]. */
static void lx_random(const char *out, char hex[33])
{
	const char *at = strstr(out, "random: ");

	cr_assert(at && strspn(at + 8, "0123456789abcdef") == 32, "%s", out);
	memcpy(hex, at + 8, 32);
	hex[32] = '\0';
}

TestSuite(api_linux, .timeout = 120);

Test(api_linux, template_clones_read_opts_input)
{
	for (size_t l = 0; l < sizeof(lx_libcs) / sizeof(lx_libcs[0]); l++) {
		char path[64], hex[3][33];
		struct mvmm_runtime *r;
		struct mvmm_image *i;
		struct mvmm_template *t;
		struct mvmm_result *res;
		uint64_t last = 0;

		snprintf(path, sizeof(path), "build/tests/linux/tplread-%s", lx_libcs[l]);
		cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
		lx_load(path, &i);
		cr_assert_eq(mvmm_template_new(r, i, NULL, 10000, &t), 0, "%s: %s", path,
			     mvmm_last_error());
		for (int k = 0; k < 3; k++) {
			/* the third clone gets no input: end of file at its first read */
			res = lx_run(t, k < 2 ? "a\nb\n" : NULL, 10000);
			cr_assert_eq(res->end, MVMM_END_EXIT, "%s: %s", path, res->message);
			cr_assert_eq(res->status, 0);
			if (k < 2)
				cr_assert(!strncmp(res->out, "got: a\ngot: b\n" LX_TABLE,
						   strlen("got: a\ngot: b\n" LX_TABLE)),
					  "%s: %s", path, res->out);
			else
				cr_assert(!strncmp(res->out, LX_TABLE, strlen(LX_TABLE)), "%s: %s",
					  path, res->out);
			/* the template's output before its read ("init ...") is not the clone's */
			cr_assert_str_eq(res->err, "", "%s", path);
			cr_assert_gt(res->stats.clone_no, last);
			last = res->stats.clone_no;
			lx_random(res->out, hex[k]);
			for (int j = 0; j < k; j++)
				cr_assert_str_neq(hex[k], hex[j], "%s: clones share AT_RANDOM",
						  path);
			mvmm_result_free(res);
		}
		mvmm_template_free(t);
		mvmm_image_free(i);
		mvmm_runtime_free(r);
	}
}

/* A clone's exit status, its timeout, and the template still good after both. */
Test(api_linux, clone_status_and_timeout)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t;
	struct mvmm_result *res;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	lx_load(LX_TPLREAD("musl"), &i);
	cr_assert_eq(mvmm_template_new(r, i, NULL, 10000, &t), 0, "%s", mvmm_last_error());
	res = lx_run(t, "exit 9\nnot read\n", 10000);
	cr_assert_eq(res->end, MVMM_END_EXIT);
	cr_assert_eq(res->status, 9);
	cr_assert_str_eq(res->out, "got: exit 9\n");
	mvmm_result_free(res);
	res = lx_run(t, "sleep 10\n", 300);
	cr_assert_eq(res->end, MVMM_END_TIMEOUT, "%s", mvmm_end_name(res->end));
	cr_assert_eq(res->status, -1);
	cr_assert_str_eq(res->out, "got: sleep 10\n");
	cr_assert_not_null(strstr(res->message, "300 ms"), "%s", res->message);
	mvmm_result_free(res);
	res = lx_run(t, "c\n", 10000);
	cr_assert_eq(res->end, MVMM_END_EXIT);
	cr_assert(!strncmp(res->out, "got: c\n" LX_TABLE, strlen("got: c\n" LX_TABLE)), "%s",
		  res->out);
	mvmm_result_free(res);
	mvmm_template_free(t);
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}

/* mvmm_run_image: hello.c from its entry point, argv as given, returns 3. */
Test(api_linux, run_image_of_a_linux_program)
{
	for (size_t l = 0; l < sizeof(lx_libcs) / sizeof(lx_libcs[0]); l++) {
		const char *argv[] = { "hello", "x", "y z", NULL };
		char path[64];
		struct mvmm_runtime *r;
		struct mvmm_image *i;
		struct mvmm_result *res;

		snprintf(path, sizeof(path), "build/tests/linux/hello-%s", lx_libcs[l]);
		cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
		lx_load(path, &i);
		cr_assert_eq(mvmm_run_image(r, i, argv, NULL, &res), 0, "%s", mvmm_last_error());
		cr_assert_eq(res->end, MVMM_END_EXIT, "%s: %s", path, res->message);
		cr_assert_eq(res->status, 3, "%s", path);
		cr_assert_str_eq(res->out, "hello from musl, argc=3 argv0=hello\narg x\narg y z\n",
				 "%s", path);
		cr_assert_str_eq(res->err, "");
		cr_assert_eq(res->stats.clone_no, 0);
		mvmm_result_free(res);
		mvmm_image_free(i);
		mvmm_runtime_free(r);
	}
}

/* mvmm_run_image with input: no template, so the output before the read is the run's. */
Test(api_linux, run_image_reads_opts_input)
{
	static const char in[] = "q\n";
	struct mvmm_run_opts o = { .input = in, .input_len = 2 };
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_result *res;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	lx_load(LX_TPLREAD("glibc"), &i);
	cr_assert_eq(mvmm_run_image(r, i, NULL, &o, &res), 0, "%s", mvmm_last_error());
	cr_assert_eq(res->end, MVMM_END_EXIT, "%s", res->message);
	cr_assert_eq(res->status, 0);
	cr_assert(!strncmp(res->out, "got: q\n" LX_TABLE, strlen("got: q\n" LX_TABLE)), "%s",
		  res->out);
	cr_assert(!strncmp(res->err, "init random: ", 13), "%s", res->err);
	mvmm_result_free(res);
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}

/* A program that exits before it reads stdin has no ready point: MVMM_ERR_NOT_READY. */
Test(api_linux, a_program_that_never_reads_stdin_is_not_a_template)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t = (void *)1;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	lx_load(LX_HELLO("musl"), &i);
	cr_assert_eq(mvmm_template_new(r, i, NULL, 10000, &t), MVMM_ERR_NOT_READY, "%s",
		     mvmm_last_error());
	cr_assert_null(t);
	cr_assert_not_null(strstr(mvmm_last_error(), "status 3"), "%s", mvmm_last_error());
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}

/* One whole life of a Linux program's template: runtime, image, template, n runs, all freed. */
static void lx_life(int n)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	lx_load(LX_TPLREAD("musl"), &i);
	cr_assert_eq(mvmm_template_new(r, i, NULL, 10000, &t), 0, "%s", mvmm_last_error());
	for (int k = 0; k < n; k++) {
		struct mvmm_result *res = lx_run(t, k % 2 ? "x\n" : "exit 4\n", 10000);

		cr_assert_eq(res->end, MVMM_END_EXIT, "run %d: %s", k, res->message);
		cr_assert_eq(res->status, k % 2 ? 0 : 4, "run %d", k);
		mvmm_result_free(res);
	}
	mvmm_template_free(t);
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}

/* A Linux template's clones copy its process state (host fds among it): nothing outlives it. */
Test(api_linux, template_life_leaks_no_fds_mappings_or_memory)
{
	int fds, maps;

	lx_life(20); /* warms what lives on (the kick signal handler, malloc arenas of busy threads) */
	fds = count_fds();
	maps = count_maps();
	lx_life(200);
	cr_assert_eq(count_fds(), fds, "fds: %d before, %d after", fds, count_fds());
	cr_assert_eq(count_maps(), maps, "mappings: %d before, %d after", maps, count_maps());
#if API_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}

/* ---- the log: levels and a handler ---- */

struct log_lines {
	char text[8192];
	int n, max_level;
};

static void log_collect(void *ctx, int level, const char *line)
{
	struct log_lines *l = ctx;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof(l->text) - len, "%s\n", line);
	l->n++;
	if (level > l->max_level)
		l->max_level = level;
}

static void log_make_template(void)
{
	struct mvmm_runtime *r;
	struct mvmm_image *i;
	struct mvmm_template *t;

	cr_assert_eq(mvmm_runtime_new(&r), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(CASES_ELF, 0, &i), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_template_new(r, i, NULL, 10000, &t), 0, "%s", mvmm_last_error());
	mvmm_template_free(t);
	mvmm_image_free(i);
	mvmm_runtime_free(r);
}

Test(api_log, silent_by_default_info_lines_through_the_handler)
{
	struct log_lines l = {.max_level = -1};

	mvmm_set_log_handler(log_collect, &l);
	log_make_template(); /* the default level, warn: the library says nothing */
	cr_expect_eq(l.n, 0, "lines at the default level: %s", l.text);
	mvmm_set_log_level(MVMM_LOG_INFO);
	log_make_template();
	cr_expect(strstr(l.text, "mvmm: info: template: booted to its ready call in "),
		  "no template line: %s", l.text);
	cr_expect_leq(l.max_level, MVMM_LOG_INFO, "%s", l.text);
	mvmm_set_log_level(MVMM_LOG_ERROR);
	l.n = 0;
	log_make_template();
	cr_expect_eq(l.n, 0, "lines at level error: %s", l.text);
	mvmm_set_log_level(99); /* clamped to debug */
	log_make_template();
	cr_expect_gt(l.n, 0);
	mvmm_set_log_handler(NULL, NULL);
	mvmm_set_log_level(MVMM_LOG_WARN);
}
