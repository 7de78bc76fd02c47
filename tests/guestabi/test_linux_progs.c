/*
 * test_linux_progs.c: the C programs of tests/linux/, each built with musl and with glibc
 * (-static), run under `mvmm run` and natively with the same arguments, stdin and
 * environment; stdout, stderr (without mvmm's notes) and status must be equal. stdio,
 * malloc-heavy, string and math, clocks, environment (--env, --env-inherit), files under
 * --dir, argv, odd stdio descriptor games.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_run.h"

TestSuite(linux_progs, .init = lxt_need_kvm, .timeout = 300);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * For both builds of NAME: `mvmm run OPTS NAME GARGS` against `NAME HARGS` (HARGS NULL: GARGS)
 * natively with the environment HENV (NULL: empty).
 */
static void prog_compare(const char *name, const char *const *opts, const char *const *gargs,
			 const char *const *hargs, const char *const *henv, const char *in)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256], what[512];
		struct t_proc g, h;

		lxt_prog(prog, sizeof(prog), name, lxt_libcs[i]);
		snprintf(what, sizeof(what), "%s", prog);
		lxt_guest(&g, opts, prog, gargs, in, LXT_LIMIT_MS);
		lxt_native(&h, prog, hargs ? hargs : gargs, henv, in, LXT_LIMIT_MS);
		lxt_expect_same(what, &g, &h);
		t_proc_free(&g);
		t_proc_free(&h);
	}
}

Test(linux_progs, hello)
{
	prog_compare("hello", NULL, ARGS("one", "two"), NULL, NULL, NULL);
}

Test(linux_progs, stdio_formats)
{
	prog_compare("stdio", NULL, NULL, NULL, NULL, NULL);
}

Test(linux_progs, malloc_heavy)
{
	prog_compare("mallocs", NULL, NULL, NULL, NULL, NULL);
}

Test(linux_progs, string_and_math)
{
	prog_compare("strmath", NULL, NULL, NULL, NULL, NULL);
}

Test(linux_progs, clocks)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	prog_compare("timecheck", NULL, ARGS(now), NULL, NULL, NULL);
}

Test(linux_progs, env_given)
{
	static const char *const env[] = {"A=B", "EMPTY=", "SP=x y=z", NULL};

	prog_compare("env", ARGS("--env", "A=B", "--env", "EMPTY=", "--env", "SP=x y=z"),
		     ARGS("--count", "A", "EMPTY", "SP", "MISSING", "PATH"), NULL, env, NULL);
	prog_compare("env", NULL, ARGS("--count", "A", "HOME", "PATH"), NULL, NULL, NULL);
}

Test(linux_progs, env_inherit)
{
	/* the host environment goes through, an --env wins over it */
	static const char *const names[] = {"MVMM_T_INHERITED", "MVMM_T_OVERRIDDEN", "MVMM_T_GIVEN",
					    "MVMM_T_NEVER", NULL};
	const char *henv[] = {"MVMM_T_INHERITED=from the host", "MVMM_T_OVERRIDDEN=by --env",
			      "MVMM_T_GIVEN=given", NULL};

	cr_assert(setenv("MVMM_T_INHERITED", "from the host", 1) == 0);
	cr_assert(setenv("MVMM_T_OVERRIDDEN", "host value", 1) == 0);
	unsetenv("MVMM_T_NEVER");
	prog_compare("env",
		     ARGS("--env-inherit", "--env", "MVMM_T_OVERRIDDEN=by --env", "--env",
			  "MVMM_T_GIVEN=given"),
		     names, NULL, henv, NULL);
	/* without --env-inherit, nothing of the host's */
	prog_compare("env", NULL, ARGS("--count", "MVMM_T_INHERITED"), NULL, NULL, NULL);
}

/* The tree files.c reads: a text file, a 300 KB binary one, an empty one, a subdirectory, a link.
 */
static char *files_tree(void)
{
	char *d = lxt_tmpdir();
	static char big[300000];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)((i * 2654435761u) >> 13);
	lxt_mkfile(d, "hello.txt", "hello world\n", 12);
	lxt_mkfile(d, "big.bin", big, sizeof(big));
	lxt_mkfile(d, "empty", "", 0);
	lxt_mkdir(d, "sub");
	lxt_mkfile(d, "sub/nested.txt", "nested\n", 7);
	lxt_symlink(d, "link-to-hello", "hello.txt");
	lxt_settime(d, "hello.txt", 1600000000);
	lxt_settime(d, "big.bin", 1600000001);
	lxt_settime(d, "empty", 1600000002);
	lxt_settime(d, "sub/nested.txt", 1600000003);
	return d;
}

Test(linux_progs, files_under_dir)
{
	char *d = files_tree(), spec[4200];

	snprintf(spec, sizeof(spec), "%s:/data", d);
	prog_compare("files", ARGS("--dir", spec), ARGS("/data"), ARGS(d), NULL, NULL);
	/* the same tree at its host path, and read-write */
	prog_compare("files", ARGS("--dir", d), ARGS(d), NULL, NULL, NULL);
	snprintf(spec, sizeof(spec), "%s:/srv/tree:rw", d);
	prog_compare("files", ARGS("--dir", spec), ARGS("/srv/tree"), ARGS(d), NULL, NULL);
	lxt_rmtree(d);
}

Test(linux_progs, files_relative_to_cwd)
{
	char *d = files_tree(), spec[4200];

	snprintf(spec, sizeof(spec), "%s:/data", d);
	/* natively the relative path is resolved from the test's directory: give it the host path
	 */
	prog_compare("files", ARGS("--dir", spec, "--cwd", "/data"), ARGS("."), ARGS(d), NULL,
		     NULL);
	prog_compare("files", ARGS("--dir", spec, "--cwd", "/data/sub"), ARGS(".."), ARGS(d), NULL,
		     NULL);
	lxt_rmtree(d);
}

Test(linux_progs, argv_handling)
{
	static char longarg[20000];

	memset(longarg, 'x', sizeof(longarg) - 1);
	prog_compare("args", NULL, NULL, NULL, NULL, NULL);
	prog_compare("args", NULL,
		     ARGS("", "a b", "tab\there", "quote\"s", "é ü", "-", "--", "--mem"), NULL,
		     NULL, NULL);
	prog_compare("args", NULL, ARGS(longarg, "after"), NULL, NULL, NULL);
	{
		const char *many[200];

		for (int i = 0; i < 199; i++)
			many[i] = i % 2 ? "odd" : "even";
		many[199] = NULL;
		prog_compare("args", NULL, many, NULL, NULL, NULL);
	}
}

Test(linux_progs, stdio_descriptors_in_odd_orders)
{
	prog_compare("fdplay", NULL, NULL, NULL, NULL, NULL);
}

Test(linux_progs, stdin_is_read)
{
	char *d = lxt_tmpdir(), in[4096];

	lxt_mkfile(d, "in.txt", "some input\n", 11);
	lxt_path(in, sizeof(in), d, "in.txt");
	/* fdplay closes its stdin before reading: with input there, still EBADF */
	prog_compare("fdplay", NULL, NULL, NULL, NULL, in);
	lxt_rmtree(d);
}
