/* hugepage.c: host huge-page support, backing choice, THP collapse and hugetlbfs copies. */
#define _GNU_SOURCE
#include "hugepage.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define HUGETLB_FREE  "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

#define HINT_THP     "echo advise > " SHMEM_ENABLED
#define HINT_HUGETLB "echo N > /proc/sys/vm/nr_hugepages"

#define OVERLAY_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static const char *const mode_names[] = {
	[HUGE_MODE_AUTO] = "auto",
	[HUGE_MODE_THP] = "thp",
	[HUGE_MODE_HUGETLB] = "hugetlb",
	[HUGE_MODE_OFF] = "off",
};

static const char *const backing_names[] = {
	[HUGE_BACKING_NONE] = "4k",
	[HUGE_BACKING_THP] = "thp",
	[HUGE_BACKING_HUGETLB] = "hugetlb",
};

int huge_mode_parse(const char *s, enum huge_mode *mode)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = (enum huge_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *huge_mode_name(enum huge_mode mode)
{
	return (unsigned)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode] : "?";
}

const char *huge_backing_name(enum huge_backing backing)
{
	return (unsigned)backing < sizeof(backing_names) / sizeof(backing_names[0])
		       ? backing_names[backing]
		       : "?";
}

static int read_small_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The file shows every policy with the one in force in brackets: "always [advise] never ...". */
int huge_host_thp(void)
{
	static const char *const allowing[] = {"[advise]", "[within_size]", "[always]", "[force]"};
	char buf[256];

	if (read_small_file(SHMEM_ENABLED, buf, sizeof(buf)) < 0)
		return 0;
	for (unsigned i = 0; i < sizeof(allowing) / sizeof(allowing[0]); i++)
		if (strstr(buf, allowing[i]))
			return 1;
	return 0;
}

uint64_t huge_host_free(void)
{
	unsigned long long n = 0;
	char buf[64];

	if (read_small_file(HUGETLB_FREE, buf, sizeof(buf)) < 0 || sscanf(buf, "%llu", &n) != 1)
		return 0;
	return n;
}

static pthread_once_t hint_once = PTHREAD_ONCE_INIT;
static int hints_enabled; /* the command turns hints on; the library never prints them */

void huge_hints_enable(void)
{
	hints_enabled = 1;
}

/*
 * A hint is for a person: shown when stderr is a terminal, or when
 * MVMM_HINTS=1 asks for it; MVMM_HINTS=0 silences it. Scripts that parse
 * stderr are not given a line they did not ask for.
 */
static int hints_wanted(void)
{
	const char *env = getenv("MVMM_HINTS");

	if (!hints_enabled)
		return 0;
	if (env && *env)
		return strcmp(env, "0") != 0;
	return isatty(STDERR_FILENO);
}

static void hint_print(void)
{
	if (!hints_wanted())
		return;
	fprintf(stderr,
		"mvmm: hint: the host offers no huge pages, so guests use 4 KiB pages "
		"(one fault per 4 KiB on first touch); to enable them: %s\n",
		HINT_THP);
}

