/*
 * test_sdk.c: the SDK is musl plus the <mvmm/...> headers: ordinary C programs (tests/linux/)
 * built with mvmm-cc (NAME-sdk) run under `mvmm run` as the same programs built with musl-gcc
 * -static (NAME-musl) run natively: stdout, stderr and status equal. Also: mvmm-cc's
 * programs run natively too, keep the 2 MiB layout (code and constants below a writable
 * segment that starts on a 2 MiB boundary), build as static PIEs, and a program of the
 * retired SDK is refused with a clear message.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "guestabi/lx_run.h"
#include "load/elfload.h"
#include "mvmm_abi.h"

TestSuite(sdk, .init = lxt_need_kvm, .timeout = 300);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * `mvmm run OPTS NAME-sdk GARGS` against `NAME-musl HARGS` (NULL: GARGS) natively with the
 * environment HENV (NULL: none).
 */
static void sdk_compare_env(const char *name, const char *const *opts, const char *const *gargs,
			    const char *const *hargs, const char *const *henv)
{
	char sdk[256], musl[256], what[600];
	struct t_proc g, h;

	lxt_prog(sdk, sizeof(sdk), name, "sdk");
	lxt_prog(musl, sizeof(musl), name, "musl");
	snprintf(what, sizeof(what), "%s under mvmm vs %s natively", sdk, musl);
	lxt_guest(&g, opts, sdk, gargs, NULL, LXT_LIMIT_MS);
	/* the same argv[0] both ways: programs print it */
	lxt_native_as(&h, musl, sdk, hargs ? hargs : gargs, henv, NULL, LXT_LIMIT_MS);
	lxt_expect_same(what, &g, &h);
	t_proc_free(&g);
	t_proc_free(&h);
}

static void sdk_compare(const char *name, const char *const *opts, const char *const *gargs,
			const char *const *hargs)
{
	sdk_compare_env(name, opts, gargs, hargs, NULL);
}

Test(sdk, ordinary_programs)
{
	sdk_compare("hello", NULL, ARGS("one", "two"), NULL);
	sdk_compare("stdio", NULL, NULL, NULL);
	sdk_compare("mallocs", NULL, NULL, NULL);
	sdk_compare("strmath", NULL, NULL, NULL);
	sdk_compare("fdplay", NULL, NULL, NULL);
	sdk_compare_env("env", ARGS("--env", "A=B"), ARGS("--count", "A", "HOME"), NULL,
			ARGS("A=B"));
}

Test(sdk, clocks)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	sdk_compare("timecheck", NULL, ARGS(now), NULL);
}

/*
 * libc.c: formats, sscanf, strtod, qsort and bsearch, time with TZ unset, getenv, setjmp,
 * heavy realloc, <math.h>, and a file read with fopen/fgets/fread under --dir. Local time
 * with TZ unset is /etc/localtime's zone: the guest gets a copy of the host's at its /etc.
 */
Test(sdk, libc_calls_and_a_file_under_dir)
{
	char *d = lxt_tmpdir(), file[4200], data[4200], etc[4200], zone[PATH_MAX];
	static char text[20000];
	size_t n = 0;

	for (int i = 0; n + 80 < sizeof(text); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "line %d: %s\n", i,
				      i % 3 ? "some words" : "a longer line of text, with commas");
	lxt_mkdir(d, "data");
	lxt_mkdir(d, "etc");
	lxt_mkfile(d, "data/text.txt", text, n);
	if (realpath("/etc/localtime", zone)) {
		FILE *f = fopen(zone, "rb");
		static char buf[1 << 16];
		size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;

		if (f)
			fclose(f);
		lxt_mkfile(d, "etc/localtime", buf, len);
	}
	lxt_path(file, sizeof(file), d, "data/text.txt");
	snprintf(data, sizeof(data), "%s/data:/data", d);
	snprintf(etc, sizeof(etc), "%s/etc:/etc", d);
	sdk_compare("libc", ARGS("--dir", data, "--dir", etc), ARGS("/data/text.txt"),
		    ARGS(file));
	lxt_rmtree(d);
}

Test(sdk, files_under_dir)
{
	char *d = lxt_tmpdir(), spec[4200];

	lxt_mkfile(d, "hello.txt", "hello world\n", 12);
	lxt_mkdir(d, "sub");
	lxt_mkfile(d, "sub/nested.txt", "nested\n", 7);
	lxt_settime(d, "hello.txt", 1600000000);
	lxt_settime(d, "sub/nested.txt", 1600000003);
	snprintf(spec, sizeof(spec), "%s:/data", d);
	sdk_compare("files", ARGS("--dir", spec), ARGS("/data"), ARGS(d));
	lxt_rmtree(d);
}

