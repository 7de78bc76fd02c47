/* cache_admin.c: the image cache's management: list, verify, clear, and the size cap. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "mvmm_abi.h"

static int is_entry_name(const char *name, char key[33])
{
	size_t n = strlen(name), i;

	if (n != 32 + strlen(CACHE_SUFFIX) || strcmp(name + 32, CACHE_SUFFIX) != 0)
		return 0;
	for (i = 0; i < 32; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	memcpy(key, name, 32);
	key[32] = '\0';
	return 1;
}

static int list_dir(const char *dir, struct cache_entry_info **out, size_t *n)
{
	struct cache_entry_info *v = NULL;
	size_t cap = 0;
	struct dirent *d;
	DIR *dp = opendir(dir);

	*out = NULL;
	*n = 0;
	if (!dp)
		return errno == ENOENT ? 0 : err_sys("cache directory %s", dir);
	while ((d = readdir(dp)) != NULL) {
		struct cache_entry_info *i;
		char key[33], path[1100], meta[1100];
		struct cache_meta m;
		struct entry e;
		enum entry_state s;

		if (!is_entry_name(d->d_name, key))
			continue;
		if (*n == cap) {
			struct cache_entry_info *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				closedir(dp);
				free(v);
				return err_set("out of memory");
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		i = &v[(*n)++];
		memset(i, 0, sizeof(*i));
		memcpy(i->key, key, 33);
		cache_entry_paths(dir, key, path, meta, sizeof(path));
		s = cache_entry_open(path, NULL, NULL, &e);
		if (e.fd >= 0 || s != E_MISSING) {
			i->disk_bytes = (uint64_t)e.st.st_blocks * 512;
			if (s == E_OK || s == E_INCOMPATIBLE)
				i->hdr = e.h;
			i->problem = s == E_OK ? NULL
				     : s == E_INCOMPATIBLE ? "incompatible"
							   : "damaged";
		}
		cache_meta_read(meta, &m);
		i->hits = m.hits;
		i->last_use_ns = m.last_use_ns ? m.last_use_ns : (uint64_t)e.st.st_mtime * 1000000000ull;
		i->verified = s == E_OK && cache_meta_matches(&m, &e.st);
		cache_entry_free(&e);
	}
	closedir(dp);
	*out = v;
	return 0;
}

int cache_list(const struct cache_opts *o, struct cache_entry_info **out, size_t *n)
{
	char *dir = cache_dir_path(o);
	int r;

	if (!dir)
		return -1;
	r = list_dir(dir, out, n);
	free(dir);
	return r;
}

/* Removes the entry and its sidecar, each only if it is the cache's own file. */
static int remove_entry(const char *dir, const char *key)
{
	char path[1100], meta[1100];
	struct cache_meta m;

	cache_entry_paths(dir, key, path, meta, sizeof(path));
	if (!cache_entry_is_ours(path))
		return 0;
	unlink(path);
	if (cache_meta_read(meta, &m) == 0)
		unlink(meta);
	return 1;
}

/* KEY.meta, KEY 32 hex digits. */
static int is_meta_name(const char *name)
{
	char key[33], probe[64];

	if (strlen(name) != 32 + 5 || strcmp(name + 32, ".meta") != 0)
		return 0;
	snprintf(probe, sizeof(probe), "%.32s%s", name, CACHE_SUFFIX);
	return is_entry_name(probe, key);
}

/* KEY.mvmmc.tmp.XXXXXX (mkostemp's six): a store that died before its rename. */
static int is_tmp_name(const char *name)
{
	const char *t = name + 32 + strlen(CACHE_SUFFIX);
	char key[33], probe[64];

	if (strlen(name) != 32 + strlen(CACHE_SUFFIX) + 5 + 6 || strncmp(t, ".tmp.", 5) != 0)
		return 0;
	for (t += 5; *t; t++)
		if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z')))
			return 0;
	snprintf(probe, sizeof(probe), "%.*s", (int)(32 + strlen(CACHE_SUFFIX)), name);
	return is_entry_name(probe, key);
}

