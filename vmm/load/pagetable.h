/*
 * pagetable.h: the 4 KiB page tables an image is built with (the system
 * area, the program's segments with their ELF permissions, heap, stack).
 */
#ifndef MVMM_PAGETABLE_H
#define MVMM_PAGETABLE_H

#include <stdint.h>

#include "core/hugepage.h"
#include "elfload.h"

/*
 * Writes page tables for a guest of mem_size bytes into mem (the image,
 * mapped). Program pages get their ELF permissions (W^X where the ELF is),
 * and so do a dynamic program's loader's (interp, NULL or no segments for
 * none); heap and stack are user read-write no-execute, except that with a
 * loader the heap (where mmap puts libraries) is executable too: the page
 * tables never change after start (PVM never re-reads an entry the guest
 * used: the README's What it does not do yet). The system area is
 * supervisor only, page 0 and the stack guard page are not present.
 * Accessed and Dirty bits are preset everywhere so that the shadow MMU
 * never writes the shared page tables (see PLATFORM.md).
 */
void pagetable_build(uint8_t *mem, uint64_t mem_size, const struct elfload_program *prog,
		     const struct elfload_program *interp, uint64_t heap_start,
		     const struct huge_map *huge);

/*
 * The guest 2 MiB pages worth mapping with one PDE: 2 MiB-aligned chunks of
 * program memory below the heap that hold segment pages, none of them
 * writable (text, read-only data). Sets h->chunks and h->nchunks only.
 * pagetable_build maps those chunks with 2 MiB PDEs, user, read-only,
 * executable if any segment in it is (the chunk's pages share one entry, so
 * read-only data beside code becomes executable: W^X still holds).
 */
void pagetable_plan_huge(uint64_t mem_size, const struct elfload_program *prog,
			 uint64_t heap_start, struct huge_map *h);

#endif
