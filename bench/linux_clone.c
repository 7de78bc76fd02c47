/*
 * linux_clone: clones of a Linux program's template, request to first
 * system call, for bench/linux.sh (links libmvmm.a, the public API).
 *
 *   linux_clone N BUSYBOX SDK_READY_ELF
 *
 * Boots two templates through mvmm.h: `BUSYBOX sh` frozen at its first read
 * of stdin (what `mvmm run --template --ready-on=stdin` does), and the SDK
 * guest SDK_READY_ELF (build/guest/ready.elf) frozen at mvmm_ready(), its
 * baseline. Then N requests to each, interleaved one by one, ~1 ms apart
 * (a stream, so the shell pools refill between requests): a busybox clone
 * gets "echo hi\n" as its stdin (its output is checked), a ready.elf clone
 * no request. For each it records mvmm_stats.first_hypercall_ns (from the
 * mvmm_run call to the clone's first exit: the re-issued read(0) system
 * call, or the SDK guest's first exit after ready) and run_ns (the
 * whole call). Prints lines `NAME p50_us p90_us p99_us run_p50_us` for
 * NAME linux and sdk, after 20 unrecorded warm-up requests of each.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mvmm.h>

struct series {
	const char *name;
	struct mvmm_template *tpl;
	const void *input;
	size_t input_len;
	const char *want_out; /* NULL: not checked */
	uint64_t *first, *run;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, int n, double p)
{
	return (double)v[(int)(p * (double)(n - 1) + 0.5)] / 1e3;
}

/* One request; 0 and the two times, or -1 (message printed). */
static int request(struct series *s, uint64_t *first, uint64_t *run)
{
	struct mvmm_run_opts o = {
		.input = s->input,
		.input_len = s->input_len,
		.timeout_ms = 10000,
	};
	struct mvmm_result *res;
	int err = mvmm_run(s->tpl, &o, &res);

	if (err) {
		fprintf(stderr, "linux_clone: %s: mvmm_run: %s\n", s->name, mvmm_last_error());
		return -1;
	}
	if (res->end != MVMM_END_EXIT || res->status != 0 ||
	    (s->want_out && strcmp(res->out, s->want_out))) {
		fprintf(stderr,
			"linux_clone: %s: clone ended %s, status %d, stdout '%.100s', "
			"stderr '%.300s' %s\n",
			s->name, mvmm_end_name(res->end), res->status, res->out, res->err,
			res->message);
		mvmm_result_free(res);
		return -1;
	}
	if (!res->stats.first_hypercall_ns) {
		fprintf(stderr, "linux_clone: %s: the clone made no system call or hypercall\n",
			s->name);
		mvmm_result_free(res);
		return -1;
	}
	*first = res->stats.first_hypercall_ns;
	*run = res->stats.run_ns;
	mvmm_result_free(res);
	return 0;
}

int main(int argc, char **argv)
{
	static const char input[] = "echo hi\n";
	const char *sh_argv[] = {"sh", NULL};
	struct mvmm_runtime *rt;
	struct mvmm_image *lx_img, *sdk_img;
	struct series s[2];
	uint64_t a, b;
	int n, i, k;

	if (argc != 4 || (n = atoi(argv[1])) < 1) {
		fputs("usage: linux_clone N BUSYBOX SDK_READY_ELF\n", stderr);
		return 2;
	}
	memset(s, 0, sizeof(s));
	s[0].name = "linux";
	s[0].input = input;
	s[0].input_len = sizeof(input) - 1;
	s[0].want_out = "hi\n";
	s[1].name = "sdk";
	for (k = 0; k < 2; k++) {
		s[k].first = calloc((size_t)n, sizeof(uint64_t));
		s[k].run = calloc((size_t)n, sizeof(uint64_t));
		if (!s[k].first || !s[k].run) {
			perror("linux_clone: calloc");
			return 1;
		}
	}
	if (mvmm_runtime_new(&rt) < 0 || mvmm_image_load_file(argv[2], 0, &lx_img) < 0 ||
	    mvmm_template_new(rt, lx_img, sh_argv, 10000, &s[0].tpl) < 0 ||
	    mvmm_image_load_file(argv[3], 0, &sdk_img) < 0 ||
	    mvmm_template_new(rt, sdk_img, NULL, 10000, &s[1].tpl) < 0) {
		fprintf(stderr, "linux_clone: %s\n", mvmm_last_error());
		return 1;
	}
	usleep(200000); /* let the shell pools fill */
	for (i = 0; i < 20; i++)
		for (k = 0; k < 2; k++)
			if (request(&s[k], &a, &b) < 0)
				return 1;
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			struct series *t = &s[(i + k) % 2];

			if (request(t, &t->first[i], &t->run[i]) < 0)
				return 1;
			usleep(1000);
		}
	}
	for (k = 0; k < 2; k++) {
		qsort(s[k].first, (size_t)n, sizeof(uint64_t), cmp_u64);
		qsort(s[k].run, (size_t)n, sizeof(uint64_t), cmp_u64);
		printf("%s %.1f %.1f %.1f %.1f\n", s[k].name, pct_us(s[k].first, n, 0.5),
		       pct_us(s[k].first, n, 0.9), pct_us(s[k].first, n, 0.99),
		       pct_us(s[k].run, n, 0.5));
	}
	mvmm_template_free(s[0].tpl);
	mvmm_template_free(s[1].tpl);
	mvmm_image_free(lx_img);
	mvmm_image_free(sdk_img);
	mvmm_runtime_free(rt);
	for (k = 0; k < 2; k++) {
		free(s[k].first);
		free(s[k].run);
	}
	return 0;
}
