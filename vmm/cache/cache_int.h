/* cache_int.h: the image cache's internals: the entry format, the sidecar, the directory, the key
 * and the store, shared by lookup (cache.c) and management (cache_admin.c); they call neither. */
#ifndef MVMM_CACHE_INT_H
#define MVMM_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"

/* ---- clocks ---- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t wall_s(void)
{
	return (uint64_t)time(NULL);
}

static inline uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the entry file (cache_entry.c) ---- */

enum entry_state { E_OK, E_MISSING, E_INCOMPATIBLE, E_DAMAGED };

/* An entry opened for reading: its header and page index checked. */
struct entry {
	int fd;
	struct stat st;
	struct cache_header h;
	uint64_t *index; /* 2 x index_entries */
	uint8_t *lx;	 /* a template's process state (lx_size bytes), or NULL */
	char why[200];
};

/* DIR/KEY.mvmmc and DIR/KEY.meta. */
void cache_entry_paths(const char *dir, const char *key, char *file, char *meta, size_t len);
/*
 * Opens path and checks everything but the data hash against want and its
 * hash want_hash (NULL: any key, for listing).
 */
/* Whether path ends in a cache header (a file of the cache's own, damaged or not). */
int cache_entry_is_ours(const char *path);
/* Whether path is a memo record of DIR/ids/ (its magic and checksum). */
int cache_id_is_ours(const char *path);
enum entry_state cache_entry_open(const char *path, const struct cache_key *want,
				  const uint8_t *want_hash, struct entry *e);
/* Checks the page data's hash; *ns is what it took. */
enum entry_state cache_entry_check_data(struct entry *e, uint64_t *ns);
void cache_entry_free(struct entry *e);

/* ---- the sidecar (cache_meta.c) ---- */

/* Hits, last use, and whether the data was verified as it is now. */
int cache_meta_read(const char *path, struct cache_meta *m);
void cache_meta_write(const char *path, const struct cache_meta *m);
int cache_meta_matches(const struct cache_meta *m, const struct stat *st);
void cache_meta_mark(struct cache_meta *m, const struct stat *st, uint64_t verify_ns);

/* ---- the directory (cache_dir.c) ---- */

/* mkdir -p, the last component 0700; refuses a directory others could write into. */
int cache_dir_prepare(const char *dir);

/* ---- the key (cache_key.c) ---- */

/* The guest ELF, mapped read-only. */
struct elf_src {
	const uint8_t *map;
	size_t len;
	struct stat st;
};

int cache_elf_open(const char *path, struct elf_src *e);
void cache_elf_close(struct elf_src *e);
/* The ELF's content hash, memoized in DIR/ids/ by the file's identity. */
void cache_elf_hash(const char *dir, const struct elf_src *e, uint8_t out[16]);
/*
 * The hash of cfg's argv and envp and its guest options (trees, cwd, ready
 * point); shown gets argv[1..] joined, cut short.
 */
void cache_args_hash(const struct vm_config *cfg, uint8_t out[16], char *shown, size_t shown_len);

/* ---- storing an entry (cache_store.c) ---- */

struct store_req {
	const char *dir, *path, *meta_path, *elf_path;
	const struct cache_key *key;
	const uint8_t *key_hash;
	int memfd;
	const struct template *tpl; /* NULL for an image */
	const char *args_shown;
	uint64_t elf_size, build_ns;
};

/* Writes the entry r describes (and a fresh sidecar); -1 with the message set. */
int cache_entry_store(const struct store_req *r);

#endif
