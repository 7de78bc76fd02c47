/*
 * test_linux_fleet.c: the fleet options of `mvmm run` with unmodified Linux programs:
 * --hold (every instance held at its first read of an empty stdin, then released to end of
 * file; --stats=json says which were held), --no-share (private copies of the image, also
 * for a template's clones) and --timeout (a program sleeping 10 s, or blocked reading a pipe
 * that never ends, is stopped with status 124).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_fleet.h"

#define ARGS LXF_ARGS

TestSuite(linux_fleet, .init = lxt_need_kvm, .fini = lxf_cleanup, .timeout = 300);

/* Every instance of a --stats=json run ended with an exit of the given status. */
static void expect_instances(const char *what, const struct t_proc *p, unsigned n, int status)
{
	const char *sum = lxf_summary(p->err);
	char st[16];

	snprintf(st, sizeof(st), "%d", status);
	cr_expect_eq(lxf_json_num(sum, "instances"), n, "%s: %.400s", what, sum);
	for (unsigned i = 0; i < n; i++) {
		const char *in = lxf_instance_stats(p->err, i);

		cr_expect(lxf_json_is(in, "end", "\"exit\"") && lxf_json_is(in, "status", st),
			  "%s: instance %u: %.300s", what, i, in);
	}
}

/*
 * Held: all n instances printed their line before the hold (before) ahead of any line after
 * it (after): none was released before every one was held.
 */
static void expect_held(const char *what, const char *out, unsigned n, const char *before,
			const char *after)
{
	const char *first_after = strstr(out, after), *last_before = NULL, *at = out;

	while ((at = strstr(at, before)) != NULL)
		last_before = at++;
	cr_expect_eq(lxt_count(out, before), n, "%s:\n%s", what, out);
	cr_expect_eq(lxt_count(out, after), n, "%s:\n%s", what, out);
	cr_expect(first_after && last_before && last_before < first_after,
		  "%s: an instance went on before all were held:\n%s", what, out);
}

/* 20 busybox shells held at their first read of stdin, released, then ended by end of file. */
Test(linux_fleet, hold_20_busybox_shells)
{
	struct t_proc g;
	const char *sum;

	lxt_guest(&g, ARGS("--count", "20", "--hold", "--stats=json"), LXT_BUSYBOX, ARGS("sh"),
		  NULL, LXT_LIMIT_MS);
	cr_assert_eq(g.status, 0, "status %d:\n%.3000s", g.status, g.err);
	sum = lxf_summary(g.err);
	cr_expect(lxf_json_is(sum, "held", "true"), "%.600s", sum);
	cr_expect(lxf_json_is(sum, "share", "true"), "%.600s", sum);
	expect_instances("busybox sh", &g, 20, 0);
	cr_expect_str_eq(g.out, "");
	lxt_expect_no_sanitizer("--hold", &g);
	t_proc_free(&g);
}

/* 20 instances of a test program held after their initialisation, released together. */
Test(linux_fleet, hold_a_program_after_its_initialisation)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "dedupzero", lxt_libcs[l]);
		lxt_guest(&g, ARGS("--count", "20", "--hold", "--stats=json"), prog, NULL, NULL,
			  LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: status %d:\n%.3000s", prog, g.status, g.err);
		cr_expect(lxf_json_is(lxf_summary(g.err), "held", "true"), "%.600s", g.err);
		expect_held(prog, g.out, 20, "] filled\n", "] zero ok\n");
		expect_instances(prog, &g, 20, 0);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
}

/* A template's clones are held once they have read all of their request, then released together. */
Test(linux_fleet, hold_template_clones_after_their_request)
{
	char prog[256];
	struct t_proc g;

	lxt_prog(prog, sizeof(prog), "tplread", "musl");
	lxt_guest(&g, ARGS("--template", "--ready-on=stdin", "--count", "20", "--hold", "--stats=json"),
		  prog, ARGS("x", "y"), NULL, LXT_LIMIT_MS);
	cr_assert_eq(g.status, 0, "status %d:\n%.3000s", g.status, g.err);
	cr_expect(lxf_json_is(lxf_summary(g.err), "held", "true"), "%.600s", g.err);
	expect_held("template clones", g.out, 20, "] got: y\n", "] table: ");
	lxt_expect_no_sanitizer("--template --hold", &g);
	t_proc_free(&g);
}

/* Without --hold the summary says nothing was held; the instances read end of file at once. */
Test(linux_fleet, without_hold_nothing_is_held)
{
	char prog[256];
	struct t_proc g;

	lxt_prog(prog, sizeof(prog), "dedupzero", "musl");
	lxt_guest(&g, ARGS("--count", "3", "--stats=json"), prog, NULL, NULL, LXT_LIMIT_MS);
	cr_assert_eq(g.status, 0, "status %d:\n%.3000s", g.status, g.err);
	cr_expect(lxf_json_is(lxf_summary(g.err), "held", "false"), "%.600s", g.err);
	expect_instances(prog, &g, 3, 0);
	cr_expect_eq(lxt_count(g.out, "] zero ok\n"), 3, "%s", g.out);
	t_proc_free(&g);
}

