/*
 * interp_clone: in-process clones of a dynamically linked interpreter's
 * template, for bench/interp.sh (links libmvmm.a, the public API).
 *
 *   interp_clone N CODE WANT PROG [ARG...]
 *
 * Loads PROG (a host program such as /usr/bin/lua5.4; its loader and
 * libraries are found and exposed by mvmm_image_load_file) and boots it
 * with argv PROG ARG... (argv[0] is PROG's base name) through
 * mvmm_template_new, which freezes a program that never calls mvmm_ready()
 * at its first read of stdin (what `mvmm run --template --ready-on=stdin`
 * does). Then N requests, ~1 ms apart (a stream: the shell pool refills),
 * after 20 unrecorded warm-up ones: each is mvmm_run with CODE plus a
 * newline as the clone's stdin; its stdout must be WANT plus a newline and
 * its exit status 0. Prints one line on stdout:
 *   run_p50_us run_p90_us run_p99_us first_p50_us template_ms
 * run: mvmm_stats.run_ns, the whole call (clone, run to the guest's exit,
 * capture); first: from the call to the clone's first exit (the re-issued
 * read of stdin); template_ms: mvmm_template_new's wall time.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mvmm.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, int n, double p)
{
	return (double)v[(int)(p * (double)(n - 1) + 0.5)] / 1e3;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct mvmm_runtime *rt;
	struct mvmm_image *img;
	struct mvmm_template *tpl;
	const char **targv;
	char *input, *want;
	uint64_t *run, *first;
	double t0, tpl_ms;
	int n, i, k;

	if (argc < 5 || (n = atoi(argv[1])) < 1) {
		fputs("usage: interp_clone N CODE WANT PROG [ARG...]\n", stderr);
		return 2;
	}
	run = calloc((size_t)n, sizeof(*run));
	first = calloc((size_t)n, sizeof(*first));
	targv = calloc((size_t)argc, sizeof(*targv));
	if (!run || !first || !targv || asprintf(&input, "%s\n", argv[2]) < 0 ||
	    asprintf(&want, "%s\n", argv[3]) < 0) {
		perror("interp_clone");
		return 1;
	}
	targv[0] = strrchr(argv[4], '/') ? strrchr(argv[4], '/') + 1 : argv[4];
	for (k = 5; k < argc; k++)
		targv[k - 4] = argv[k];
	if (mvmm_runtime_new(&rt) < 0 || mvmm_image_load_file(argv[4], 0, &img) < 0) {
		fprintf(stderr, "interp_clone: %s\n", mvmm_last_error());
		return 1;
	}
	t0 = now_ms();
	if (mvmm_template_new(rt, img, targv, 30000, &tpl) < 0) {
		fprintf(stderr, "interp_clone: template of %s: %s\n", argv[4], mvmm_last_error());
		return 1;
	}
	tpl_ms = now_ms() - t0;
	usleep(200000); /* let the shell pool fill */
	for (i = -20; i < n; i++) {
		struct mvmm_run_opts o = {
			.input = input, .input_len = strlen(input), .timeout_ms = 10000 };
		struct mvmm_result *res;

		if (mvmm_run(tpl, &o, &res)) {
			fprintf(stderr, "interp_clone: mvmm_run: %s\n", mvmm_last_error());
			return 1;
		}
		if (res->end != MVMM_END_EXIT || res->status != 0 || strcmp(res->out, want)) {
			fprintf(stderr,
				"interp_clone: clone ended %s, status %d, stdout '%.100s' (want "
				"'%s'), stderr '%.300s' %s\n",
				mvmm_end_name(res->end), res->status, res->out, argv[3], res->err,
				res->message);
			return 1;
		}
		if (i >= 0) {
			run[i] = res->stats.run_ns;
			first[i] = res->stats.first_hypercall_ns;
		}
		mvmm_result_free(res);
		usleep(1000);
	}
	qsort(run, (size_t)n, sizeof(*run), cmp_u64);
	qsort(first, (size_t)n, sizeof(*first), cmp_u64);
	printf("%.1f %.1f %.1f %.1f %.2f\n", pct_us(run, n, 0.5), pct_us(run, n, 0.9),
	       pct_us(run, n, 0.99), pct_us(first, n, 0.5), tpl_ms);
	mvmm_template_free(tpl);
	mvmm_image_free(img);
	mvmm_runtime_free(rt);
	free(run);
	free(first);
	free(targv);
	free(input);
	free(want);
	return 0;
}
