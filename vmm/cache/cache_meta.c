/* cache_meta.c: the sidecar DIR/KEY.meta beside each entry: its hits, its last use, and
 * whether the entry's data was verified as it is now. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/fdio.h"

#define CACHE_META_MAGIC "MVMMMETA"

struct meta_rec {
	struct cache_meta m;
	uint64_t check;
};

int cache_meta_read(const char *path, struct cache_meta *m)
{
	struct meta_rec r;
	int fd = fd_open_regular(path, O_NOFOLLOW);
	int ok;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return -1;
	ok = fd_pread_all(fd, &r, sizeof(r), 0) == 0 && memcmp(r.m.magic, CACHE_META_MAGIC, 8) == 0 &&
	     r.check == XXH3_64bits(&r.m, sizeof(r.m));
	close(fd);
	if (ok)
		*m = r.m;
	return ok ? 0 : -1;
}

/* In place, one small write: a torn record fails its check and reads as absent. */
void cache_meta_write(const char *path, const struct cache_meta *m)
{
	struct meta_rec r;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.m = *m;
	memcpy(r.m.magic, CACHE_META_MAGIC, 8);
	r.check = XXH3_64bits(&r.m, sizeof(r.m));
	(void)!pwrite(fd, &r, sizeof(r), 0);
	close(fd);
}

int cache_meta_matches(const struct cache_meta *m, const struct stat *st)
{
	return m->verified && m->dev == (uint64_t)st->st_dev && m->ino == (uint64_t)st->st_ino &&
	       m->size == (uint64_t)st->st_size && m->ctime_s == (int64_t)st->st_ctim.tv_sec &&
	       m->ctime_ns == (int64_t)st->st_ctim.tv_nsec;
}

void cache_meta_mark(struct cache_meta *m, const struct stat *st, uint64_t verify_ns)
{
	m->verified = 1;
	m->dev = (uint64_t)st->st_dev;
	m->ino = (uint64_t)st->st_ino;
	m->size = (uint64_t)st->st_size;
	m->ctime_s = (int64_t)st->st_ctim.tv_sec;
	m->ctime_ns = (int64_t)st->st_ctim.tv_nsec;
	m->verify_ns = verify_ns;
}
