/*
 * test_linux_template.c: `mvmm run --template --ready-on=stdin PROG` with an unmodified Linux
 * program (tests/linux/tplread.c, musl and glibc builds): the program is booted once and
 * frozen at its first read of stdin; every clone re-issues that read. With --count 1 the
 * clone reads mvmm's stdin; with --count N > 1 each clone reads its request (the run's ARGS
 * after PROG, one per line) and then end of file. Clones start from the template's memory
 * (the table it filled, its heap), get fresh AT_RANDOM bytes, end with their own status or at
 * --timeout (snapshots of Linux templates: tests/clone/test_linux_snapshot.c).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_fleet.h"

#define ARGS LXF_ARGS

TestSuite(linux_template, .init = lxt_need_kvm, .fini = lxf_cleanup, .timeout = 300);

#define TPL_OPTS "--template", "--ready-on=stdin"
/* Where the template's boot is counted: never from the image cache (a suite run shares one). */
#define TPL_BOOT_OPTS TPL_OPTS, "--no-cache"

/* dir/in.txt holding text; its path in path. */
static void input_file(const char *dir, const char *text, char *path, size_t cap)
{
	lxt_mkfile(dir, "in.txt", text, strlen(text));
	lxt_path(path, cap, dir, "in.txt");
}

/* "init random: " once in err (the template's boot), and its bytes in hex. */
static void expect_one_boot(const char *what, const struct t_proc *p, char hex[33])
{
	cr_expect_eq(lxt_count(p->err, "init random: "), 1,
		     "%s: the template's initialisation ran %d times, not once:\n%s", what,
		     lxt_count(p->err, "init random: "), p->err);
	cr_expect(lxf_random(p->err, hex) && !lxf_zero_random(hex), "%s: stderr:\n%s", what,
		  p->err);
}

/* The lines of a clone's output after its "got:" lines: the table, random bytes, block. */
static void expect_tail(const char *what, const char *tail, char hex[33], char *block, size_t cap)
{
	const char *b;

	cr_assert(!strncmp(tail, LXF_TABLE, strlen(LXF_TABLE)),
		  "%s: the template's table is not there:\n%s", what, tail);
	cr_assert(lxf_random(tail, hex), "%s: no random line:\n%s", what, tail);
	cr_expect(!lxf_zero_random(hex), "%s: AT_RANDOM is all zero", what);
	b = strstr(tail, "block: ");
	cr_assert(b, "%s: no block line:\n%s", what, tail);
	snprintf(block, cap, "%.*s", (int)strcspn(b, "\n"), b);
}

/* --count 1: the clone reads mvmm's own stdin, to its end, as the program would natively. */
Test(linux_template, count_one_clone_reads_mvmms_stdin)
{
	static const char text[] = "first\nsecond line\n\nlast without newline";
	static const char want[] =
		"got: first\ngot: second line\ngot: \ngot: last without newline\n";

	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char *d = lxf_tmpdir(), prog[256], in[4096], tpl_hex[33], hex[33], block[64];
		struct t_proc g, h;

		lxt_prog(prog, sizeof(prog), "tplread", lxt_libcs[i]);
		input_file(d, text, in, sizeof(in));
		lxt_guest(&g, ARGS(TPL_BOOT_OPTS), prog, NULL, in, LXT_LIMIT_MS);
		lxt_native(&h, prog, NULL, NULL, in, LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: status %d:\n%s", prog, g.status, g.err);
		cr_assert_eq(h.status, 0);
		expect_one_boot(prog, &g, tpl_hex);
		cr_assert(!strncmp(g.out, want, strlen(want)), "%s: stdout:\n%s", prog, g.out);
		expect_tail(prog, g.out + strlen(want), hex, block, sizeof(block));
		/* the same lines as natively, up to the random bytes */
		cr_expect(!strncmp(g.out, h.out, strlen(want) + strlen(LXF_TABLE)),
			  "%s: under mvmm:\n%s\nnatively:\n%s", prog, g.out, h.out);
		cr_expect_str_neq(hex, tpl_hex, "%s: the clone kept the template's AT_RANDOM",
				  prog);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		t_proc_free(&h);
		lxf_cleanup();
	}
}

/*
 * --count 4: each clone reads its request (ARGS, one per line) and then end of file, never
 * mvmm's stdin; all start from one template (one boot, one heap: the same block address) and
 * each has AT_RANDOM bytes of its own.
 */