static int by_last_use(const void *a, const void *b)
{
	const struct cache_entry_info *x = a, *y = b;

	return x->last_use_ns < y->last_use_ns ? -1 : x->last_use_ns > y->last_use_ns;
}

int cache_trim(const char *dir, uint64_t max_bytes, const char *keep)
{
	struct cache_entry_info *v;
	uint64_t total = 0;
	size_t n, i;

	if (list_dir(dir, &v, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		total += v[i].disk_bytes;
	qsort(v, n, sizeof(*v), by_last_use);
	for (i = 0; i < n && total > max_bytes; i++) {
		char path[1100];

		cache_entry_paths(dir, v[i].key, path, NULL, sizeof(path));
		if (keep && strcmp(path, keep) == 0)
			continue;
		remove_entry(dir, v[i].key);
		total -= v[i].disk_bytes;
	}
	free(v);
	return 0;
}

int cache_verify_all(const struct cache_opts *o, void *out_file)
{
	FILE *out = out_file;
	char *dir = cache_dir_path(o);
	struct cache_entry_info *v;
	size_t n, i, bad = 0;

	if (!dir || list_dir(dir, &v, &n) < 0) {
		free(dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char path[1100], meta[1100];
		struct cache_meta m;
		struct entry e;
		enum entry_state s;
		uint64_t ns = 0;

		cache_entry_paths(dir, v[i].key, path, meta, sizeof(path));
		s = cache_entry_open(path, NULL, NULL, &e);
		if (s == E_OK)
			s = cache_entry_check_data(&e, &ns);
		if (s == E_OK) {
			cache_meta_read(meta, &m);
			cache_meta_mark(&m, &e.st, ns);
			cache_meta_write(meta, &m);
			fprintf(out, "%s  ok  %lu pages checked in %.1f ms\n", v[i].key,
				(unsigned long)e.h.data_pages, (double)ns / 1e6);
		} else {
			fprintf(out, "%s  %s: %s; removed\n", v[i].key,
				s == E_INCOMPATIBLE ? "incompatible" : "DAMAGED", e.why);
			remove_entry(dir, v[i].key);
			bad += s == E_DAMAGED;
		}
		cache_entry_free(&e);
	}
	fprintf(out, "%zu entries, %zu damaged\n", n, bad);
	free(v);
	free(dir);
	return bad ? 1 : 0;
}

int cache_clear(const struct cache_opts *o, uint64_t *removed, uint64_t *bytes)
{
	char *dir = cache_dir_path(o), path[1100];
	struct dirent *d;
	struct stat st;
	DIR *dp;

	*removed = *bytes = 0;
	if (!dir)
		return -1;
	dp = opendir(dir);
	if (!dp) {
		int r = errno == ENOENT ? 0 : err_sys("cache directory %s", dir);

		free(dir);
		return r;
	}
	/* Only files that are the cache's own by name and content: never by suffix alone. */
	while ((d = readdir(dp)) != NULL) {
		struct cache_meta m;
		char key[33];

		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (is_entry_name(d->d_name, key)) {
			if (lstat(path, &st) < 0 || !remove_entry(dir, key))
				continue;
			*bytes += (uint64_t)st.st_blocks * 512;
			(*removed)++;
		} else if (is_meta_name(d->d_name) && cache_meta_read(path, &m) == 0) {
			unlink(path);
		} else if (is_tmp_name(d->d_name) && lstat(path, &st) == 0 &&
			   S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
			unlink(path);
		}
	}
	closedir(dp);
	snprintf(path, sizeof(path), "%s/ids", dir);
	dp = opendir(path);
	if (dp) {
		while ((d = readdir(dp)) != NULL) {
			char p2[1400];

			if (d->d_name[0] == '.')
				continue;
			snprintf(p2, sizeof(p2), "%s/%s", path, d->d_name);
			if (cache_id_is_ours(p2))
				unlink(p2);
		}
		closedir(dp);
	}
	free(dir);
	return 0;
}
