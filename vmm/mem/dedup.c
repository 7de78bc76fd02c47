/* dedup.c: the deduplication pass and its API: instances, rounds over them with a time budget,
 * the pass thread; scanning is in dedup_scan.c, merging in dedup_merge.c. */
#define _GNU_SOURCE
#include "dedup.h"
#include "dedup_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/log.h"
#include "load/image.h"

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t count_vmas(void)
{
	char buf[65536];
	uint64_t n = 0;
	ssize_t got;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

static uint64_t read_max_map_count(void)
{
	unsigned long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

struct dedup *dedup_new(const struct dedup_config *cfg)
{
	struct dedup *d = calloc(1, sizeof(*d));

	if (!d) {
		err_set("out of memory");
		return NULL;
	}
	d->store_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->done, NULL);
	d->st.max_vmas = cfg && cfg->max_vmas ? cfg->max_vmas : read_max_map_count() / 8 * 7;
	d->zero_hash = XXH3_64bits(dedup_zero_page, PG);
	d->ops = malloc(BATCH * sizeof(*d->ops));
	d->store_fd = memfd_create("mvmm-dedup-store", MFD_CLOEXEC);
	if (d->store_fd < 0) {
		err_sys("memfd_create (dedup store)");
		goto fail;
	}
	d->store_map = mmap(NULL, STORE_MAX * PG, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d->store_map == MAP_FAILED) {
		d->store_map = NULL;
		err_sys("reserving the dedup store");
		goto fail;
	}
	if (!d->ops) {
		err_set("out of memory");
		goto fail;
	}
	d->store_next = ZERO_FIRST + ZERO_RUN;
	if (dedup_store_grow(d) < 0) /* the zero region must lie inside the file */
		goto fail;
	return d;
fail:
	dedup_free(d);
	return NULL;
}

static void dvm_free(struct dedup_vm *v)
{
	if (!v)
		return;
	free(v->hash);
	free(v->store);
	free(v->flags);
	free(v);
}

void dedup_free(struct dedup *d)
{
	unsigned i;

	if (!d)
		return;
	dedup_stop(d);
	for (i = 0; i < d->nvms; i++)
		dvm_free(d->vms[i]);
	free(d->vms);
	if (d->store_map)
		munmap(d->store_map, STORE_MAX * PG);
	if (d->store_fd >= 0)
		close(d->store_fd);
	free(d->store_refs);
	free(d->stable.e);
	free(d->unstable.e);
	free(d->ops);
	free(d->remaps);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->done);
	free(d);
}

int dedup_attach(struct dedup *d, struct vm *vm, unsigned domain)
{
	struct dedup_vm *v = calloc(1, sizeof(*v));
	int ret = 0;

	if (!v)
		return err_set("out of memory");
	v->vm = vm;
	v->domain = domain;
	vm->remapped = 1; /* its pages may come to map the dedup store: not zero after DONTNEED */
	v->npages = vm->mem.size / PG;
	/* Large callocs are fresh mappings: entries of pages never private cost nothing. */
	v->hash = calloc(v->npages, sizeof(*v->hash));
	v->store = calloc(v->npages, sizeof(*v->store));
	v->flags = calloc(v->npages, 1);
	v->dontneed_base = vm->no_share || (vm->img && vm->mapped_memfd == vm->img->memfd);
	if (!v->hash || !v->store || !v->flags) {
		dvm_free(v);
		return err_set("out of memory");
	}
	pthread_mutex_lock(&d->lock);
	if (d->nvms == d->cap_vms) {
		unsigned ncap = d->cap_vms ? d->cap_vms * 2 : 64;
		struct dedup_vm **nv = realloc(d->vms, ncap * sizeof(*nv));

		if (!nv) {
			ret = err_set("out of memory");
			goto out;
		}
		d->vms = nv;
		d->cap_vms = ncap;
	}
	d->vms[d->nvms++] = v;
	v = NULL;
out:
	pthread_mutex_unlock(&d->lock);
	dvm_free(v);
	return ret;
}

void dedup_detach(struct dedup *d, struct vm *vm)
{
	unsigned i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nvms; i++) {
		struct dedup_vm *v = d->vms[i];
		uint64_t p;

		if (v->vm != vm || v->gone)
			continue;
		for (p = 0; p < v->npages; p++)
			if (v->flags[p] & (F_MERGED | F_ZERO)) {
				dedup_page_unmerge(d, v, p);
				d->st.unmerged--; /* not a guest write */
			}
		v->gone = 1;
		v->vm = NULL;
		/* Free the page tables now; the slot stays until the round ends (the unstable table). */
		free(v->hash);
		free(v->store);
		free(v->flags);
		v->hash = NULL;
		v->store = NULL;
		v->flags = NULL;
	}
	pthread_mutex_unlock(&d->lock);
}

/* Drops the slots of detached instances; only between rounds (unstable entries name slots). */
static void compact_vms(struct dedup *d)
{
	unsigned i, j = 0;

	for (i = 0; i < d->nvms; i++) {
		if (d->vms[i]->gone)
			dvm_free(d->vms[i]);
		else
			d->vms[j++] = d->vms[i];
	}
	d->nvms = j;
}

