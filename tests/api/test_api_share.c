/*
 * test_api_share.c: mvmm.h's sharing calls through the installed header:
 * shared-memory regions between the host program and guests, held runs,
 * and dedup over held runs.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <mvmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define API_ASAN 1
#else
#define API_ASAN 0
#endif

/* The guest, relative to the repository root (make test-api runs from there). */
#define SHARE_ELF "build/tests/guests/apishare.elf"

static struct mvmm_runtime *rt;
static struct mvmm_image *img;
static struct mvmm_template *tpl;

static void setup(void)
{
	cr_assert_eq(mvmm_runtime_new(&rt), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(SHARE_ELF, 0, &img), 0, "%s", mvmm_last_error());
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

TestSuite(api_share, .init = setup, .fini = teardown, .timeout = 120);

/* Runs args on tpl with the regions shm[0..n); asserts the call succeeded. */
static struct mvmm_result *run_with(const char *const *args, struct mvmm_shm *const *shm, size_t n)
{
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000, .flags = MVMM_RUN_SHM,
				   .shm = shm, .nshm = n };
	struct mvmm_result *r = NULL;

	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	return r;
}

/* ---- shared-memory regions ------------------------------------------- */

Test(api_share, shm_host_and_guest_see_each_others_bytes)
{
	const char *args[] = { "shm", "chan", "write", NULL };
	struct mvmm_shm *s;
	struct mvmm_result *r;
	const char *said = "hello from the host";
	char want[64], *p;
	uint64_t size;
	int i;

	cr_assert_eq(mvmm_shm_new("chan", 8192, 0, &s), 0, "%s", mvmm_last_error());
	p = mvmm_shm_host(s, &size);
	cr_assert_not_null(p, "%s", mvmm_last_error());
	cr_assert_eq(size, 8192);
	cr_assert_eq(p[100], 0, "a new region is zero-filled");
	strcpy(p, said);
	/*
	 * Clones one after the other see the same region; enough of them that
	 * some run in a finished clone's VM reused (the pool's fresh shells
	 * run out), whose memory the reset took back to the template's.
	 */
	for (i = 0; i < 40; i++) {
		r = run_with(args, &s, 1);
		cr_assert_eq(r->end, MVMM_END_EXIT, "run %d (clone %lu): %s %s\n%s\nout: %s", i,
			     (unsigned long)r->stats.clone_no, mvmm_end_name(r->end), r->message,
			     r->fault.report ? r->fault.report : "", r->out);
		cr_assert_eq(r->status, 0, "%s", r->out);
		snprintf(want, sizeof(want), "read %s size 8192\n", said);
		cr_assert_str_eq(r->out, want);
		snprintf(want, sizeof(want), "guest %lu was here", (unsigned long)r->stats.clone_no);
		cr_assert_str_eq(p + 4096, want, "the host sees what clone %lu wrote",
				 (unsigned long)r->stats.clone_no);
		mvmm_result_free(r);
		cr_assert_eq(mvmm_shm_attached(s), 0, "a finished run's attachment is gone");
		said = "hello again";
		strcpy(p, said);
	}
	mvmm_shm_free(s);
}

Test(api_share, shm_read_only_for_guests)
{
	const char *args[] = { "shm", "conf", "write", NULL };
	struct mvmm_shm *s;
	struct mvmm_result *r;
	char *p;

	cr_assert_eq(mvmm_shm_new("conf", 4096 * 2, MVMM_SHM_GUEST_RO, &s), 0, "%s",
		     mvmm_last_error());
	p = mvmm_shm_host(s, NULL);
	cr_assert_not_null(p);
	strcpy(p, "settings");
	r = run_with(args, &s, 1);
	/* it read the host's bytes, then its write faulted: the host's page is untouched */
	cr_assert_str_eq(r->out, "read settings size 8192\n");
	cr_assert_eq(r->end, MVMM_END_FAULT, "%s", mvmm_end_name(r->end));
	cr_assert_eq(r->fault.vector, 14);
	cr_assert_eq(p[4096], 0);
	mvmm_result_free(r);
	mvmm_shm_free(s);
}

Test(api_share, shm_only_given_regions_are_found)
{
	const char *args[] = { "shm", "other", NULL };
	struct mvmm_shm *s[2];
	struct mvmm_result *r;

	cr_assert_eq(mvmm_shm_new("one", 4096, 0, &s[0]), 0);
	cr_assert_eq(mvmm_shm_new("other", 4096, 0, &s[1]), 0);
	r = run_with(args, s, 1); /* only "one" */
	cr_assert_eq(r->status, 2, "%s", r->out);
	cr_assert_not_null(strstr(r->out, "attach other: -"), "%s", r->out);
	mvmm_result_free(r);
	r = run_with(args, s, 2);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert_str_eq(r->out, "read  size 4096\n");
	mvmm_result_free(r);
	mvmm_shm_free(s[0]);
	mvmm_shm_free(s[1]);
}

