/* dedup.c (bench): N held instances of dupfill; mvmm's pass or the kernel's KSM merges them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "fleet/fleet.h"
#include "load/image.h"
#include "mem/dedup.h"
#include "mem/memstat.h"

/*
 * dedup MODE N CSV [KSM_TIMEOUT_S]: MODE is mvmm or ksm. Runs N instances of
 * build/guest/dupfill.elf 75, holds them all, then (mvmm) runs one full pass
 * or (ksm) waits until KSM made two full scans and pages_sharing stopped
 * growing for 3 s, or the timeout passed, sampling the process's PSS every 50 ms into
 * CSV (ms,pss_kib,saved_pages). Prints one line of key=value figures.
 */
struct bench {
	const char *mode;
	struct dedup *d;
	FILE *csv;
	double ksm_timeout_s;
	volatile int sampling;
	uint64_t t0;
	double converge_ms, pass_cpu_ms, pass_ms;
	uint64_t saved, pss_before, pss_after, scanned;
	int converged;
};

static uint64_t read_ksm(const char *name)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static uint64_t pss_kib(void)
{
	struct memstat_proc p;

	return memstat_proc_read(&p) == 0 ? p.pss_kb : 0;
}

static void *sampler(void *p)
{
	struct bench *b = p;

	while (b->sampling) {
		/* The pass holds its lock: the stats are read between passes only (one pass here). */
		uint64_t pss = pss_kib();
		uint64_t saved = b->d ? 0 : read_ksm("pages_sharing");

		fprintf(b->csv, "%.1f,%lu,%lu\n", (double)(vm_now_ns() - b->t0) / 1e6, pss, saved);
		fflush(b->csv);
		usleep(50000);
	}
	return NULL;
}

static void on_vm(void *p, struct fleet *f, unsigned i, struct vm *vm, int live)
{
	struct bench *b = p;

	(void)f;
	(void)i;
	if (b->d && live && dedup_attach(b->d, vm, 0) < 0)
		fprintf(stderr, "attach: %s\n", mvmm_errmsg());
	if (b->d && !live)
		dedup_detach(b->d, vm);
	if (!b->d && live && dedup_ksm_mark(vm) < 0)
		fprintf(stderr, "madvise: %s\n", mvmm_errmsg());
}

static void on_hold(void *p, struct fleet *f)
{
	struct bench *b = p;
	pthread_t t;
	uint64_t last = 0, last_change = 0, now;

	(void)f;
	b->pss_before = pss_kib();
	b->t0 = vm_now_ns();
	b->sampling = 1;
	pthread_create(&t, NULL, sampler, b);
	if (b->d) {
		struct dedup_stats st;

		dedup_pass(b->d, 0, DEDUP_FULL | DEDUP_EAGER);
		b->converge_ms = (double)(vm_now_ns() - b->t0) / 1e6;
		dedup_get_stats(b->d, &st);
		b->saved = st.saved_pages;
		b->pass_cpu_ms = st.cpu_ms;
		b->scanned = st.pages_scanned;
		b->converged = 1;
		usleep(300000); /* a few samples after */
	} else {
		/* Converged: two full scans since the hold (KSM merges on its second look) and no
		 * growth for 3 s; plateaus inside a scan are not the end. */
		uint64_t scans0 = read_ksm("full_scans");

		for (;;) {
			uint64_t s = read_ksm("pages_sharing");

			now = vm_now_ns();
			if (s > last) {
				last = s;
				last_change = now;
			}
			if (last && now - last_change > 3000000000ull &&
			    read_ksm("full_scans") >= scans0 + 2) {
				b->converged = 1;
				break;
			}
			if ((double)(now - b->t0) / 1e9 > b->ksm_timeout_s)
				break;
			usleep(20000);
		}
		b->saved = last;
		b->converge_ms = last ? (double)(last_change - b->t0) / 1e6 : 0;
	}
	b->sampling = 0;
	pthread_join(t, NULL);
	b->pss_after = pss_kib();
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	struct kvm_sys kvm = {.fd = -1};
	struct fleet_config fc = {0};
	const char *gargv[] = {"dupfill.elf", "75", NULL};
	struct fleet f;
	struct image *img;
	unsigned n, i, ok = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: %s mvmm|ksm N CSV [KSM_TIMEOUT_S]\n", argv[0]);
		return 2;
	}
	b.mode = argv[1];
	n = (unsigned)atoi(argv[2]);
	b.csv = fopen(argv[3], "w");
	b.ksm_timeout_s = argc > 4 ? atof(argv[4]) : 120;
	if (!b.csv)
		return 2;
	fprintf(b.csv, "ms,pss_kib,ksm_pages_sharing\n");
	if (strcmp(b.mode, "mvmm") == 0 && !(b.d = dedup_new(NULL)))
		return 2;
	if (kvm_sys_open(&kvm) < 0 || !(img = image_load_file("build/guest/dupfill.elf", 64 << 20))) {
		fprintf(stderr, "%s\n", mvmm_errmsg());
		return 2;
	}
	fc.kvm = &kvm;
	fc.img = img;
	fc.count = n;
	fc.hold = 1;
	fc.vm.argv = gargv;
	fc.vm.in_fd = -1;
	fc.vm.out_fd = 2;
	fc.vm.err_fd = 2;
	fc.vm.lean = 1;
	fc.on_vm = on_vm;
	fc.on_vm_ctx = &b;
	fc.on_hold = on_hold;
	fc.on_hold_ctx = &b;
	if (fleet_run(&f, &fc) < 0)
		fprintf(stderr, "%s\n", mvmm_errmsg());
	for (i = 0; i < n; i++)
		ok += f.inst[i].res.end == VM_END_EXIT && f.inst[i].res.status == 0;
	/* 75% of 2,048 pages identical in all: (n - 1) x 1,536 pages can be saved. */
	printf("mode=%s instances=%u ok=%u converged=%d converge_ms=%.1f saved_pages=%lu "
	       "identical_saveable=%u pss_before_kib=%lu pss_after_kib=%lu cpu_ms=%.1f "
	       "scanned_pages=%lu\n",
	       b.mode, n, ok, b.converged, b.converge_ms, b.saved, (n - 1) * 1536, b.pss_before,
	       b.pss_after, b.pass_cpu_ms, b.scanned);
	fleet_free(&f);
	dedup_free(b.d);
	image_put(img);
	kvm_sys_close(&kvm);
	fclose(b.csv);
	return ok == n ? 0 : 1;
}
