/* memstat.c: classify guest pages with /proc/self/pagemap; read smaps_rollup and meminfo. */
#define _GNU_SOURCE
#include "memstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "load/image.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE	   (1ull << 61) /* file page or shared anonymous */

static void memstat_count(const uint8_t *data_map, uint64_t page, uint64_t e, struct memstat_vm *st)
{
	int data = data_map_test(data_map, page);
	int present = (e & (PM_PRESENT | PM_SWAPPED)) != 0;
	int shared = (e & PM_FILE) != 0;

	if (data && !present)
		st->image_untouched++;
	else if (data)
		shared ? st->image_shared++ : st->image_private++;
	else if (present)
		shared ? st->zero_shared++ : st->zero_private++;
}

int memstat_pagemap_read(const struct vm *vm, uint64_t first, uint64_t n, uint64_t *entries)
{
	uint64_t done = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys("/proc/self/pagemap");
	while (done < n) {
		off_t off = (off_t)(((uintptr_t)vm->mem.host / MVMM_PAGE_SIZE + first + done) * 8);
		ssize_t got = pread(fd, entries + done, (n - done) * 8, off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || got % 8) {
			close(fd);
			return err_sys("reading /proc/self/pagemap");
		}
		done += (uint64_t)got / 8;
	}
	close(fd);
	return 0;
}

int memstat_entry_private(uint64_t e)
{
	return (e & (PM_PRESENT | PM_SWAPPED)) && !(e & PM_FILE);
}

int memstat_entry_present(uint64_t e)
{
	return (e & (PM_PRESENT | PM_SWAPPED)) != 0;
}

uint64_t *memstat_pagemap(const struct vm *vm)
{
	uint64_t npages = vm->mem.size / MVMM_PAGE_SIZE;
	uint64_t *e = malloc(npages * sizeof(*e));

	if (!e) {
		err_set("out of memory");
		return NULL;
	}
	if (memstat_pagemap_read(vm, 0, npages, e) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

void memstat_vm_count(const struct vm *vm, const uint64_t *e, struct memstat_vm *st)
{
	uint64_t npages = vm->mem.size / MVMM_PAGE_SIZE, page;

	memset(st, 0, sizeof(*st));
	for (page = 0; page < npages; page++)
		memstat_count(vm->data_map, page, e[page], st);
}

int memstat_vm_read(const struct vm *vm, struct memstat_vm *st)
{
	uint64_t *e = memstat_pagemap(vm);

	memset(st, 0, sizeof(*st));
	if (!e)
		return -1;
	memstat_vm_count(vm, e, st);
	free(e);
	return 0;
}

/* Finds "Key:   N kB" lines in a /proc file. */
static void read_kb_fields(const char *path, const char *const *keys, uint64_t *const *vals, int n)
{
	char line[256];
	FILE *f = fopen(path, "re");
	int i;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < n; i++) {
			size_t kl = strlen(keys[i]);
			unsigned long long v;

			if (strncmp(line, keys[i], kl) == 0 && line[kl] == ':' &&
			    sscanf(line + kl + 1, "%llu", &v) == 1)
				*vals[i] = v;
		}
	}
	fclose(f);
}

/* A process's smaps_rollup: RSS, PSS, Private_Dirty and what it maps with 2 MiB entries. */
static void read_rollup(const char *path, struct memstat_proc *st)
{
	static const char *const keys[] = {"Rss",	    "Pss",	      "Private_Dirty",
					   "FilePmdMapped", "ShmemPmdMapped", "Shared_Hugetlb",
					   "Private_Hugetlb"};
	uint64_t h[4] = {0};
	uint64_t *vals[] = {&st->rss_kb, &st->pss_kb, &st->private_dirty_kb, &h[0], &h[1], &h[2],
			    &h[3]};

	read_kb_fields(path, keys, vals, 7);
	st->pmd_mapped_kb = h[0] + h[1] + h[2] + h[3];
}

int memstat_proc_add(struct memstat_proc *st, pid_t pid)
{
	struct memstat_proc w = {0};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	read_rollup(path, &w);
	if (!w.rss_kb)
		return err_set("cannot read %s", path);
	st->rss_kb += w.rss_kb;
	st->pss_kb += w.pss_kb;
	st->private_dirty_kb += w.private_dirty_kb;
	st->pmd_mapped_kb += w.pmd_mapped_kb;
	return 0;
}

int memstat_proc_read(struct memstat_proc *st)
{
	/* The kernel's own memory, where KVM keeps most of a VM (slab, page tables, vmalloc). */
	static const char *const meminfo_keys[] = {"MemAvailable", "Slab",	  "KernelStack",
						   "PageTables",   "SecPageTables", "Percpu",
						   "VmallocUsed"};
	uint64_t k[6] = {0};
	uint64_t *meminfo_vals[] = {&st->mem_available_kb, &k[0], &k[1], &k[2], &k[3], &k[4], &k[5]};

	memset(st, 0, sizeof(*st));
	read_rollup("/proc/self/smaps_rollup", st);
	read_kb_fields("/proc/meminfo", meminfo_keys, meminfo_vals, 7);
	st->kernel_kb = k[0] + k[1] + k[2] + k[3] + k[4] + k[5];
	st->page_tables_kb = k[2] + k[3];
	if (!st->rss_kb || !st->mem_available_kb)
		return err_set("cannot read /proc/self/smaps_rollup or /proc/meminfo");
	return 0;
}