/* assert() prints musl's message and aborts: status 134 both ways, and mvmm says it aborted. */
Test(sdk, assert_aborts)
{
	char sdk[256], musl[256], *ge;
	struct t_proc g, h;
	const char *note = "mvmm: guest aborted: killed by SIGABRT\n";

	lxt_prog(sdk, sizeof(sdk), "libc", "sdk");
	lxt_prog(musl, sizeof(musl), "libc", "musl");
	lxt_guest(&g, NULL, sdk, ARGS("assert"), NULL, LXT_LIMIT_MS);
	lxt_native(&h, musl, ARGS("assert"), NULL, NULL, LXT_LIMIT_MS);
	cr_expect_eq(h.status, 134, "natively: %d", h.status);
	cr_expect_eq(g.status, 134, "under mvmm: %d, stderr:\n%s", g.status, g.err);
	cr_expect_str_eq(g.out, h.out);
	cr_expect(strstr(h.err, "Assertion failed"), "%s", h.err);
	ge = strstr(g.err, note);
	cr_assert(ge, "no abort note in:\n%s", g.err);
	*ge = '\0';
	cr_expect_str_eq(g.err, h.err);
	t_proc_free(&g);
	t_proc_free(&h);
}

Test(sdk, static_pie)
{
	char musl[256];
	struct t_proc g, h;

	lxt_prog(musl, sizeof(musl), "libc", "musl");
	lxt_guest(&g, NULL, "build/tests/linux/libc-sdk-pie", NULL, NULL, LXT_LIMIT_MS);
	lxt_native(&h, musl, NULL, NULL, NULL, LXT_LIMIT_MS);
	lxt_expect_same("libc-sdk-pie under mvmm vs libc-musl natively", &g, &h);
	t_proc_free(&g);
	t_proc_free(&h);
}

/* An SDK program is an ordinary static Linux program: it runs natively as the musl build does. */
Test(sdk, runs_natively_too)
{
	static const char *const names[] = {"hello", "stdio", "strmath", "mallocs", "libc"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char sdk[256], musl[256];
		struct t_proc a, b;

		lxt_prog(sdk, sizeof(sdk), names[i], "sdk");
		lxt_prog(musl, sizeof(musl), names[i], "musl");
		lxt_native(&a, sdk, NULL, NULL, NULL, LXT_LIMIT_MS);
		lxt_native_as(&b, musl, sdk, NULL, NULL, NULL, LXT_LIMIT_MS);
		cr_expect_eq(a.status, b.status, "%s: %d vs %d", names[i], a.status, b.status);
		cr_expect_str_eq(a.out, b.out, "%s", names[i]);
		cr_expect_str_eq(a.err, b.err, "%s", names[i]);
		t_proc_free(&a);
		t_proc_free(&b);
	}
}

/* Reads and parses path as the VMM would (guests of 64 MiB at the usual base). */
static void sdk_parse(const char *path, struct elfload_program *prog)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 64u << 20, len;
	char *buf = malloc(cap);

	cr_assert(f && buf, "%s", path);
	len = fread(buf, 1, cap, f);
	fclose(f);
	cr_assert_eq(elfload_parse(buf, len, 64u << 20, MVMM_IMAGE_BASE, prog), 0, "%s: %s", path,
		     mvmm_errmsg());
	free(buf);
}

/*
 * The huge-page layout (mvmm.ld): every segment below the first writable one is read-only,
 * and the writable part starts on a 2 MiB boundary, so code and constants fill 2 MiB pages
 * nothing writes. For ET_EXEC and static PIE alike.
 */
Test(sdk, two_mib_layout)
{
	static const char *const progs[] = {
		"build/tests/linux/libc-sdk", "build/tests/linux/libc-sdk-pie",
		"build/guest/hello.elf", "build/guest/density.elf"};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct elfload_program prog;
		uint64_t first_w = UINT64_MAX;

		sdk_parse(progs[i], &prog);
		for (size_t s = 0; s < prog.nsegs; s++)
			if ((prog.segs[s].flags & 2) && prog.segs[s].gpa < first_w)
				first_w = prog.segs[s].gpa;
		cr_assert_neq(first_w, UINT64_MAX, "%s: no writable segment", progs[i]);
		cr_expect_eq(first_w % (2u << 20), 0, "%s: writable data at 0x%lx", progs[i],
			     (unsigned long)first_w);
		for (size_t s = 0; s < prog.nsegs; s++)
			if (!(prog.segs[s].flags & 2))
				cr_expect_leq(prog.segs[s].gpa + prog.segs[s].memsz, first_w,
					      "%s: a read-only segment above the data", progs[i]);
		cr_expect_eq(prog.base, prog.pie ? MVMM_IMAGE_BASE : 0, "%s", progs[i]);
		elfload_free(&prog);
	}
}

/* A program of the retired SDK (its ELF note) is refused before it runs: status 125. */
Test(sdk, old_sdk_program_refused)
{
	struct t_proc p;

	T_MVMM(&p, 20000, "run", T_TEST_GUEST("oldsdk"));
	cr_expect_eq(p.status, 125, "status %d", p.status);
	cr_expect(strstr(p.err, "older mvmm SDK") && strstr(p.err, "rebuild it with mvmm-cc"),
		  "%s", p.err);
	cr_expect_eq(p.out_len, 0, "it ran: %s", p.out);
	t_proc_free(&p);
}
