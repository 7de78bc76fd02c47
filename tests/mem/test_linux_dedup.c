/*
 * test_linux_dedup.c: `mvmm run --dedup` with unmodified Linux programs. Held instances
 * (--hold, at their first read of an empty stdin) get the full dedup pass: busybox shells and
 * tests/linux/dedupzero.c (64 or 1280 identical pages per instance) have pages merged and end
 * with status 0. Memory the program gives back after the merge (munmap then mmap of the same
 * size, small and past the kept-range limit, or madvise(MADV_DONTNEED)) reads as zeros, not as
 * the store's merged page; also with --no-share.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_fleet.h"

#define ARGS LXF_ARGS

TestSuite(linux_dedup, .init = lxt_need_kvm, .timeout = 300);

/* The --stats=json summary's merge counts (with --dedup and --hold). */
static void merged(const struct t_proc *p, long *merged_pages, long *held_saved)
{
	const char *sum = lxf_summary(p->err);

	cr_expect(lxf_json_is(sum, "held", "true"), "%.600s", sum);
	*merged_pages = lxf_json_num(sum, "dedup_merged_pages");
	*held_saved = lxf_json_num(sum, "dedup_held_saved_pages");
}

/* 8 busybox shells held and merged, then released to end of file: status 0, pages merged. */
Test(linux_dedup, busybox_shells_held_and_merged)
{
	struct t_proc g;
	long m, saved;

	lxt_guest(&g, ARGS("--count", "8", "--hold", "--dedup", "--stats=json"), LXT_BUSYBOX,
		  ARGS("sh"), NULL, LXT_LIMIT_MS);
	cr_assert_eq(g.status, 0, "status %d:\n%.3000s", g.status, g.err);
	merged(&g, &m, &saved);
	cr_expect_gt(m, 0, "no page merged:\n%.3000s", g.err);
	cr_expect_gt(saved, 0, "nothing saved at the hold:\n%.3000s", g.err);
	for (unsigned i = 0; i < 8; i++)
		cr_expect(lxf_json_is(lxf_instance_stats(g.err, i), "status", "0"), "%.3000s",
			  g.err);
	lxt_expect_no_sanitizer("busybox sh --dedup", &g);
	t_proc_free(&g);
}

/*
 * dedupzero MODE under --count N --hold --dedup (OPTS added): all print "filled" before the
 * hold and "zero ok" after it, status 0, and at least N x pages were merged.
 */
static void dedupzero(const char *libc, const char *mode, long pages, const char *extra)
{
	enum { N = 8 };
	char prog[256], what[400];
	const char *opts[] = {"--count", "8", "--hold", "--dedup", "--stats=json", extra, NULL};
	struct t_proc g;
	long m, saved;

	lxt_prog(prog, sizeof(prog), "dedupzero", libc);
	snprintf(what, sizeof(what), "%s %s%s%s", prog, mode, extra ? " " : "", extra ? extra : "");
	lxt_guest(&g, opts, prog, ARGS(mode), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "%s: status %d\nstdout:\n%s\nstderr:\n%.3000s", what, g.status,
		     g.out, g.err);
	cr_expect_eq(lxt_count(g.out, "] filled\n"), N, "%s:\n%s", what, g.out);
	cr_expect_eq(lxt_count(g.out, "] zero ok\n"), N,
		     "%s: memory given back did not read zero:\n%s", what, g.out);
	merged(&g, &m, &saved);
	/* every instance's pattern pages are alike: the hold's full pass merges them all */
	cr_expect_geq(m, N * pages, "%s: %ld pages merged, fewer than the %ld filled", what, m,
		      N * pages);
	cr_expect_geq(saved, N * pages - 1, "%s: %ld pages saved at the hold", what, saved);
	lxt_expect_no_sanitizer(what, &g);
	t_proc_free(&g);
}

/* The test program itself: natively, with end of file on stdin, each mode reads zeros. */
Test(linux_dedup, dedupzero_natively)
{
	static const char *const modes[] = {"small", "big", "dontneed"};

	for (size_t l = 0; l < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); l++)
		for (size_t m = 0; m < 3; m++) {
			char prog[256];
			struct t_proc h;

			lxt_prog(prog, sizeof(prog), "dedupzero", lxt_libcs[l]);
			lxt_native(&h, prog, ARGS(modes[m]), NULL, NULL, LXT_LIMIT_MS);
			cr_expect_eq(h.status, 0, "%s %s: %s", prog, modes[m], h.out);
			cr_expect_str_eq(h.out, "filled\nzero ok\n", "%s %s", prog, modes[m]);
			t_proc_free(&h);
		}
}

/* 64 merged pages munmapped, then mmapped again (the range is kept and handed out again). */
Test(linux_dedup, munmap_then_mmap_reads_zero)
{
	dedupzero("musl", "small", 64, NULL);
	dedupzero("glibc", "small", 64, NULL);
}

/* 1280 merged pages (5 MiB, more than mvmm keeps) munmapped, then mmapped again. */
Test(linux_dedup, big_munmap_then_mmap_reads_zero)
{
	dedupzero("musl", "big", 1280, NULL);
	dedupzero("glibc", "big", 1280, NULL);
}

/* MADV_DONTNEED over merged pages: the mapping stays and reads zero. */
Test(linux_dedup, madv_dontneed_reads_zero)
{
	dedupzero("musl", "dontneed", 64, NULL);
	dedupzero("glibc", "dontneed", 64, NULL);
}

/* The same with --no-share (private copies of the image under the merged pages). */
Test(linux_dedup, no_share_merged_pages_read_zero_when_given_back)
{
	dedupzero("musl", "small", 64, "--no-share");
	dedupzero("glibc", "big", 1280, "--no-share");
	dedupzero("musl", "dontneed", 64, "--no-share");
}
