/* cache_int.h: the image cache's parts shared by lookup/store (cache.c) and management (cache_admin.c). */
#ifndef MVMM_CACHE_INT_H
#define MVMM_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cache.h"

enum entry_state { E_OK, E_MISSING, E_INCOMPATIBLE, E_DAMAGED };

/* An entry opened for reading: its header and page index checked. */
struct entry {
	int fd;
	struct stat st;
	struct cache_header h;
	uint64_t *index; /* 2 x index_entries */
	char why[200];
};

/* DIR/KEY.mvmmc and DIR/KEY.meta. */
void cache_entry_paths(const char *dir, const char *key, char *file, char *meta, size_t len);
/*
 * Opens path and checks everything but the data hash against want and its
 * hash want_hash (NULL: any key, for listing).
 */
enum entry_state cache_entry_open(const char *path, const struct cache_key *want,
				  const uint8_t *want_hash, struct entry *e);
/* Checks the page data's hash; *ns is what it took. */
enum entry_state cache_entry_check_data(struct entry *e, uint64_t *ns);
void cache_entry_free(struct entry *e);

/* The sidecar: hits, last use, and whether the data was verified as it is now. */
int cache_meta_read(const char *path, struct cache_meta *m);
void cache_meta_write(const char *path, const struct cache_meta *m);
int cache_meta_matches(const struct cache_meta *m, const struct stat *st);
void cache_meta_mark(struct cache_meta *m, const struct stat *st, uint64_t verify_ns);

#endif
