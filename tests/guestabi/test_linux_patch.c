/*
 * test_linux_patch.c: a `syscall` site that traps often is rewritten into an `out` in the
 * guest's own copy of its code page (vmm/guestabi/lx_entry.c): the program cannot tell (the
 * same results, signals still delivered through it), a cold site is left alone, another
 * instance sharing the image is not changed, and a template frozen at a rewritten read
 * resumes in its clones (tests/linux/hotsite.c, tests/linux/hotread.c).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_run.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

TestSuite(linux_patch, .init = lxt_need_kvm, .timeout = 120);

Test(linux_patch, a_hot_site_becomes_an_out_and_answers_the_same)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256];
		struct t_proc g, h;

		lxt_prog(prog, sizeof(prog), "hotsite", lxt_libcs[l]);
		lxt_guest(&g, NULL, prog, ARGS("40"), NULL, LXT_LIMIT_MS);
		lxt_native(&h, prog, ARGS("40"), NULL, NULL, LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: %d\n%s", prog, g.status, g.err);
		cr_expect_str_eq(g.out, "bad 0 handled 0\nsite e6 f5\n", "%s", prog);
		cr_expect_str_eq(h.out, "bad 0 handled 0\nsite 0f 05\n", "%s natively", prog);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		t_proc_free(&h);
	}
}

Test(linux_patch, a_cold_site_is_left_alone)
{
	char prog[256];
	struct t_proc g;

	lxt_prog(prog, sizeof(prog), "hotsite", "musl");
	lxt_guest(&g, NULL, prog, ARGS("3"), NULL, LXT_LIMIT_MS);
	cr_assert_eq(g.status, 0, "%d\n%s", g.status, g.err);
	cr_expect_str_eq(g.out, "bad 0 handled 0\nsite 0f 05\n");
	t_proc_free(&g);
}

Test(linux_patch, signals_raised_through_a_rewritten_site_are_delivered)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "hotsite", lxt_libcs[l]);
		lxt_guest(&g, NULL, prog, ARGS("40", "signal"), NULL, LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: %d\n%s", prog, g.status, g.err);
		cr_expect_str_eq(g.out, "bad 0 handled 40\nsite e6 f5\n", "%s", prog);
		t_proc_free(&g);
	}
}

/* Instances share the image: one that rewrote its site changes nothing for a cold one. */
Test(linux_patch, a_rewrite_is_the_instances_own)
{
	char prog[256];
	struct t_proc g;

	lxt_prog(prog, sizeof(prog), "hotsite", "musl");
	lxt_guest(&g, ARGS("--count", "2"), prog, ARGS("40"), NULL, LXT_LIMIT_MS);
	cr_assert_eq(g.status, 0, "%d\n%s", g.status, g.err);
	cr_expect_eq(lxt_count(g.out, "site e6 f5\n"), 2, "%s", g.out);
	t_proc_free(&g);
	/* a cold instance of the same image, in the same run */
	lxt_guest(&g, NULL, prog, ARGS("3"), NULL, LXT_LIMIT_MS);
	cr_expect_str_eq(g.out, "bad 0 handled 0\nsite 0f 05\n");
	t_proc_free(&g);
}

/* hotread reads a file byte by byte through read() (its site turns hot), then stdin. */
Test(linux_patch, a_template_frozen_at_a_rewritten_read_resumes)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char *d = lxt_tmpdir(), prog[256], dir[4200];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "hotread", lxt_libcs[l]);
		lxt_mkfile(d, "f", "0123456789abcdefghijklmnopqrstuvwxyz", 36);
		snprintf(dir, sizeof(dir), "%s:/d", d);
		lxt_guest(&g, ARGS("--template", "--ready-on=stdin", "--no-cache", "--count", "2",
				   "--dir", dir),
			  prog, ARGS("one", "two"), NULL, LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: %d\n%s", prog, g.status, g.err);
		cr_expect_eq(lxt_count(g.out, "] read 36 bytes\n"), 0, "%s: template output in "
			     "a clone:\n%s", prog, g.out);
		cr_expect_eq(lxt_count(g.out, "] got: one\n"), 2, "%s:\n%s", prog, g.out);
		cr_expect_eq(lxt_count(g.out, "] got: two\n"), 2, "%s:\n%s", prog, g.out);
		cr_expect_eq(lxt_count(g.err, "read 36 bytes"), 1, "%s:\n%s", prog, g.err);
		t_proc_free(&g);
		lxt_rmtree(d);
	}
}
