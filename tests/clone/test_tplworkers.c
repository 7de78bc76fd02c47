/*
 * test_tplworkers.c: --template fleets past --per-process are spread over worker processes
 * that clone from the one frozen memfd made before they fork: every instance runs once with
 * its own clone number, output prefixes and statuses are as in one process, and the frozen
 * pages are one copy however many workers map them (PSS summed over the workers).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define TPLSHARE    T_TEST_GUEST("tplshare")
#define SERVED	    T_TEST_GUEST("served")
#define TABLE_KIB   (16u << 10) /* tplshare.c's table */
#define TABLE_SUM   524288ul /* its pages' first bytes, (i | 1) & 0xff for i < 4096 */
#define T_FLEET_MS  150000
#define T_LIMIT_MS  60000

/*
 * Checks stdout of N clones of tplshare.elf given request word: one line per instance,
 * "[i] clone K: word sum S", every i and every K (1..N) once.
 */
static void check_clone_lines(char *out, unsigned n, const char *word, unsigned long sum)
{
	unsigned char *seen = calloc(n, 1), *clones = calloc(n + 1, 1);
	char *line, *save = NULL;
	unsigned lines = 0;

	cr_assert(seen && clones);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char w[64];
		unsigned long i, k, s;

		lines++;
		cr_assert_eq(sscanf(line, "[%lu] clone %lu: %63s sum %lu", &i, &k, w, &s), 4,
			     "line %u: '%s'", lines, line);
		cr_assert(i < n && k >= 1 && k <= n, "line %u: '%s'", lines, line);
		cr_assert_str_eq(w, word, "line %u: '%s'", lines, line);
		cr_assert_eq(s, sum, "line %u: '%s'", lines, line);
		cr_assert(!seen[i]++, "instance %lu printed twice", i);
		cr_assert(!clones[k]++, "clone number %lu twice", k);
	}
	cr_expect_eq(lines, n, "%u lines of %u", lines, n);
	free(seen);
	free(clones);
}

/* The distinct worker pids of `-vv` log lines "fleet: worker W (pid P): ...". */
static unsigned count_worker_pids(const char *err)
{
	int pids[1024];
	unsigned n = 0, i;
	const char *at = err;

	while ((at = strstr(at, "fleet: worker "))) {
		unsigned w;
		int pid;

		if (sscanf(at, "fleet: worker %u (pid %d)", &w, &pid) == 2) {
			for (i = 0; i < n && pids[i] != pid; i++)
				;
			if (i == n && n < 1024)
				pids[n++] = pid;
		}
		at++;
	}
	return n;
}

/* A value of the --stats=json summary line. */
static unsigned long json_ul(const char *text, const char *key)
{
	char pat[64];
	const char *at;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = strstr(text, pat);
	cr_assert(at, "no %s in:\n%.3000s", key, text);
	return strtoul(at + strlen(pat), NULL, 10);
}

Test(tplworkers, two_thousand_held_clones_spread_over_workers, .timeout = 200)
{
	enum { N = 2000, PER = 50 };
	struct t_proc p;
	char line[128];

	T_MVMM(&p, T_FLEET_MS, "run", "-vv", "--template", "--count", "2000", "--hold", TPLSHARE,
	       "hello");
	cr_assert(!p.timed_out, "timed out after %.1f s", p.secs);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%.3000s", p.status, p.err);
	snprintf(line, sizeof(line), "fleet: %u instances over %u worker processes of at most %u",
		 N, N / PER, PER);
	cr_expect(strstr(p.err, line), "no '%s' in stderr:\n%.3000s", line, p.err);
	cr_expect_eq(count_worker_pids(p.err), N / PER, "stderr:\n%.3000s", p.err);
	cr_expect(!strstr(p.err, "AddressSanitizer") && !strstr(p.err, "runtime error"),
		  "%.3000s", p.err);
	check_clone_lines(p.out, N, "hello", 0);
	cr_log_info("2,000 held template clones over %u workers in %.2f s", N / PER, p.secs);
	t_proc_free(&p);
}

/* RSS and PSS summed over 12 clones of tplshare in 3 workers, held, given the request word. */
static void held_memory(char *word, unsigned long *rss, unsigned long *pss)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "-v", "--template", "--count", "12", "--per-process", "4",
	       "--hold", "--stats=json", TPLSHARE, word);
	cr_assert(!p.timed_out);
	cr_assert_eq(p.status, 0, "status %d, stderr:\n%.3000s", p.status, p.err);
	cr_expect(strstr(p.err, "fleet: 12 instances over 3 worker processes"), "%.3000s", p.err);
	check_clone_lines(p.out, 12, word, strcmp(word, "touch") ? 0 : TABLE_SUM);
	*rss = json_ul(p.err, "rss_kib");
	*pss = json_ul(p.err, "pss_kib");
	t_proc_free(&p);
}

/*
 * 12 clones over 3 workers each read every page of the template's 16 MiB table, against
 * 12 that do not: RSS grows by the table once per VM (12 times), PSS by about one table.
 * A copy per worker would add 48 MiB. (Differences: the sanitizers' own memory cancels.)
 */
Test(tplworkers, frozen_pages_are_one_copy_across_workers, .timeout = 120)
{
	unsigned long rss0, pss0, rss, pss;

	held_memory("plain", &rss0, &pss0);
	held_memory("touch", &rss, &pss);
	cr_expect_geq(rss, rss0 + 12ul * TABLE_KIB * 9 / 10,
		      "RSS %lu KiB against %lu: not every clone mapped the table", rss, rss0);
	cr_expect_lt(pss, pss0 + 2ul * TABLE_KIB,
		     "PSS %lu KiB against %lu: the table is not one copy", pss, pss0);
	cr_log_info("12 clones over 3 workers: RSS %lu KiB (%lu untouched), PSS %lu KiB (%lu)",
		    rss, rss0, pss, pss0);
}

/* Prefixes on both streams and the status, as for a fleet in one process. */
Test(tplworkers, output_prefixes_and_status_as_in_one_process, .timeout = 120)
{
	struct t_proc p;
	unsigned i;

	T_MVMM(&p, T_LIMIT_MS, "run", "--template", "--count", "30", "--per-process", "10",
	       SERVED, "echo", "a", "b");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%.3000s", p.status, p.err);
	for (i = 0; i < 30; i++) {
		char want[32];

		snprintf(want, sizeof(want), "[%u] clone ", i);
		cr_expect(strstr(p.out, want), "no '%s' in stdout:\n%s", want, p.out);
		snprintf(want, sizeof(want), "[%u] err ", i);
		cr_expect(strstr(p.err, want), "no '%s' in stderr:\n%s", want, p.err);
	}
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "run", "--template", "--count", "30", "--per-process", "10",
	       SERVED, "exit", "7");
	cr_expect_eq(p.status, 7, "status %d, stderr:\n%.3000s", p.status, p.err);
	t_proc_free(&p);
}