Test(api_share, shm_with_run_image)
{
	const char *argv[] = { "apishare", "shm", "img", NULL };
	struct mvmm_run_opts o = { .timeout_ms = 5000, .flags = MVMM_RUN_SHM, .nshm = 1 };
	struct mvmm_result *r = NULL;
	struct mvmm_shm *s;

	cr_assert_eq(mvmm_shm_new("img", 4096, 0, &s), 0);
	strcpy(mvmm_shm_host(s, NULL), "plain run");
	o.shm = &s;
	cr_assert_eq(mvmm_run_image(rt, img, argv, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert_str_eq(r->out, "read plain run size 4096\n");
	mvmm_result_free(r);
	mvmm_shm_free(s);
}

Test(api_share, shm_bad_arguments)
{
	const char *args[] = { "shm", "x", NULL };
	struct mvmm_run_opts o = { .args = args, .flags = MVMM_RUN_SHM, .nshm = 1 };
	struct mvmm_shm *s = (struct mvmm_shm *)1, *two[2];
	struct mvmm_result *r = (struct mvmm_result *)1;

	cr_assert_eq(mvmm_shm_new("bad name", 4096, 0, &s), MVMM_ERR_INVAL);
	cr_assert_null(s);
	cr_assert_eq(mvmm_shm_new("", 4096, 0, &s), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_shm_new("x", 4095, 0, &s), MVMM_ERR_INVAL);
	cr_assert_not_null(strstr(mvmm_last_error(), "multiple of 4 KiB"), "%s", mvmm_last_error());
	cr_assert_eq(mvmm_shm_new("x", 0, 0, &s), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_shm_new("x", 1024ull << 20, 0, &s), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_shm_new("x", 4096, 0x80, &s), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_shm_new("x", 4096, 0, NULL), MVMM_ERR_INVAL);
	cr_assert_null(mvmm_shm_host(NULL, NULL));
	/* a run given no array, a NULL region, or one name twice is refused before it starts */
	cr_assert_eq(mvmm_run(tpl, &o, &r), MVMM_ERR_INVAL);
	cr_assert_null(r);
	cr_assert_eq(mvmm_shm_new("x", 4096, 0, &two[0]), 0);
	cr_assert_eq(mvmm_shm_new("x", 4096, 0, &two[1]), 0);
	o.shm = two;
	o.nshm = 2;
	cr_assert_eq(mvmm_run(tpl, &o, &r), MVMM_ERR_INVAL);
	cr_assert_not_null(strstr(mvmm_last_error(), "two regions named x"), "%s",
			   mvmm_last_error());
	/* without the flag the fields are not read (callers built before they existed) */
	o.flags = 0;
	o.shm = (struct mvmm_shm *const *)8;
	cr_assert_eq(mvmm_run(tpl, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->status, 2, "no region to find: %s", r->out);
	mvmm_result_free(r);
	mvmm_shm_free(two[0]);
	mvmm_shm_free(two[1]);
	mvmm_shm_free(NULL);
}

/* ---- held runs and dedup --------------------------------------------- */

#define CLONES 4
#define DIRTY  16

/* CLONES held runs of "dirty k", a pass over them; returns its stats. */
static struct mvmm_dedup_stats dedup_clones(const char *k)
{
	const char *args[] = { "dirty", k, NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000 };
	struct mvmm_held *held[CLONES];
	struct mvmm_dedup_stats st;
	struct mvmm_result *r;
	struct mvmm_dedup *d;
	char want[32];
	int i;

	snprintf(want, sizeof(want), "dirtied %s\n", k);
	cr_assert_eq(mvmm_dedup_new(&d), 0, "%s", mvmm_last_error());
	for (i = 0; i < CLONES; i++) {
		cr_assert_eq(mvmm_run_hold(tpl, &o, &r, &held[i]), 0, "%s", mvmm_last_error());
		cr_assert_str_eq(r->out, want);
		mvmm_result_free(r);
		cr_assert_eq(mvmm_dedup_add(d, held[i], 0), 0, "%s", mvmm_last_error());
	}
	cr_assert_eq(mvmm_dedup_add(d, held[0], 0), MVMM_ERR_INVAL, "in a store already");
	cr_assert_eq(mvmm_dedup_pass(d), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_dedup_stats(d, &st, sizeof(st)), 0);
	cr_assert_eq(st.passes, 1);
	for (i = 0; i < CLONES; i++)
		mvmm_held_free(held[i]);
	mvmm_dedup_free(d);
	return st;
}

Test(api_share, dedup_merges_identical_pages_of_held_clones)
{
	/*
	 * The same runs without and with DIRTY identical pages each. Exact:
	 * every store page is held by all CLONES runs (merged = CLONES x store
	 * pages), and saved = merged + zeroed - store. The difference between
	 * the two is those DIRTY pages, CLONES copies of each merged into one
	 * store page, give or take one page of the runs' own that is now and
	 * then all zero (reclaimed as zero instead of merged) in a whole set.
	 */
	struct mvmm_dedup_stats base = dedup_clones("0"), st = dedup_clones("16");
	int64_t merged = (int64_t)(st.merged - base.merged);
	int64_t store = (int64_t)(st.store_pages - base.store_pages);

	cr_assert_eq(st.merged, CLONES * st.store_pages, "merged %lu store %lu",
		     (unsigned long)st.merged, (unsigned long)st.store_pages);
	cr_assert_eq(base.merged, CLONES * base.store_pages);
	cr_assert_eq(st.saved_pages, st.merged + st.zero_reclaimed - st.store_pages);
	cr_assert(merged >= CLONES * (DIRTY - 1) && merged <= CLONES * (DIRTY + 1),
		  "merged %lu, without %lu", (unsigned long)st.merged, (unsigned long)base.merged);
	cr_assert(store >= DIRTY - 1 && store <= DIRTY + 1, "store %lu, without %lu",
		  (unsigned long)st.store_pages, (unsigned long)base.store_pages);
	cr_assert_geq(st.pages_scanned, CLONES * DIRTY);
	cr_assert_gt(st.last_pass_ns, 0);
	cr_assert_eq(st.total_pass_ns, st.last_pass_ns);
}

Test(api_share, held_run_keeps_its_memory_for_memstat)
{
	const char *args[] = { "dirty", "16", NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000, .flags = MVMM_RUN_MEMSTAT };
	struct mvmm_held *h = (struct mvmm_held *)1;
	struct mvmm_result *r;

	cr_assert_eq(mvmm_run_hold(tpl, &o, &r, &h), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->status, 0);
	cr_assert_geq(r->stats.private_pages, DIRTY);
	mvmm_result_free(r);
	mvmm_held_free(h);
	mvmm_held_free(NULL);
	cr_assert_eq(mvmm_run_hold(tpl, &o, &r, NULL), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_run_hold(NULL, &o, &r, &h), MVMM_ERR_INVAL);
	cr_assert_null(h);
}

Test(api_share, dedup_store_freed_before_its_runs)
{
	const char *args[] = { "dirty", "4", NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000 };
	struct mvmm_held *h[2];
	struct mvmm_dedup_stats st;
	struct mvmm_result *r;
	struct mvmm_dedup *d;
	int i;

	cr_assert_eq(mvmm_dedup_new(&d), 0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(mvmm_run_hold(tpl, &o, &r, &h[i]), 0, "%s", mvmm_last_error());
		mvmm_result_free(r);
		cr_assert_eq(mvmm_dedup_add(d, h[i], (unsigned)i), 0);
	}
	cr_assert_eq(mvmm_dedup_pass(d), 0);
	memset(&st, 0xff, sizeof(st));
	/* an older caller's smaller struct: only its fields are written */
	cr_assert_eq(mvmm_dedup_stats(d, &st, 2 * sizeof(uint64_t)), 0);
	cr_assert_eq(st.passes, 1);
	cr_assert_eq(st.merged, UINT64_MAX);
	cr_assert_eq(mvmm_dedup_stats(d, &st, sizeof(st)), 0);
	cr_assert_geq(st.pages_scanned, 2 * 4);
	mvmm_dedup_free(d); /* the runs are detached and stay usable */
	for (i = 0; i < 2; i++)
		mvmm_held_free(h[i]);
	cr_assert_eq(mvmm_dedup_pass(NULL), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_dedup_stats(NULL, &st, sizeof(st)), MVMM_ERR_INVAL);
	mvmm_dedup_free(NULL);
}

/* Under the runtime's seccomp filter for vCPU threads, a guest still attaches a region. */
Test(api_share, shm_under_the_seccomp_filter)
{
	const char *args[] = { "shm", "sec", "write", NULL };
	struct mvmm_runtime_options ro = { .seccomp = 1 };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000, .flags = MVMM_RUN_SHM,
				   .nshm = 1 };
	struct mvmm_runtime *srt;
	struct mvmm_template *st;
	struct mvmm_result *r;
	struct mvmm_shm *s;
	char *p, want[64];
	int i;

	cr_assert_eq(mvmm_runtime_new_opts(&ro, &srt), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_template_new(srt, img, NULL, 10000, &st), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_shm_new("sec", 4096 * 2, 0, &s), 0);
	p = mvmm_shm_host(s, NULL);
	cr_assert_not_null(p);
	strcpy(p, "confined");
	o.shm = &s;
	for (i = 0; i < 2; i++) {
		cr_assert_eq(mvmm_run(st, &o, &r), 0, "%s", mvmm_last_error());
		cr_assert_eq(r->status, 0, "%s %s", mvmm_end_name(r->end), r->out);
		cr_assert_str_eq(r->out, "read confined size 8192\n");
		snprintf(want, sizeof(want), "guest %lu was here", (unsigned long)r->stats.clone_no);
		cr_assert_str_eq(p + 4096, want);
		mvmm_result_free(r);
	}
	mvmm_shm_free(s);
	mvmm_template_free(st);
	mvmm_runtime_free(srt);
}

/* Open fds (the directory stream's own not counted), or lines of /proc/self/maps. */
static int count_proc(const char *what, int lines)
{
	char buf[512];
	int n = 0;

	if (!lines) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;

		cr_assert_not_null(d);
		while ((e = readdir(d)))
			n += e->d_name[0] != '.';
		closedir(d);
		return n - 1;
	}
	FILE *f = fopen("/proc/self/maps", "r");

	cr_assert_not_null(f);
	(void)what;
	while (fgets(buf, sizeof(buf), f))
		n += strchr(buf, '\n') != NULL;
	fclose(f);
	return n;
}

/* One life: a runtime, a template, a region a clone uses, held runs deduplicated; all freed. */
static void share_life(void)
{
	const char *shm_args[] = { "shm", "leak", "write", NULL }, *dirty[] = { "dirty", "8", NULL };
	struct mvmm_run_opts o = { .args = shm_args, .timeout_ms = 5000, .flags = MVMM_RUN_SHM,
				   .nshm = 1 };
	struct mvmm_runtime *lrt;
	struct mvmm_template *lt;
	struct mvmm_held *h[3];
	struct mvmm_result *r;
	struct mvmm_dedup *d;
	struct mvmm_shm *s;
	int i;

	cr_assert_eq(mvmm_runtime_new(&lrt), 0);
	cr_assert_eq(mvmm_template_new(lrt, img, NULL, 10000, &lt), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_shm_new("leak", 64 << 10, 0, &s), 0);
	cr_assert_not_null(mvmm_shm_host(s, NULL));
	o.shm = &s;
	for (i = 0; i < 3; i++) {
		cr_assert_eq(mvmm_run(lt, &o, &r), 0, "%s", mvmm_last_error());
		cr_assert_eq(r->status, 0, "%s", r->out);
		mvmm_result_free(r);
	}
	mvmm_shm_free(s);
	o.flags = 0;
	o.args = dirty;
	cr_assert_eq(mvmm_dedup_new(&d), 0);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(mvmm_run_hold(lt, &o, &r, &h[i]), 0, "%s", mvmm_last_error());
		mvmm_result_free(r);
		cr_assert_eq(mvmm_dedup_add(d, h[i], 0), 0);
	}
	cr_assert_eq(mvmm_dedup_pass(d), 0);
	for (i = 0; i < 3; i++)
		mvmm_held_free(h[i]);
	mvmm_dedup_free(d);
	mvmm_template_free(lt);
	mvmm_runtime_free(lrt);
}