/* The decision, once per process and backing: a run chooses for its cache key and its image. */
static void __attribute__((format(printf, 2, 3))) huge_log(enum huge_backing b, const char *fmt, ...)
{
	static int said[3]; /* atomic, by enum huge_backing */
	va_list ap;

	if ((unsigned)b >= 3 || __atomic_exchange_n(&said[b], 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vlogv(VLOG_INFO, fmt, ap);
	va_end(ap);
}

int huge_choose(enum huge_mode mode, uint64_t chunks, enum huge_backing *backing)
{
	*backing = HUGE_BACKING_NONE;
	if (mode == HUGE_MODE_OFF || chunks == 0) {
		vlog_debug("huge pages: off%s", mode == HUGE_MODE_OFF ? " (--huge-pages=off)" : "");
		return 0;
	}
	if (mode == HUGE_MODE_THP || mode == HUGE_MODE_AUTO) {
		if (huge_host_thp()) {
			*backing = HUGE_BACKING_THP;
			huge_log(*backing, "huge pages: shmem transparent huge pages back the "
				 "guest memory (%lu chunks of 2 MiB)", (unsigned long)chunks);
			return 0;
		}
		if (mode == HUGE_MODE_THP)
			return err_set("--huge-pages=thp: the host does not allow shmem transparent "
				       "huge pages (%s)",
				       HINT_THP);
	}
	if (huge_host_free() >= chunks) {
		*backing = HUGE_BACKING_HUGETLB;
		huge_log(*backing, "huge pages: hugetlbfs pages back the guest memory (%lu needed, "
			 "%lu free)", (unsigned long)chunks, (unsigned long)huge_host_free());
		return 0;
	}
	if (mode == HUGE_MODE_HUGETLB)
		return err_set("--huge-pages=hugetlb: %lu free 2 MiB pages needed, %lu free (%s)",
			       (unsigned long)chunks, (unsigned long)huge_host_free(),
			       HINT_HUGETLB);
	huge_log(*backing, "huge pages: none available (no shmem THP, %lu free 2 MiB pages): "
		 "4 KiB pages", (unsigned long)huge_host_free());
	pthread_once(&hint_once, hint_print);
	return 0;
}

/* Collapses each chunk of the overlay into one THP (shmem's page cache); counts those that did. */
static void thp_collapse(uint8_t *map, struct huge_map *h, uint64_t size)
{
	h->host_huge = 0;
	for (uint64_t c = 0; c < size / HUGE_PAGE_SIZE; c++) {
		uint8_t *at = map + c * HUGE_PAGE_SIZE;

		if (!huge_map_test(h, c))
			continue;
		/* A chunk the kernel cannot collapse stays 4 KiB pages: correct, only slower. */
		if (madvise(at, HUGE_PAGE_SIZE, MADV_HUGEPAGE) == 0 &&
		    madvise(at, HUGE_PAGE_SIZE, MADV_COLLAPSE) == 0)
			h->host_huge++;
	}
}

/* Copies h's chunks of memfd into the overlay mapped at dst. */
static int overlay_copy(int memfd, uint64_t base, struct huge_map *h, uint8_t *dst,
			uint64_t size)
{
	for (uint64_t c = 0; c < size / HUGE_PAGE_SIZE; c++) {
		off_t off = (off_t)(c * HUGE_PAGE_SIZE);

		if (!huge_map_test(h, c))
			continue;
		/* Allocated first, so an empty pool is an error here, not a SIGBUS in the copy. */
		if (h->backing == HUGE_BACKING_HUGETLB && fallocate(h->fd, 0, off, HUGE_PAGE_SIZE) < 0)
			return err_sys("allocating a 2 MiB hugetlbfs page (%s)", HINT_HUGETLB);
		if (pread(memfd, dst + off, HUGE_PAGE_SIZE, (off_t)base + off) !=
		    (ssize_t)HUGE_PAGE_SIZE)
			return err_sys("copying guest memory into huge pages");
	}
	return 0;
}

static int overlay_create(struct huge_map *h, uint64_t size)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;

	if (h->backing == HUGE_BACKING_HUGETLB)
		flags |= MFD_HUGETLB;
	h->fd = memfd_create("mvmm-huge", flags);
	if (h->fd < 0)
		return err_sys("memfd_create for huge pages");
	if (ftruncate(h->fd, (off_t)size) < 0)
		return err_sys("sizing the huge-page memfd");
	return 0;
}

int huge_overlay_fill(int memfd, uint64_t size, struct huge_map *h)
{
	return huge_overlay_fill_at(memfd, 0, size, h);
}

int huge_overlay_fill_at(int memfd, uint64_t base, uint64_t size, struct huge_map *h)
{
	uint8_t *dst;
	int ret;

	h->fd = -1;
	if (h->backing == HUGE_BACKING_NONE || h->nchunks == 0)
		return 0;
	if (overlay_create(h, size) < 0)
		goto fail;
	/*
	 * No reservation for the whole size (a shared hugetlbfs mapping would
	 * reserve a huge page for every 2 MiB of it): overlay_copy allocates
	 * exactly the chunks first.
	 */
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, h->fd, 0);
	if (dst == MAP_FAILED) {
		err_sys("mapping the huge-page memfd");
		goto fail;
	}
	/* Faulted in as THPs from the start (shmem_enabled allows it): no 4 KiB pages to collapse. */
	if (h->backing == HUGE_BACKING_THP)
		madvise(dst, size, MADV_HUGEPAGE);
	ret = overlay_copy(memfd, base, h, dst, size);
	if (ret == 0 && h->backing == HUGE_BACKING_THP)
		thp_collapse(dst, h, size);
	munmap(dst, size);
	if (ret < 0)
		goto fail;
	if (h->backing == HUGE_BACKING_HUGETLB)
		h->host_huge = h->nchunks;
	/* From here on nobody can change a page under a running guest. */
	if (fcntl(h->fd, F_ADD_SEALS, OVERLAY_SEALS) < 0) {
		err_sys("sealing the huge-page memfd");
		goto fail;
	}
	return 0;
fail:
	huge_map_release(h);
	return -1;
}

void huge_map_release(struct huge_map *h)
{
	/* A zeroed map (backing NONE) owns no fd, even though its fd field reads 0. */
	if (h->backing != HUGE_BACKING_NONE && h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/* Calls fn on each run of consecutive chunks: one system call per run, not per chunk. */
static int for_each_run(const struct huge_map *h, uint64_t size,
			int (*fn)(const struct huge_map *h, uint8_t *host, uint64_t off, uint64_t len),
			uint8_t *host)
{
	uint64_t n = size / HUGE_PAGE_SIZE, c = 0, e;

	while (c < n) {
		if (!huge_map_test(h, c)) {
			c++;
			continue;
		}
		for (e = c + 1; e < n && huge_map_test(h, e); e++)
			;
		if (fn(h, host, c * HUGE_PAGE_SIZE, (e - c) * HUGE_PAGE_SIZE) < 0)
			return -1;
		c = e;
	}
	return 0;
}

/*
 * Shared and read-only: a huge chunk is never written, so no instance needs
 * a private 2 MiB copy, and every instance maps the same huge pages.
 */
static int apply_overlay(const struct huge_map *h, uint8_t *host, uint64_t off, uint64_t len)
{
	if (mmap(host + off, len, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, h->fd,
		 (off_t)off) == MAP_FAILED)
		return err_sys("mapping huge pages into guest memory");
	/* Under shmem_enabled=advise a THP is mapped whole only in a MADV_HUGEPAGE range. */
	if (h->backing == HUGE_BACKING_THP && madvise(host + off, len, MADV_HUGEPAGE) < 0)
		return err_sys("madvise(MADV_HUGEPAGE) on guest memory");
	return 0;
}

int huge_map_apply(const struct huge_map *h, uint8_t *host, uint64_t size)
{
	if (!h || h->backing == HUGE_BACKING_NONE || h->nchunks == 0 || h->fd < 0)
		return 0;
	return for_each_run(h, size, apply_overlay, host);
}

int huge_map_overlaps(const struct huge_map *h, uint64_t gpa, uint64_t len)
{
	if (!h || h->nchunks == 0 || len == 0)
		return 0;
	for (uint64_t c = gpa / HUGE_PAGE_SIZE; c <= (gpa + len - 1) / HUGE_PAGE_SIZE; c++)
		if (huge_map_test(h, c))
			return 1;
	return 0;
}
