/* snapshot_int.h: what the snapshot files share and nothing else sees: the page size, the
 * layout's rounding, the hash and the header's hashes (writer, reader and restore alike). */
#ifndef MVMM_SNAPSHOT_INT_H
#define MVMM_SNAPSHOT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#include "mvmm_abi.h"
#include "snapshot.h"

#define PAGE MVMM_PAGE_SIZE

static inline uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static inline void hash128(const void *buf, size_t len, uint8_t out[16])
{
	XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits(buf, len));
}

/*
 * The header's content hash (into content, unless NULL) and its checksum, as the format
 * defines them (snapshot.h); the writer stores them, the reader checks them.
 */
void snap_header_hashes(const struct snap_header *h, uint8_t content[16], uint64_t *checksum);

/* Where the content of a guest page comes from while a snapshot is written. */
typedef const uint8_t *(*snap_page_fn)(void *ctx, uint64_t page);

/*
 * Writes header h (counts, kind, mem_size, resume and ELF fields filled by
 * the caller) to path with the index entries[0..n), for each non-zero
 * entry the page that src gives (a base's at its guest offset), then the
 * guest's process state lx (lx_len bytes).
 */
int snap_write(const char *path, struct snap_header *h, const uint64_t *entries, uint64_t n,
	       snap_page_fn src, void *ctx, const uint8_t *lx, size_t lx_len);

/* A chain "BASE[,DIFF...]" loaded, every file verified and the chain checked. */
struct snap_chain {
	char *copy;	    /* the list, its commas cut */
	const char **paths; /* into copy */
	struct snap_file *files;
	size_t n;
};

int snap_chain_load(const char *list, struct snap_chain *c);
void snap_chain_free(struct snap_chain *c);

#endif