/* No suite set-up here: nothing else of the library lives in the process meanwhile. */
TestSuite(api_share_life, .timeout = 120);

/* Regions, held runs and dedup stores leave no fd and no mapping behind. */
Test(api_share_life, no_fds_or_mappings_left_behind)
{
	int fds, maps, i;

	cr_assert_eq(mvmm_image_load_file(SHARE_ELF, 0, &img), 0, "%s", mvmm_last_error());
	for (i = 0; i < 5; i++) /* warms what lives on (the kick signal handler, malloc arenas) */
		share_life();
	fds = count_proc("fd", 0);
	maps = count_proc("maps", 1);
	for (i = 0; i < 10; i++)
		share_life();
	/* a torn-down VM's last fds may still be closing on a reaper thread: let it finish */
	for (i = 0; i < 100 && (count_proc("fd", 0) != fds || count_proc("maps", 1) > maps); i++)
		usleep(20000);
	cr_assert_eq(count_proc("fd", 0), fds, "fds: %d before, %d after", fds, count_proc("fd", 0));
	/*
	 * Under ASan its quarantine keeps some recently freed large blocks
	 * mapped (a mapping or two more after ten lives, not ten more); the
	 * plain build checks the exact count, LeakSanitizer the heap.
	 */
	cr_assert_leq(count_proc("maps", 1), maps + (API_ASAN ? 4 : 0),
		      "mappings: %d before, %d after", maps, count_proc("maps", 1));
	cr_assert_geq(count_proc("maps", 1), maps - (API_ASAN ? 4 : 0));
	mvmm_image_free(img);
	img = NULL;
#if API_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks");
#endif
}