static void round_end(struct dedup *d)
{
	d->cursor_vm = 0;
	d->cursor_page = 0;
	d->st.rounds++;
	dedup_table_clear(&d->unstable);
	compact_vms(d);
}

int dedup_pass(struct dedup *d, uint64_t budget_ns, unsigned flags)
{
	uint64_t t0 = vm_now_ns(), c0 = thread_cpu_ns(), dt;
	struct dedup_stats st;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (flags & DEDUP_FULL) {
		d->cursor_vm = 0;
		d->cursor_page = 0;
		dedup_table_clear(&d->unstable);
		compact_vms(d);
		budget_ns = 0;
	}
	d->vma_est = count_vmas();
	for (;;) {
		struct dedup_vm *v;
		uint64_t n;

		if (d->cursor_vm >= d->nvms) {
			round_end(d);
			ret = 1;
			break;
		}
		if (budget_ns && vm_now_ns() - t0 >= budget_ns)
			break;
		v = d->vms[d->cursor_vm];
		if (v->gone || d->cursor_page >= v->npages) {
			d->cursor_vm++;
			d->cursor_page = 0;
			continue;
		}
		n = v->npages - d->cursor_page < BATCH ? v->npages - d->cursor_page : BATCH;
		if (dedup_scan_batch(d, d->cursor_vm, d->cursor_page, n, flags) < 0) {
			ret = -1;
			break;
		}
		d->cursor_page += n;
	}
	d->st.vmas = count_vmas();
	d->st.passes++;
	dt = vm_now_ns() - t0;
	d->st.last_pass_ms = (double)dt / 1e6;
	if (d->st.last_pass_ms > d->st.max_pass_ms)
		d->st.max_pass_ms = d->st.last_pass_ms;
	d->st.total_pass_ms += d->st.last_pass_ms;
	d->st.cpu_ms += (double)(thread_cpu_ns() - c0) / 1e6;
	st = d->st;
	pthread_mutex_unlock(&d->lock);
	/* a full pass is asked for; the periodic ones come every period: debug */
	vlog(flags & DEDUP_FULL ? VLOG_INFO : VLOG_DEBUG,
	     "dedup: pass %lu%s in %.1f ms: pages scanned in all %lu, merged in all %lu, "
	     "zero pages reclaimed in all %lu, private pages saved now %lu",
	     (unsigned long)st.passes, flags & DEDUP_FULL ? " (full)" : "", st.last_pass_ms,
	     (unsigned long)st.pages_scanned, (unsigned long)st.merged,
	     (unsigned long)st.zero_reclaimed, (unsigned long)st.saved_pages);
	return ret;
}

void dedup_get_stats(struct dedup *d, struct dedup_stats *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	pthread_mutex_unlock(&d->lock);
}

/* The thread's state (thread_on, full_*, stopping) is under d->lock too, but passes take it
 * themselves, so the thread drops it around each pass. */
static void *dedup_thread(void *arg)
{
	struct dedup *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		uint64_t wake = vm_now_ns() + d->period_ns;
		struct timespec ts = {(time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull)};

		while (!d->stopping && !d->full_req && vm_now_ns() < wake)
			pthread_cond_clockwait(&d->wake, &d->lock, CLOCK_MONOTONIC, &ts);
		if (d->stopping)
			break;
		if (d->full_req) {
			unsigned fl = (unsigned)d->full_flags | DEDUP_FULL;

			d->full_req = 0;
			pthread_mutex_unlock(&d->lock);
			int r = dedup_pass(d, 0, fl);
			pthread_mutex_lock(&d->lock);
			d->full_ret = r < 0 ? -1 : 0;
			d->full_done = 1;
			pthread_cond_broadcast(&d->done);
			continue;
		}
		pthread_mutex_unlock(&d->lock);
		dedup_pass(d, d->budget_ns, 0);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int dedup_start(struct dedup *d, uint64_t period_ms, uint64_t budget_ms)
{
	int err;

	d->period_ns = (period_ms ? period_ms : 1000) * 1000000ull;
	d->budget_ns = budget_ms * 1000000ull;
	err = pthread_create(&d->thread, NULL, dedup_thread, d);
	if (err) {
		errno = err;
		return err_sys("starting the dedup thread");
	}
	d->thread_on = 1;
	return 0;
}

int dedup_run_full(struct dedup *d, unsigned flags)
{
	int ret;

	if (!d->thread_on)
		return dedup_pass(d, 0, flags | DEDUP_FULL) < 0 ? -1 : 0;
	pthread_mutex_lock(&d->lock);
	d->full_req = 1;
	d->full_flags = (int)flags;
	d->full_done = 0;
	pthread_cond_signal(&d->wake);
	while (!d->full_done)
		pthread_cond_wait(&d->done, &d->lock);
	ret = d->full_ret;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void dedup_stop(struct dedup *d)
{
	if (!d->thread_on)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	d->thread_on = 0;
}

int dedup_ksm_mark(struct vm *vm)
{
	if (madvise(vm->mem.host, vm->mem.size, MADV_MERGEABLE) < 0)
		return err_sys("madvise(MADV_MERGEABLE) on guest memory");
	return 0;
}
