/* cache.c: the persistent image cache: look an image or template up by key, map it, or build and store it. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/layout.h"
#include "mvmm_abi.h"
#include "clone/snapshot.h"

#define PAGE		  MVMM_PAGE_SIZE
#define CACHE_META_MAGIC  "MVMMMETA"
#define CACHE_IDS_MAGIC	  "MVMMELFH"
#define CACHE_INDEX_MAX	  (MVMM_MEM_MAX / PAGE)
#define CACHE_ID_RACY_S	  2 /* an ELF changed this recently may change again in the same tick */

_Static_assert(sizeof(struct cache_header) % 8 == 0, "cache header must stay 8-byte aligned");
_Static_assert(sizeof(struct cache_key) == 48, "cache key layout");

/* ---- small helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_s(void)
{
	return (uint64_t)time(NULL);
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void warn_add(struct cache_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* st->warning is one line: a second problem is appended to the first. */
static void warn_add(struct cache_status *st, const char *fmt, ...)
{
	size_t len = strlen(st->warning);
	va_list ap;

	if (len && len + 2 < sizeof(st->warning)) {
		strcpy(st->warning + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(st->warning + len, sizeof(st->warning) - len, fmt, ap);
	va_end(ap);
}

void cache_cpu_features(uint32_t out[4])
{
	/* What user code compiled for this host may use: SSE..AVX2, AVX-512, AES, SHA, BMI, ... */
	const uint32_t m1c = (1u << 0) | (1u << 1) | (1u << 9) | (1u << 12) | (1u << 13) |
			     (1u << 19) | (1u << 20) | (1u << 22) | (1u << 23) | (1u << 25) |
			     (1u << 26) | (1u << 28) | (1u << 29) | (1u << 30);
	const uint32_t m1d = (1u << 15) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26);
	const uint32_t m7b = (1u << 3) | (1u << 5) | (1u << 8) | (1u << 9) | (1u << 16) |
			     (1u << 17) | (1u << 18) | (1u << 19) | (1u << 28) | (1u << 29) |
			     (1u << 30) | (1u << 31);
	const uint32_t m7c = (1u << 1) | (1u << 8) | (1u << 9) | (1u << 10) | (1u << 11) |
			     (1u << 12) | (1u << 14);
	unsigned a, b, c, d;

	memset(out, 0, 4 * sizeof(*out));
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		out[0] = c & m1c;
		out[1] = d & m1d;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		out[2] = b & m7b;
		out[3] = c & m7c;
	}
}

void cache_header_seal(struct cache_header *h)
{
	h->header_checksum = 0;
	h->header_checksum = XXH3_64bits(h, sizeof(*h));
}

/* ---- the directory ---- */

char *cache_dir_path(const struct cache_opts *o)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (o->dir && *o->dir)
		p = strdup(o->dir);
	else if (xdg && *xdg == '/')
		(void)!asprintf(&p, "%s/mvmm", xdg);
	else if (home && *home)
		(void)!asprintf(&p, "%s/.cache/mvmm", home);
	else {
		err_set("no cache directory: set --cache-dir, XDG_CACHE_HOME or HOME");
		return NULL;
	}
	if (!p)
		err_set("out of memory");
	return p;
}

