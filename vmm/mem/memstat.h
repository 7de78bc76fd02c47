/* memstat.h: exact per-instance and process-wide memory accounting, read from the kernel. */
#ifndef MVMM_MEMSTAT_H
#define MVMM_MEMSTAT_H

#include <stdint.h>
#include <sys/types.h>

#include "core/vm.h"

/*
 * Page counts for one instance's guest memory, from /proc/self/pagemap.
 * "Image" pages are those its source holds data for: the image's, or a
 * clone's template's (vm->data_map).
 */
struct memstat_vm {
	uint64_t image_untouched; /* image data pages the guest never touched */
	uint64_t image_shared;	  /* image data pages mapped from the image, shared */
	uint64_t image_private;	  /* image data pages the guest wrote: copied, diverged */
	uint64_t zero_shared;	  /* hole pages only read (mapped from the image's cache) */
	uint64_t zero_private;	  /* hole pages (heap, stack, boot info) the guest wrote */
	/* A Linux program's libraries (lx_memstat_read), not counted as zero pages above: */
	uint64_t lib_shared;  /* pages mapped from a host file as they are, shared */
	uint64_t lib_private; /* pages of those the guest wrote (relocations, .data): copied */
};

/* Process-wide figures, in KiB, from /proc/self/smaps_rollup and /proc/meminfo. */
struct memstat_proc {
	uint64_t rss_kb;
	uint64_t pss_kb;
	uint64_t private_dirty_kb;
	uint64_t mem_available_kb; /* system-wide MemAvailable */
	uint64_t kernel_kb;	   /* system-wide kernel memory: Slab, KernelStack, PageTables,
				      SecPageTables, Percpu, VmallocUsed */
	uint64_t page_tables_kb;   /* system-wide PageTables + SecPageTables (KVM's shadow pages) */
	uint64_t pmd_mapped_kb;	   /* this process: FilePmdMapped + ShmemPmdMapped + *_Hugetlb */
};

/*
 * Classifies every page of vm's guest memory: present or not, and for a
 * present page whether it is the image's (file-backed, shared) page or a
 * private anonymous copy. Returns 0, or -1 if pagemap could not be read.
 */
int memstat_vm_read(const struct vm *vm, struct memstat_vm *st);
/* The same over pagemap entries already read (memstat_pagemap). */
void memstat_vm_count(const struct vm *vm, const uint64_t *entries, struct memstat_vm *st);

int memstat_proc_read(struct memstat_proc *st);
/* Adds process pid's RSS, PSS and Private_Dirty to st (for worker processes). */
int memstat_proc_add(struct memstat_proc *st, pid_t pid);

/*
 * Every guest page's /proc/self/pagemap entry, in one read (malloc'd; NULL
 * on failure). Whole-memory scans use this: one open of pagemap, not one
 * per batch.
 */
uint64_t *memstat_pagemap(const struct vm *vm);
/* Raw /proc/self/pagemap entries of guest pages [first, first + n). */
int memstat_pagemap_read(const struct vm *vm, uint64_t first, uint64_t n, uint64_t *entries);
/* Whether a pagemap entry is a private (anonymous, copied or zero-filled) page. */
int memstat_entry_private(uint64_t entry);
/* Whether a pagemap entry maps a page at all (present or swapped; private or from a file). */
int memstat_entry_present(uint64_t entry);
#define MEMSTAT_BATCH 512

#endif