Test(linux_template, clones_read_their_request_as_stdin)
{
	enum { N = 4 };
	static const char want[] = "got: alpha\ngot: b c\ngot: \ngot: -x --y\n";

	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char *d = lxf_tmpdir(), prog[256], in[4096], tpl_hex[33], hex[N][33], block[N][64];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "tplread", lxt_libcs[l]);
		input_file(d, "NOT THE REQUEST\n", in, sizeof(in));
		lxt_guest(&g, ARGS(TPL_BOOT_OPTS, "--count", "4"), prog,
			  ARGS("alpha", "b c", "", "-x --y"), in, LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: status %d:\n%s", prog, g.status, g.err);
		expect_one_boot(prog, &g, tpl_hex);
		cr_expect_null(strstr(g.out, "NOT THE REQUEST"),
			       "%s: a clone read mvmm's stdin:\n%s", prog, g.out);
		for (unsigned i = 0; i < N; i++) {
			char *mine = lxf_instance(g.out, i), what[300];

			snprintf(what, sizeof(what), "%s clone [%u]", prog, i);
			cr_assert(!strncmp(mine, want, strlen(want)), "%s read:\n%s\n(all:\n%s)",
				  what, mine, g.out);
			expect_tail(what, mine + strlen(want), hex[i], block[i], sizeof(block[i]));
			cr_expect_str_neq(hex[i], tpl_hex, "%s kept the template's AT_RANDOM",
					  what);
			for (unsigned j = 0; j < i; j++) {
				cr_expect_str_neq(hex[i], hex[j],
						  "%s: clones %u and %u share AT_RANDOM", prog, j,
						  i);
				cr_expect_str_eq(block[i], block[j],
						 "%s: clones %u and %u have other heaps", prog, j,
						 i);
			}
			free(mine);
		}
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		lxf_cleanup();
	}
}

/* A clone's exit status is the run's; what follows its exit in the input is never read. */
Test(linux_template, a_clones_status_is_the_runs)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char *d = lxf_tmpdir(), prog[256], in[4096];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "tplread", lxt_libcs[l]);
		input_file(d, "one\nexit 7\nnot read\n", in, sizeof(in));
		lxt_guest(&g, ARGS(TPL_OPTS), prog, NULL, in, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 7, "%s: status %d:\n%s", prog, g.status, g.err);
		cr_expect_str_eq(g.out, "got: one\ngot: exit 7\n", "%s", prog);
		t_proc_free(&g);

		lxt_guest(&g, ARGS(TPL_OPTS, "--count", "3"), prog, ARGS("exit 5", "not read"),
			  NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 5, "%s: status %d:\n%s", prog, g.status, g.err);
		cr_expect_eq(lxt_count(g.out, "] got: exit 5\n"), 3, "%s:\n%s", prog, g.out);
		cr_expect_null(strstr(g.out, "not read"), "%s:\n%s", prog, g.out);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		lxf_cleanup();
	}
}

/* --timeout applies to each clone: one sleeping 10 s is stopped with status 124. */
Test(linux_template, a_clone_is_stopped_at_its_timeout)
{
	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "tplread", lxt_libcs[l]);
		lxt_guest(&g, ARGS(TPL_OPTS, "--count", "2", "--timeout", "0.5"), prog,
			  ARGS("sleep 10", "after"), NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 124, "%s: status %d:\n%s", prog, g.status, g.err);
		cr_expect_eq(lxt_count(g.out, "] got: sleep 10\n"), 2, "%s:\n%s", prog, g.out);
		cr_expect_null(strstr(g.out, "got: after"), "%s:\n%s", prog, g.out);
		cr_expect_eq(lxt_count(g.err, "timeout"), 2, "%s:\n%s", prog, g.err);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
}

/* Without --ready-on=stdin a Linux program has no ready point: the template is refused. */
Test(linux_template, without_ready_on_stdin_there_is_no_ready_point)
{
	char prog[256];
	struct t_proc g;

	lxt_prog(prog, sizeof(prog), "tplread", "musl");
	lxt_guest(&g, ARGS("--template", "--count", "2"), prog, ARGS("x"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 125, "status %d:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "before calling ready"), "%s", g.err);
	cr_expect_null(strstr(g.out, "got: x"), "%s", g.out);
	lxt_expect_no_sanitizer("no --ready-on", &g);
	t_proc_free(&g);
}

/*
 * A program that exits before it reads stdin never gets to its ready point: the run says so
 * and ends with the program's own status (hello.c returns 3), as for an SDK guest.
 */
Test(linux_template, a_program_that_never_reads_stdin_is_refused)
{
	char prog[256];
	struct t_proc g;

	lxt_prog(prog, sizeof(prog), "hello", "musl");
	lxt_guest(&g, ARGS(TPL_OPTS, "--count", "2"), prog, NULL, NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 3, "status %d:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "before calling ready"), "%s", g.err);
	lxt_expect_no_sanitizer("hello as a template", &g);
	t_proc_free(&g);
}

/*
 * Clones of a template that holds a pipe and an open file each get their own: what one clone
 * writes into the pipe no other reads, and each reads the file from the template's offset.
 */
Test(linux_template, clones_have_their_own_pipes_and_file_offsets)
{
	static const char want[] = "get: pre\nx\n|\nget: empty|\nfile: 4 abcd\nfile: 4 efgh\n";

	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++) {
		char *d = lxf_tmpdir(), prog[256], dir[4200];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "tplshare", lxt_libcs[l]);
		lxt_mkfile(d, "f", "abcdefgh", 8);
		snprintf(dir, sizeof(dir), "%s:/d", d);
		lxt_guest(&g, ARGS(TPL_OPTS, "--count", "3", "--dir", dir), prog,
			  ARGS("put x", "get", "get", "file", "file"), NULL, LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "%s: status %d:\n%s", prog, g.status, g.err);
		for (unsigned i = 0; i < 3; i++) {
			char *mine = lxf_instance(g.out, i);

			cr_expect_str_eq(mine, want, "%s clone [%u] (all:\n%s)", prog, i, g.out);
			free(mine);
		}
		t_proc_free(&g);
		lxf_cleanup();
	}
}