/* mkdir -p, the last component 0700; refuses a directory others could write into. */
static int dir_prepare(const char *dir)
{
	char *p = strdup(dir), *s;
	struct stat st;

	if (!p)
		return err_set("out of memory");
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err_sys("cache directory %s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_sys("cache directory %s", dir);
	if (stat(dir, &st) < 0)
		return err_sys("cache directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set("cache directory %s: not a directory", dir);
	/* Cache files become guest memory: nobody else may plant one. */
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return err_set("cache directory %s: owned by another user or writable by others",
			       dir);
	return 0;
}

void cache_entry_paths(const char *dir, const char *key, char *file, char *meta, size_t len)
{
	snprintf(file, len, "%s/%s%s", dir, key, CACHE_SUFFIX);
	if (meta)
		snprintf(meta, len, "%s/%s.meta", dir, key);
}

/* ---- the sidecar ---- */

struct meta_rec {
	struct cache_meta m;
	uint64_t check;
};

int cache_meta_read(const char *path, struct cache_meta *m)
{
	struct meta_rec r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
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

/* ---- the guest ELF ---- */

struct elf_src {
	const uint8_t *map;
	size_t len;
	struct stat st;
};

static int elf_open(const char *path, struct elf_src *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

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

static void elf_close(struct elf_src *e)
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
static void elf_hash(const char *dir, const struct elf_src *e, uint8_t out[16])
{
	struct id_rec want, got;
	char path[1200];
	uint64_t ident[2] = {(uint64_t)e->st.st_dev, (uint64_t)e->st.st_ino};
	int fd;

	id_fill(&want, &e->st);
	snprintf(path, sizeof(path), "%s/ids/%016llx", dir,
		 (unsigned long long)XXH3_64bits(ident, sizeof(ident)));
	fd = open(path, O_RDONLY | O_CLOEXEC);
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

static void args_hash(const struct vm_config *cfg, uint8_t out[16], char *shown, size_t shown_len)
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
	XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits_digest(s));
	XXH3_freeState(s);
}

/* ---- reading an entry ---- */


void cache_entry_free(struct entry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->index);
	e->fd = -1;
	e->index = NULL;
}

static enum entry_state entry_bad(struct entry *e, enum entry_state s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum entry_state entry_bad(struct entry *e, enum entry_state s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	return s;
}

static enum entry_state entry_check_index(struct entry *e)
{
	const struct cache_header *h = &e->h;
	uint64_t npages = h->key.mem_size / PAGE, i, next = 0, pages = 0;
	size_t len = (size_t)h->index_entries * 16;
	uint8_t hash[16];

	e->index = malloc(len ? len : 1);
	if (!e->index)
		return entry_bad(e, E_DAMAGED, "out of memory reading the index");
	if (fd_pread_all(e->fd, e->index, len, h->index_offset) < 0)
		return entry_bad(e, E_DAMAGED, "truncated (index unreadable)");
	snap_hash128(e->index, len, hash);
	if (memcmp(hash, h->index_hash, 16) != 0)
		return entry_bad(e, E_DAMAGED, "page index corrupted (index hash mismatch)");
	for (i = 0; i < h->index_entries; i++) {
		uint64_t first = e->index[2 * i], n = e->index[2 * i + 1];

		if (n == 0 || first < next || first > npages || n > npages - first)
			return entry_bad(e, E_DAMAGED, "page index entry %lu out of order or range",
					 (unsigned long)i);
		next = first + n;
		pages += n;
	}
	if (pages != h->data_pages)
		return entry_bad(e, E_DAMAGED, "page index counts %lu pages, header says %lu",
				 (unsigned long)pages, (unsigned long)h->data_pages);
	return E_OK;
}

/*
 * Opens path and checks everything but the data hash. want: the key the
 * caller looks for (NULL: any, for listing); templates need this host's
 * CPU features.
 */
enum entry_state cache_entry_open(const char *path, const struct cache_key *want,
				   const uint8_t *want_hash, struct entry *e)
{
	struct cache_header *h = &e->h;
	uint32_t cpu[4];
	uint64_t sum, npages;

	memset(e, 0, sizeof(*e));
	e->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (e->fd < 0)
		return errno == ENOENT ? E_MISSING
				       : entry_bad(e, E_DAMAGED, "cannot open: %s", strerror(errno));
	if (fstat(e->fd, &e->st) < 0 || !S_ISREG(e->st.st_mode))
		return entry_bad(e, E_DAMAGED, "not a regular file");
	if (e->st.st_uid != geteuid())
		return entry_bad(e, E_INCOMPATIBLE, "owned by another user");
	if ((uint64_t)e->st.st_size < sizeof(*h))
		return entry_bad(e, E_DAMAGED, "truncated: %lld bytes, shorter than a header",
				 (long long)e->st.st_size);
	if (fd_pread_all(e->fd, h, sizeof(*h), (uint64_t)e->st.st_size - sizeof(*h)) < 0)
		return entry_bad(e, E_DAMAGED, "header unreadable");
	if (memcmp(h->magic, CACHE_MAGIC, 8) != 0)
		return entry_bad(e, E_DAMAGED, "no cache header at the end (truncated or not a "
					       "cache file)");
	if (h->format_version != CACHE_FORMAT_VERSION || h->header_size != sizeof(*h))
		return entry_bad(e, E_INCOMPATIBLE, "format version %u", h->format_version);
	sum = h->header_checksum;
	cache_header_seal(h);
	if (sum != h->header_checksum)
		return entry_bad(e, E_DAMAGED, "header corrupted (header checksum mismatch)");
	if (h->abi_version != MVMM_ABI_VERSION || h->state_size != sizeof(h->state))
		return entry_bad(e, E_INCOMPATIBLE, "made for guest ABI %u", h->abi_version);
	if (want && (memcmp(&h->key, want, sizeof(*want)) != 0 ||
		     memcmp(h->key_hash, want_hash, 16) != 0))
		return entry_bad(e, E_INCOMPATIBLE, "holds another key");
	cache_cpu_features(cpu);
	if (h->key.kind == CACHE_TEMPLATE && memcmp(cpu, h->cpu_features, sizeof(cpu)) != 0)
		return entry_bad(e, E_INCOMPATIBLE, "made on a host with other CPU features");
	npages = h->key.mem_size / PAGE;
	if ((h->key.kind != CACHE_IMAGE && h->key.kind != CACHE_TEMPLATE) ||
	    h->key.mem_size < MVMM_MEM_MIN || h->key.mem_size > MVMM_MEM_MAX ||
	    h->key.mem_size % (2u << 20) || h->data_offset != 0 ||
	    h->index_offset != h->key.mem_size || h->index_entries > npages ||
	    h->data_pages > npages || h->header_offset != h->index_offset + h->index_entries * 16 ||
	    h->file_size != h->header_offset + sizeof(*h) ||
	    (h->key.kind == CACHE_TEMPLATE &&
	     (h->ready_block % 8 || h->ready_block > h->key.mem_size - 8)))
		return entry_bad(e, E_DAMAGED, "inconsistent layout (counts and offsets disagree)");
	if ((uint64_t)e->st.st_size != h->file_size)
		return entry_bad(e, E_DAMAGED, "%lld bytes where the header says %lu",
				 (long long)e->st.st_size, (unsigned long)h->file_size);
	return entry_check_index(e);
}

/* The data pages' hash against the header's; *ns is what it took. */
enum entry_state cache_entry_check_data(struct entry *e, uint64_t *ns)
{
	uint64_t t0 = now_ns(), i;
	XXH3_state_t *s = XXH3_createState();
	const uint8_t *mem;
	uint8_t hash[16];

	if (!s)
		return entry_bad(e, E_DAMAGED, "out of memory checking the data");
	mem = mmap(NULL, e->h.key.mem_size, PROT_READ, MAP_SHARED, e->fd, 0);
	if (mem == MAP_FAILED) {
		XXH3_freeState(s);
		return entry_bad(e, E_DAMAGED, "cannot map the data: %s", strerror(errno));
	}
	madvise((void *)mem, e->h.key.mem_size, MADV_SEQUENTIAL);
	XXH3_128bits_reset(s);
	for (i = 0; i < e->h.index_entries; i++)
		XXH3_128bits_update(s, mem + e->index[2 * i] * PAGE, e->index[2 * i + 1] * PAGE);
	XXH128_canonicalFromHash((XXH128_canonical_t *)hash, XXH3_128bits_digest(s));
	XXH3_freeState(s);
	munmap((void *)mem, e->h.key.mem_size);
	*ns = now_ns() - t0;
	if (memcmp(hash, e->h.data_hash, 16) != 0)
		return entry_bad(e, E_DAMAGED, "page data corrupted (data hash mismatch)");
	return E_OK;
}

/* The image over a checked entry: its data map from the index, symbols from the ELF. */
static struct image *entry_image(struct entry *e, const char *elf_path, const struct elf_src *src)
{
	uint64_t npages = e->h.key.mem_size / PAGE, i, p;
	struct image *img = calloc(1, sizeof(*img));

	if (!img) {
		err_set("out of memory");
		return NULL;
	}
	img->refs = 1;
	img->mem_size = e->h.key.mem_size;
	img->memfd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
	img->data_map = calloc((npages + 7) / 8, 1);
	img->name = strdup(elf_path);
	if (img->memfd < 0 || !img->data_map || !img->name) {
		err_sys("opening a cached image");
		goto fail;
	}
	for (i = 0; i < e->h.index_entries; i++)
		for (p = e->index[2 * i]; p < e->index[2 * i] + e->index[2 * i + 1]; p++)
			img->data_map[p >> 3] |= (uint8_t)(1u << (p & 7));
	img->data_pages = e->h.data_pages;
	if (elfload_parse(src->map, src->len, img->mem_size, MVMM_IMAGE_BASE, &img->prog) < 0) {
		err_prefix("%s", elf_path);
		goto fail;
	}
	img->heap_start = img->prog.hi;
	img->heap_end = layout_guard_page(img->mem_size);
	return img;
fail:
	image_put(img);
	return NULL;
}

/* ---- writing an entry ---- */

struct store_req {
	const char *dir, *path, *meta_path, *elf_path;
	const struct cache_key *key;
	const uint8_t *key_hash;
	int memfd;
	const struct template *tpl; /* NULL for an image */
	const char *args_shown;
	uint64_t elf_size, build_ns;
};

static int store_data(struct snap_out *o, const struct store_req *r, uint64_t **index,
		      uint64_t *nindex, uint64_t *pages)
{
	uint64_t mem_size = r->key->mem_size, cap = 64;
	const uint8_t *mem;
	off_t data = 0, hole;
	int ret = -1;

	*index = malloc(cap * 16);
	*nindex = *pages = 0;
	mem = mmap(NULL, mem_size, PROT_READ, MAP_PRIVATE, r->memfd, 0);
	if (!*index || mem == MAP_FAILED) {
		err_sys("cache: mapping the image");
		goto out;
	}
	/* The memfd's data ranges are the entry's pages; its holes stay holes. */
	while ((uint64_t)data < mem_size && (data = lseek(r->memfd, data, SEEK_DATA)) >= 0) {
		uint64_t a, b;

		hole = lseek(r->memfd, data, SEEK_HOLE);
		if (hole < 0) {
			err_sys("cache: SEEK_HOLE");
			goto out;
		}
		a = (uint64_t)data / PAGE;
		b = ((uint64_t)hole + PAGE - 1) / PAGE;
		if (b > mem_size / PAGE)
			b = mem_size / PAGE;
		if (a >= b)
			break;
		if (*nindex == cap) {
			uint64_t *n = realloc(*index, cap * 2 * 16);

			if (!n) {
				err_set("out of memory");
				goto out;
			}
			*index = n;
			cap *= 2;
		}
		(*index)[2 * *nindex] = a;
		(*index)[2 * *nindex + 1] = b - a;
		(*nindex)++;
		*pages += b - a;
		XXH3_128bits_update(o->data, mem + a * PAGE, (b - a) * PAGE);
		if (fd_pwrite_all(o->fd, mem + a * PAGE, (b - a) * PAGE, a * PAGE) < 0) {
			if (errno == ENOSPC || errno == EDQUOT)
				err_set("writing cache entry %s: %s: the disk is full", r->path,
					strerror(errno));
			else
				err_sys("writing cache entry %s", r->path);
			goto out;
		}
		data = (off_t)(b * PAGE);
	}
	ret = 0;
out:
	if (mem != MAP_FAILED)
		munmap((void *)mem, mem_size);
	return ret;
}

static int entry_store(const struct store_req *r)
{
	struct snap_out o;
	struct cache_header *h = calloc(1, sizeof(*h));
	uint64_t *index = NULL, nindex = 0, pages = 0;
	struct cache_meta m = {0};
	const char *base;
	int ok = 0;

	if (!h)
		return err_set("out of memory");
	if (snap_out_open(&o, r->path, "cache entry", 1) < 0)
		goto done;
	if (store_data(&o, r, &index, &nindex, &pages) < 0)
		goto done;
	memcpy(h->magic, CACHE_MAGIC, 8);
	h->format_version = CACHE_FORMAT_VERSION;
	h->header_size = sizeof(*h);
	h->abi_version = MVMM_ABI_VERSION;
	h->state_size = sizeof(h->state);
	h->key = *r->key;
	memcpy(h->key_hash, r->key_hash, 16);
	if (r->key->kind == CACHE_TEMPLATE)
		cache_cpu_features(h->cpu_features);
	h->elf_size = r->elf_size;
	h->data_pages = pages;
	h->index_offset = r->key->mem_size;
	h->index_entries = nindex;
	h->header_offset = h->index_offset + nindex * 16;
	h->file_size = h->header_offset + sizeof(*h);
	h->created_s = wall_s();
	h->build_ns = r->build_ns;
	snap_hash128(index, nindex * 16, h->index_hash);
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->data_hash, XXH3_128bits_digest(o.data));
	base = strrchr(r->elf_path, '/');
	snprintf(h->elf_name, sizeof(h->elf_name), "%s", base ? base + 1 : r->elf_path);
	snprintf(h->args, sizeof(h->args), "%s", r->args_shown ? r->args_shown : "");
	if (r->tpl) {
		h->state = r->tpl->state;
		h->ready_block = r->tpl->ready_block;
	}
	cache_header_seal(h);
	if (lseek(o.fd, (off_t)h->index_offset, SEEK_SET) < 0 ||
	    snap_out_put(&o, index, nindex * 16) < 0 || snap_out_put(&o, h, sizeof(*h)) < 0 ||
	    snap_out_flush(&o) < 0)
		goto done;
	ok = 1;
done:
	ok = snap_out_close(&o, ok) == 0 && ok;
	if (ok) {
		/* A fresh record: no hits, not yet verified by a reader. */
		m.last_use_ns = wall_ns();
		cache_meta_write(r->meta_path, &m);
	}
	free(index);
	free(h);
	return ok ? 0 : -1;
}

/* ---- lookup ---- */

struct lookup {
	char *dir;
	char key_hex[33];
	char path[1100], meta[1100];
	struct cache_key key;
	uint8_t key_hash[16];
	struct elf_src src;
	uint64_t t0;
};

static uint64_t round_mem(uint64_t mem_size)
{
	return (mem_size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
}

/*
 * Prepares the lookup; 0 to go on with the cache, -1 to go without (a
 * warning was set when that is a problem worth telling).
 */
static int lookup_begin(struct lookup *l, const struct cache_opts *o, const char *elf_path,
			uint64_t mem_size, enum cache_kind kind, const struct vm_config *cfg,
			char *args_shown, size_t args_len, struct cache_status *st)
{
	memset(l, 0, sizeof(*l));
	l->src.map = MAP_FAILED;
	l->t0 = now_ns();
	memset(st, 0, sizeof(*st));
	st->outcome = CACHE_OFF;
	args_shown[0] = '\0';
	if (o->off || mem_size < MVMM_MEM_MIN || mem_size > MVMM_MEM_MAX)
		return -1;
	l->dir = cache_dir_path(o);
	if (!l->dir || dir_prepare(l->dir) < 0) {
		warn_add(st, "cache: %s; running without the cache", mvmm_errmsg());
		return -1;
	}
	mkdir(strcat(strcpy(l->path, l->dir), "/ids"), 0700); /* memo of ELF hashes */
	if (elf_open(elf_path, &l->src) < 0)
		return -1; /* the loader will name the problem */
	elf_hash(l->dir, &l->src, l->key.elf_hash);
	l->key.mem_size = round_mem(mem_size);
	l->key.kind = kind;
	if (kind == CACHE_TEMPLATE)
		args_hash(cfg, l->key.args_hash, args_shown, args_len);
	snap_hash128(&l->key, sizeof(l->key), l->key_hash);
	hex(l->key_hash, 16, l->key_hex);
	cache_entry_paths(l->dir, l->key_hex, l->path, l->meta, sizeof(l->path));
	snprintf(st->path, sizeof(st->path), "%s", l->path);
	return 0;
}

static void lookup_end(struct lookup *l, struct cache_status *st)
{
	elf_close(&l->src);
	free(l->dir);
	st->load_ns = now_ns() - l->t0;
}

/* Looks the entry up: E_OK with e open and checked (data included), else why not. */
static enum entry_state lookup_entry(struct lookup *l, struct entry *e, struct cache_status *st)
{
	enum entry_state s = cache_entry_open(l->path, &l->key, l->key_hash, e);
	struct cache_meta m;

	cache_meta_read(l->meta, &m);
	if (s == E_OK && !cache_meta_matches(&m, &e->st)) {
		s = cache_entry_check_data(e, &st->verify_ns);
		if (s == E_OK) {
			st->verified_now = 1;
			cache_meta_mark(&m, &e->st, st->verify_ns);
		}
	}
	if (s == E_OK) {
		m.hits++;
		m.last_use_ns = wall_ns();
		cache_meta_write(l->meta, &m);
		st->outcome = CACHE_HIT;
		return s;
	}
	if (s == E_DAMAGED) {
		warn_add(st, "cache: %s: %s; removed, rebuilding", l->path, e->why);
		unlink(l->path);
		unlink(l->meta);
		st->outcome = CACHE_REBUILT;
	} else {
		st->outcome = s == E_INCOMPATIBLE ? CACHE_REPLACED : CACHE_BUILT;
	}
	cache_entry_free(e);
	return s;
}

static void lookup_store(struct lookup *l, const struct cache_opts *o, struct store_req *r,
			 struct cache_status *st)
{
	r->dir = l->dir;
	r->path = l->path;
	r->meta_path = l->meta;
	r->key = &l->key;
	r->key_hash = l->key_hash;
	r->elf_size = l->src.len;
	if (entry_store(r) < 0) {
		warn_add(st, "cache: not stored: %s; running without the cache", mvmm_errmsg());
		st->outcome = CACHE_OFF;
		return;
	}
	cache_trim(l->dir, o->max_bytes ? o->max_bytes : CACHE_MAX_DEFAULT, l->path);
}

struct image *cache_load_image(const struct cache_opts *o, const char *elf_path,
			       uint64_t mem_size, struct cache_status *st)
{
	struct store_req r = {0};
	struct image *img = NULL;
	struct lookup l;
	struct entry e;
	char shown[4];
	uint64_t t0;

	if (lookup_begin(&l, o, elf_path, mem_size, CACHE_IMAGE, NULL, shown, sizeof(shown),
			 st) < 0) {
		lookup_end(&l, st);
		return image_load_file(elf_path, mem_size);
	}
	if (lookup_entry(&l, &e, st) == E_OK) {
		img = entry_image(&e, elf_path, &l.src);
		cache_entry_free(&e);
		lookup_end(&l, st);
		return img;
	}
	t0 = now_ns();
	img = image_load_buffer(l.src.map, l.src.len, elf_path, mem_size);
	if (img) {
		r.elf_path = elf_path;
		r.memfd = img->memfd;
		r.build_ns = now_ns() - t0;
		lookup_store(&l, o, &r, st);
	}
	lookup_end(&l, st);
	return img;
}

struct template *cache_load_template(const struct cache_opts *o, struct kvm_sys *kvm,
				     const char *elf_path, uint64_t mem_size,
				     const struct vm_config *cfg, struct vm_result *res,
				     struct cache_status *st)
{
	struct template *tpl = NULL;
	struct store_req r = {0};
	struct image *img;
	struct lookup l;
	struct entry e;
	char shown[CACHE_NAME_MAX];
	uint64_t t0;

	memset(res, 0, sizeof(*res));
	if (lookup_begin(&l, o, elf_path, mem_size, CACHE_TEMPLATE, cfg, shown, sizeof(shown),
			 st) == 0 &&
	    lookup_entry(&l, &e, st) == E_OK) {
		img = entry_image(&e, elf_path, &l.src);
		if (img) {
			tpl = template_from_parts(img, e.fd, &e.h.state, e.h.ready_block);
			e.fd = -1; /* taken, even on failure */
			if (tpl)
				tpl->data_pages = e.h.data_pages;
			image_put(img);
		}
		cache_entry_free(&e);
		lookup_end(&l, st);
		if (tpl)
			tpl->boot_ns = st->load_ns;
		return tpl;
	}
	t0 = now_ns();
	img = l.src.map != MAP_FAILED
		      ? image_load_buffer(l.src.map, l.src.len, elf_path, mem_size)
		      : image_load_file(elf_path, mem_size);
	if (img) {
		tpl = template_create(kvm, img, cfg, res);
		image_put(img);
	}
	if (tpl && st->outcome != CACHE_OFF) {
		r.elf_path = elf_path;
		r.memfd = tpl->memfd;
		r.tpl = tpl;
		r.args_shown = shown;
		r.build_ns = now_ns() - t0;
		lookup_store(&l, o, &r, st);
	}
	lookup_end(&l, st);
	return tpl;
}

