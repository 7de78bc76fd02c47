/*
 * test_harness.c: an example test harness on libmvmm (installed API only): every test case
 * runs in a fresh clone of one template of tests/harness/cases.c, picked by its request.
 */
#include <criterion/criterion.h>
#include <mvmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_ELF (getenv("MVMM_CASES") ? getenv("MVMM_CASES") : "build/tests/harness/cases.elf")

/*
 * Criterion runs each test in a child process: the runtime and template are made there,
 * in .init (KVM objects do not survive fork()). The template boots cases.elf to its
 * mvmm_ready() once; every run below is a clone of it.
 */
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
}

TestSuite(harness, .init = setup, .fini = teardown, .timeout = 300);

/* Runs one case in a fresh clone: args[0] names it; input goes to its stdin. */
static struct mvmm_result *run(const char *const *args, const char *input)
{
	struct mvmm_run_opts o = { .args = args,
				   .input = input,
				   .input_len = input ? strlen(input) : 0,
				   .timeout_ms = 5000 };
	struct mvmm_result *r;

	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	return r;
}

Test(harness, add)
{
	const char *args[] = { "add", "19", "23", NULL };
	struct mvmm_result *r = run(args, NULL);

	cr_expect_eq(r->end, MVMM_END_EXIT, "ended by %s: %s", mvmm_end_name(r->end), r->message);
	cr_expect_eq(r->status, 0);
	cr_expect_str_eq(r->out, "42\n");
	mvmm_result_free(r);
}

Test(harness, strings)
{
	const char *args[] = { "strings", NULL };
	struct mvmm_result *r = run(args, "one\ntwo three\n");

	cr_expect_eq(r->status, 0);
	cr_expect_str_eq(r->out, "ONE\nTWO THREE\n");
	cr_expect_str_eq(r->err, "14 bytes\n");
	mvmm_result_free(r);
}

/* A case that wrecks its memory passes, and the next clone finds the template's state intact. */
Test(harness, corrupt_memory_is_isolated)
{
	const char *corrupt[] = { "corrupt-memory", NULL }, *check[] = { "check", NULL };
	struct mvmm_result *r = run(corrupt, NULL);

	cr_expect_eq(r->status, 0, "corrupt-memory found the state already corrupted");
	mvmm_result_free(r);
	r = run(check, NULL);
	cr_expect_eq(r->status, 0, "a clone saw another clone's writes");
	mvmm_result_free(r);
}

/* A crashing case reports where it crashed, and does not affect the next one. */
Test(harness, fault_is_isolated)
{
	const char *fault[] = { "fault", NULL }, *check[] = { "check", NULL };
	struct mvmm_result *r = run(fault, NULL);

	cr_expect_eq(r->end, MVMM_END_FAULT);
	cr_expect_eq(r->fault.vector, 14);
	cr_expect_eq(r->fault.address, 0x10);
	cr_expect_not_null(r->fault.symbol);
	cr_expect_not_null(strstr(r->fault.report, "=>"));
	mvmm_result_free(r);
	r = run(check, NULL);
	cr_expect_eq(r->status, 0);
	mvmm_result_free(r);
}

/*
 * 10,000 numbered cases, each in its own clone, each checked: it must find the template's
 * state untouched (status 101 otherwise), print its number and exit with it mod 100. Every
 * 500th run is a corrupting or crashing case in between.
 */
Test(harness, ten_thousand_cases)
{
	int i, failures = 0;

	for (i = 0; i < 10000; i++) {
		char num[16], want[32];
		const char *args[] = { "case", num, NULL };
		const char *corrupt[] = { i % 1000 == 250 ? "corrupt-memory" : "fault", NULL };
		struct mvmm_result *r;

		if (i % 500 == 250) {
			r = run(corrupt, NULL);
			mvmm_result_free(r);
		}
		snprintf(num, sizeof(num), "%d", i);
		snprintf(want, sizeof(want), "case %d\n", i);
		r = run(args, NULL);
		if (r->end != MVMM_END_EXIT || r->status != i % 100 || strcmp(r->out, want)) {
			if (failures++ < 5)
				cr_log_error("case %d: %s, status %d, output %s", i,
					     mvmm_end_name(r->end), r->status, r->out);
		}
		mvmm_result_free(r);
	}
	cr_assert_eq(failures, 0, "%d of 10000 cases failed", failures);
}
