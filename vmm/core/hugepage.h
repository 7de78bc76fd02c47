/*
 * hugepage.h: 2 MiB pages for guest memory: what the host offers, which
 * backing a guest gets, and the map of guest 2 MiB pages an image uses.
 *
 * Under PVM's shadow MMU a first touch costs one fault per 4 KiB page
 * unless the guest maps a range with a 2 MiB PDE *and* the host backs it
 * with a huge page at a 2 MiB-aligned address: then one fault maps 2 MiB.
 * Only ranges no guest writes are mapped so (text, read-only data): a write
 * there would copy 2 MiB under hugetlbfs and undo the huge mapping under THP.
 */
#ifndef MVMM_HUGEPAGE_H
#define MVMM_HUGEPAGE_H

#include <stdint.h>

#include "mvmm_abi.h"

#define HUGE_PAGE_SIZE	(2ull << 20)
#define HUGE_CHUNKS_MAX (MVMM_MEM_MAX / HUGE_PAGE_SIZE)

/* What the user asked for (--huge-pages). */
enum huge_mode {
	HUGE_MODE_AUTO,	   /* THP if the host allows it, else hugetlbfs if pages are free, else off */
	HUGE_MODE_THP,	   /* shmem transparent huge pages, or fail */
	HUGE_MODE_HUGETLB, /* hugetlbfs pages from vm.nr_hugepages, or fail */
	HUGE_MODE_OFF,	   /* 4 KiB pages only */
};

/* What a guest image got. */
enum huge_backing {
	HUGE_BACKING_NONE,    /* 4 KiB guest and host pages */
	HUGE_BACKING_THP,     /* huge chunks from a shmem memfd of transparent huge pages */
	HUGE_BACKING_HUGETLB, /* huge chunks from a hugetlbfs memfd (vm.nr_hugepages) */
};

/*
 * The guest 2 MiB pages of an image (chunk c is guest-physical
 * [c * 2 MiB, (c + 1) * 2 MiB)): mapped by one PDE each, read-only to the
 * guest and to the hypercalls that write guest buffers.
 */
struct huge_map {
	enum huge_backing backing;
	int fd;			/* the sealed memfd of the huge chunks (offset == GPA), or -1 */
	uint64_t nchunks;	/* bits set in chunks */
	uint64_t host_huge;	/* of those, how many the host backs with a huge page */
	uint64_t chunks[HUGE_CHUNKS_MAX / 64];
};

static inline int huge_map_test(const struct huge_map *h, uint64_t chunk)
{
	return chunk < HUGE_CHUNKS_MAX && ((h->chunks[chunk / 64] >> (chunk % 64)) & 1);
}

static inline void huge_map_set(struct huge_map *h, uint64_t chunk)
{
	h->chunks[chunk / 64] |= 1ull << (chunk % 64);
}

/* Parses "auto", "thp", "hugetlb" or "off"; -1 for anything else. */
int huge_mode_parse(const char *s, enum huge_mode *mode);
const char *huge_mode_name(enum huge_mode mode);
const char *huge_backing_name(enum huge_backing backing);

/* Whether shmem_enabled allows THPs in a MADV_HUGEPAGE mapping (advise, within_size, always, force). */
int huge_host_thp(void);
/* Free 2 MiB hugetlbfs pages (HugePages_Free), 0 when none or unknown. */
uint64_t huge_host_free(void);

/* Lets huge_choose print its hint (the command does; a program using the library does not). */
void huge_hints_enable(void);

/*
 * The backing for an image that wants `chunks` 2 MiB pages under `mode`.
 * AUTO never fails: with nothing offered it returns NONE, and once per
 * process prints a one-line hint on stderr if hints are enabled and stderr
 * is a terminal or MVMM_HINTS=1 (never with MVMM_HINTS=0). THP and HUGETLB fail (-1, the
 * message naming the host setting) when the host does not offer them.
 */
int huge_choose(enum huge_mode mode, uint64_t chunks, enum huge_backing *backing);

/*
 * Builds h->fd: a sealed memfd holding the chunks of h copied from memfd
 * (offset == GPA, the rest holes), of h->backing's kind: shmem collapsed
 * into THPs (MADV_COLLAPSE), or hugetlbfs. Counts the chunks the host backs
 * with a huge page in h->host_huge (a THP the kernel could not collapse
 * stays 4 KiB pages: correct, only slower). Fails cleanly, not with a
 * SIGBUS, when the hugetlbfs pool is short. Nothing to do for NONE.
 *
 * Every guest of the image, and every template and clone made from it,
 * maps this one memfd: huge chunks are read-only to guests, so they are the
 * image's pages whatever memory (template, snapshot, cache file) lies under.
 */
int huge_overlay_fill(int memfd, uint64_t size, struct huge_map *h);
/* The same from a file holding guest page 0 at offset base (a snapshot file's data region). */
int huge_overlay_fill_at(int memfd, uint64_t base, uint64_t size, struct huge_map *h);

/* Closes h->fd (a zeroed map owns none); h stays valid as a plan. */
void huge_map_release(struct huge_map *h);

/*
 * Maps h's chunks from h->fd, shared and read-only, over a guest-memory
 * mapping at host (2 MiB-aligned). Nothing to do without h->fd.
 */
int huge_map_apply(const struct huge_map *h, uint8_t *host, uint64_t size);

/* Whether [gpa, gpa + len) touches a chunk of h (len > 0, range already checked). */
int huge_map_overlaps(const struct huge_map *h, uint64_t gpa, uint64_t len);

#endif