/* --no-share: each instance runs on a private copy of the image, with the same results. */
Test(linux_fleet, no_share_runs_private_copies)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256], want[512];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "hello", lxt_libcs[l]);
		lxt_guest(&g, ARGS("--no-share", "--count", "3", "--stats=json"), prog, ARGS("a b"),
			  NULL, LXT_LIMIT_MS);
		/* hello.c returns 3 */
		cr_expect_eq(g.status, 3, "%s: status %d:\n%.3000s", prog, g.status, g.err);
		cr_expect(lxf_json_is(lxf_summary(g.err), "share", "false"), "%.600s", g.err);
		expect_instances(prog, &g, 3, 3);
		snprintf(want, sizeof(want), "hello from musl, argc=2 argv0=%s\narg a b\n", prog);
		for (unsigned i = 0; i < 3; i++) {
			char *mine = lxf_instance(g.out, i);

			cr_expect_str_eq(mine, want, "%s instance %u", prog, i);
			free(mine);
		}
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
}

/* --no-share with --hold and with a template's clones. */
Test(linux_fleet, no_share_with_hold_and_templates)
{
	char prog[256];
	struct t_proc g;

	lxt_guest(&g, ARGS("--no-share", "--count", "4", "--hold", "--stats=json"), LXT_BUSYBOX,
		  ARGS("sh"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d:\n%.3000s", g.status, g.err);
	cr_expect(lxf_json_is(lxf_summary(g.err), "share", "false"), "%.600s", g.err);
	expect_instances("busybox sh --no-share", &g, 4, 0);
	lxt_expect_no_sanitizer("--no-share --hold", &g);
	t_proc_free(&g);

	lxt_prog(prog, sizeof(prog), "tplread", "musl");
	lxt_guest(&g, ARGS("--no-share", "--template", "--ready-on=stdin", "--count", "3"), prog,
		  ARGS("x", "y"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d:\n%.3000s", g.status, g.err);
	for (unsigned i = 0; i < 3; i++) {
		char *mine = lxf_instance(g.out, i);
		static const char want[] = "got: x\ngot: y\n" LXF_TABLE;

		cr_expect(!strncmp(mine, want, strlen(want)), "clone %u:\n%s", i, mine);
		free(mine);
	}
	lxt_expect_no_sanitizer("--no-share --template", &g);
	t_proc_free(&g);
}

/* --timeout 0.5 stops a program sleeping 10 s: status 124, what it printed before kept. */
Test(linux_fleet, timeout_stops_a_sleeping_program)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "sleeper", lxt_libcs[l]);
		lxt_guest(&g, ARGS("--timeout", "0.5"), prog, NULL, NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 124, "%s: status %d:\n%s", prog, g.status, g.err);
		cr_expect_str_eq(g.out, "sleeping\n", "%s", prog);
		cr_expect(strstr(g.err, "timeout"), "%s: %s", prog, g.err);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);

		lxt_guest(&g, ARGS("--timeout", "0.5", "--count", "3", "--no-share"), prog, NULL,
			  NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 124, "%s: status %d:\n%s", prog, g.status, g.err);
		cr_expect_eq(lxt_count(g.out, "] sleeping\n"), 3, "%s:\n%s", prog, g.out);
		cr_expect_null(strstr(g.out, "woke"), "%s:\n%s", prog, g.out);
		cr_expect_eq(lxt_count(g.err, "timeout"), 3, "%s:\n%s", prog, g.err);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
}

/* --timeout also stops a program blocked reading a pipe nobody writes to (busybox cat). */
Test(linux_fleet, timeout_stops_a_blocked_read)
{
	char *d = lxf_tmpdir(), fifo[4096];
	struct t_proc g;
	int keep;

	lxt_path(fifo, sizeof(fifo), d, "fifo");
	cr_assert(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
	/* a writer that never writes: the reader blocks instead of seeing end of file */
	keep = open(fifo, O_RDWR | O_CLOEXEC);
	cr_assert(keep >= 0, "%s: %s", fifo, strerror(errno));
	lxt_guest(&g, ARGS("--timeout", "0.5"), LXT_BUSYBOX, ARGS("cat"), fifo, LXT_LIMIT_MS);
	cr_expect(!g.timed_out, "mvmm run did not stop at its --timeout");
	cr_expect_eq(g.status, 124, "status %d:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "timeout"), "%s", g.err);
	lxt_expect_no_sanitizer("cat", &g);
	t_proc_free(&g);
	close(keep);
	lxf_cleanup();
}
