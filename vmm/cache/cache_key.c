/* cache_key.c: what the lookup key hashes: the guest ELF's content (memoized in DIR/ids/ by
 * the file's identity) and a template's argv and environment. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/fdio.h"
#include "guestabi/lx.h"
#include "mvmm_abi.h"
#include "clone/snapshot.h"

#define CACHE_IDS_MAGIC "MVMMELFH"
#define CACHE_ID_RACY_S 2 /* an ELF changed this recently may change again in the same tick */

int cache_elf_open(const char *path, struct elf_src *e)
{
	int fd = fd_open_regular(path, 0);

	memset(e, 0, sizeof(*e));
	e->map = MAP_FAILED;
	if (fd < 0)
		return -1;
	if (fstat(fd, &e->st) < 0 || !S_ISREG(e->st.st_mode) || e->st.st_size <= 0 ||
	    (uint64_t)e->st.st_size > MVMM_MEM_MAX) {
		close(fd);
		return -1;
	}
	e->len = (size_t)e->st.st_size;
	e->map = mmap(NULL, e->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return e->map == MAP_FAILED ? -1 : 0;
}

void cache_elf_close(struct elf_src *e)
{
	if (e->map != MAP_FAILED)
		munmap((void *)e->map, e->len);
	e->map = MAP_FAILED;
}

struct id_rec {
	char magic[8];
	uint64_t dev, ino, size;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint8_t hash[16];
	uint64_t check;
};

static void id_fill(struct id_rec *r, const struct stat *st)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->magic, CACHE_IDS_MAGIC, 8);
	r->dev = (uint64_t)st->st_dev;
	r->ino = (uint64_t)st->st_ino;
	r->size = (uint64_t)st->st_size;
	r->mtime_s = st->st_mtim.tv_sec;
	r->mtime_ns = st->st_mtim.tv_nsec;
	r->ctime_s = st->st_ctim.tv_sec;
	r->ctime_ns = st->st_ctim.tv_nsec;
}

/*
 * The ELF's content hash, memoized in DIR/ids/ by the file's identity: a
 * changed file has a new ctime (which no one can set), so a matching
 * record is the hash of the bytes as they are. Files changed within the
 * last seconds are not memoized (a second change could share the tick).
 */
void cache_elf_hash(const char *dir, const struct elf_src *e, uint8_t out[16])
{
	struct id_rec want, got;
	char path[1200];
	uint64_t ident[2] = {(uint64_t)e->st.st_dev, (uint64_t)e->st.st_ino};
	int fd;

	id_fill(&want, &e->st);
	snprintf(path, sizeof(path), "%s/ids/%016llx", dir,
		 (unsigned long long)XXH3_64bits(ident, sizeof(ident)));
	fd = fd_open_regular(path, O_NOFOLLOW);
	if (fd >= 0) {
		int ok = fd_pread_all(fd, &got, sizeof(got), 0) == 0 &&
			 got.check == XXH3_64bits(&got, offsetof(struct id_rec, check)) &&
			 memcmp(&got, &want, offsetof(struct id_rec, hash)) == 0;

		close(fd);
		if (ok) {
			memcpy(out, got.hash, 16);
			return;
		}
	}
	snap_hash128(e->map, e->len, out);
	if ((int64_t)wall_s() - e->st.st_ctim.tv_sec < CACHE_ID_RACY_S)
		return;
	memcpy(want.hash, out, 16);
	want.check = XXH3_64bits(&want, offsetof(struct id_rec, check));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!pwrite(fd, &want, sizeof(want), 0);
		close(fd);
	}
}

/*
 * What a guest is started with besides argv and envp: its trees
 * (the host directory as realpath resolves it now, with its device and
 * inode, so that a relative or replaced one is another key; its guest path;
 * rw), its cwd and its ready point. Each string with its NUL.
 */
static void lx_options_hash(XXH3_state_t *s, const struct lx_config *x)
{
	uint8_t ready = x->ready_on_stdin ? 1 : 0;
	const char *cwd = x->cwd ? x->cwd : "/";

	XXH3_128bits_update(s, &ready, 1);
	XXH3_128bits_update(s, cwd, strlen(cwd) + 1);
	for (size_t i = 0; i < x->ndirs; i++) {
		const struct lx_dir *d = &x->dirs[i];
		const char *guest = d->guest ? d->guest : d->host;
		char real[PATH_MAX];
		uint64_t id[3] = {0, 0, (uint64_t)(d->rw != 0)};
		struct stat st;

		if (!realpath(d->host, real))
			snprintf(real, sizeof(real), "%s", d->host);
		if (stat(real, &st) == 0) {
			id[0] = (uint64_t)st.st_dev;
			id[1] = (uint64_t)st.st_ino;
		}
		XXH3_128bits_update(s, real, strlen(real) + 1);
		XXH3_128bits_update(s, guest, strlen(guest) + 1);
		XXH3_128bits_update(s, id, sizeof(id));
	}
}

void cache_args_hash(const struct vm_config *cfg, uint8_t out[16], char *shown, size_t shown_len)
{
	XXH3_state_t *s = XXH3_createState();
	const char *const *v;
	size_t used = 0;
	uint8_t sep = 0xff;

	shown[0] = '\0';
	if (!s) {
		memset(out, 0xee, 16); /* never matches a real hash: no entry will be found */
		return;
	}
	XXH3_128bits_reset(s);
	for (v = cfg->argv; v && *v; v++) {
		XXH3_128bits_update(s, *v, strlen(*v) + 1);
		if (v != cfg->argv && used + 1 < shown_len)
			used += (size_t)snprintf(shown + used, shown_len - used, "%s%s",
						 used ? " " : "", *v);
	}
	XXH3_128bits_update(s, &sep, 1);
	for (v = cfg->envp; v && *v; v++)
		XXH3_128bits_update(s, *v, strlen(*v) + 1);
	if (cfg->lx) {
		XXH3_128bits_update(s, &sep, 1);
		lx_options_hash(s, cfg->lx);
	}
	XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits_digest(s));
	XXH3_freeState(s);
}

int cache_id_is_ours(const char *path)
{
	struct id_rec r;
	int fd = fd_open_regular(path, O_NOFOLLOW), ours;

	if (fd < 0)
		return 0;
	ours = fd_pread_all(fd, &r, sizeof(r), 0) == 0 && memcmp(r.magic, CACHE_IDS_MAGIC, 8) == 0 &&
	       r.check == XXH3_64bits(&r, offsetof(struct id_rec, check));
	close(fd);
	return ours;
}

