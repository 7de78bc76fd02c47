/*
 * clone.c: latency from a clone request to the clone's first exit after ready (a system call
 * or a hypercall: ready.elf's is its mvmm_request), in process.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone/shellpool.h"
#include "clone/template.h"
#include "core/error.h"
#include "core/kvm.h"
#include "core/vm.h"
#include "load/image.h"
#include "bench_image.h"

extern char **environ;

static struct kvm_sys kvm;
static struct template *tpl;
static struct shell_pool pool;
static int devnull;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
	return (double)v[(size_t)(p * (double)(n - 1))] / 1e3;
}

/* One clone: request to first exit after ready (us), and its whole run. */
static int clone_once(uint64_t *latency_ns, uint64_t *total_ns)
{
	struct vm_config cfg = { .in_fd = -1, .out_fd = devnull, .err_fd = devnull };
	struct vm_result res;
	uint64_t t0 = vm_now_ns();
	struct vm *vm = template_clone(tpl, &kvm, &pool, &cfg);

	if (!vm)
		return -1;
	vm_run(vm, &res);

	*total_ns = vm_now_ns() - t0;
	*latency_ns = res.first_hypercall_ns - t0;
	shell_pool_reap(&pool, vm);
	if (res.end != VM_END_EXIT || res.status != 0) {
		fprintf(stderr, "clone ended badly: %s\n", res.message);
		vm_result_clear(&res);
		return -1;
	}
	vm_result_clear(&res);
	return 0;
}

static uint64_t spawn_ns(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	uint64_t t0 = vm_now_ns();
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return 0;
	waitpid(pid, &st, 0);
	posix_spawn_file_actions_destroy(&fa);
	return vm_now_ns() - t0;
}

static double median_spawn(char *const argv[], int runs)
{
	uint64_t v[64];
	int i;

	for (i = 0; i < runs && i < 64; i++)
		v[i] = spawn_ns(argv);
	qsort(v, (size_t)i, sizeof(v[0]), cmp_u64);
	return (double)v[i / 2] / 1e3;
}

struct worker {
	int n;
	int failed;
};

static void *throughput_worker(void *p)
{
	struct worker *w = p;
	uint64_t a, b;
	int i;

	for (i = 0; i < w->n; i++)
		if (clone_once(&a, &b) < 0)
			w->failed++;
	return NULL;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	int n = argc > 2 ? atoi(argv[2]) : 1000, i;
	char elf[512], mvmm[512], floor_bin[512], csv[512];
	const char *targv[] = { "ready.elf", NULL };
	struct vm_config cfg = { .argv = targv, .in_fd = -1, .out_fd = devnull, .err_fd = 2 };
	uint64_t *lat = calloc((size_t)n, sizeof(*lat)), *tot = calloc((size_t)n, sizeof(*tot));
	struct vm_result res;
	struct image *img;
	FILE *out;

	snprintf(elf, sizeof(elf), "%s/guest/ready.elf", build);
	snprintf(mvmm, sizeof(mvmm), "%s/mvmm", build);
	snprintf(floor_bin, sizeof(floor_bin), "%s/bench/kvm_floor", build);
	snprintf(csv, sizeof(csv), "%s/bench/clone-%s.csv", build, bench_huge_mode());
	devnull = open("/dev/null", O_WRONLY);
	cfg.out_fd = devnull;
	if (!lat || !tot || kvm_sys_open(&kvm) < 0 || !(img = bench_image_load(elf, 64u << 20)) ||
	    !(tpl = template_create(&kvm, img, &cfg, &res)) ||
	    shell_pool_start(&pool, &kvm, img->mem_size, 32, tpl) < 0) {
		fprintf(stderr, "bench/clone: %s\n", mvmm_errmsg());
		return 1;
	}
	usleep(200000); /* let the pool fill */
	for (i = 0; i < 20; i++)
		clone_once(&lat[0], &tot[0]);
	for (i = 0; i < n; i++) {
		if (clone_once(&lat[i], &tot[i]) < 0)
			return 1;
		/* A stream of requests (~500/s), not a burst: the pool refills between them. */
		usleep(1500);
	}
	unsigned long misses_latency = (unsigned long)pool.misses;

	out = fopen(csv, "w");
	if (out) {
		fprintf(out, "clone,latency_us,total_us\n");
		for (i = 0; i < n; i++)
			fprintf(out, "%d,%.1f,%.1f\n", i, lat[i] / 1e3, tot[i] / 1e3);
		fclose(out);
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	qsort(tot, (size_t)n, sizeof(*tot), cmp_u64);

	/* Throughput: two threads cloning back to back on 2 cores. */
	struct worker w[2] = { { n / 2, 0 }, { n / 2, 0 } };
	pthread_t th[2];
	uint64_t t0 = vm_now_ns();

	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, throughput_worker, &w[i]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	double secs = (double)(vm_now_ns() - t0) / 1e9;

	char huge_flag[64];

	snprintf(huge_flag, sizeof(huge_flag), "--huge-pages=%s", bench_huge_mode());
	char *cold_argv[] = { mvmm, "run", huge_flag, elf, NULL };
	char *floor_argv[] = { floor_bin, NULL };
	double cold = median_spawn(cold_argv, 21), flo = median_spawn(floor_argv, 21);
	double p50 = pct(lat, (size_t)n, 0.5);

	printf("backing: %s (%lu MiB of each guest in 2 MiB pages)\n",
	       huge_backing_name(img->huge.backing), (unsigned long)(img->huge.nchunks * 2));
	printf("clones: %d, template booted in %.1f ms, shell pool misses %lu (latency run) %lu "
	       "(all)\n",
	       n, tpl->boot_ns / 1e6, misses_latency, (unsigned long)pool.misses);
	printf("request -> first exit after ready: p50 %.0f us, p90 %.0f us, p99 %.0f us\n",
	       p50, pct(lat, (size_t)n, 0.9), pct(lat, (size_t)n, 0.99));
	printf("whole clone run (to exit): p50 %.0f us\n", pct(tot, (size_t)n, 0.5));
	printf("throughput, 2 threads: %.0f clones/s (%d failed)\n", (w[0].n + w[1].n) / secs,
	       w[0].failed + w[1].failed);
	printf("cold 'mvmm run ready.elf' (whole process, median of 21): %.0f us -> clone is %.0fx "
	       "faster\n",
	       cold, cold / p50);
	printf("raw-KVM floor process (median of 21): %.0f us\n", flo);
	printf("targets: p50 <= 100 us (%s), p99 <= 500 us (%s), >= 10x faster than cold (%s)\n",
	       p50 <= 100 ? "met" : "MISSED", pct(lat, (size_t)n, 0.99) <= 500 ? "met" : "MISSED",
	       cold / p50 >= 10 ? "met" : "MISSED");
	shell_pool_stop(&pool);
	template_put(tpl);
	image_put(img);
	kvm_sys_close(&kvm);
	free(lat);
	free(tot);
	return 0;
}
