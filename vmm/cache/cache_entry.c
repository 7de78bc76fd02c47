/* cache_entry.c: the cache entry file: its header, its name, and opening and checking an entry
 * (header, page index, data hash); the lowest part of the cache, calling no other file of it. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/x86.h"
#include "guestabi/lx.h"
#include "mvmm_abi.h"
#include "clone/snapshot.h"

#define PAGE		MVMM_PAGE_SIZE
#define CACHE_INDEX_MAX (MVMM_MEM_MAX / PAGE)

_Static_assert(sizeof(struct cache_header) % 8 == 0, "cache header must stay 8-byte aligned");
_Static_assert(sizeof(struct cache_key) == 48, "cache key layout");

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

void cache_entry_paths(const char *dir, const char *key, char *file, char *meta, size_t len)
{
	snprintf(file, len, "%s/%s%s", dir, key, CACHE_SUFFIX);
	if (meta)
		snprintf(meta, len, "%s/%s.meta", dir, key);
}

/* ---- reading an entry ---- */

void cache_entry_free(struct entry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->index);
	free(e->lx);
	e->fd = -1;
	e->index = NULL;
	e->lx = NULL;
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

/* A template's process state, read and its hash checked (its fields are lx_proc_load's). */
static enum entry_state entry_check_lx(struct entry *e)
{
	const struct cache_header *h = &e->h;
	uint8_t hash[16] = {0};

	if (h->lx_size) {
		e->lx = malloc(h->lx_size);
		if (!e->lx)
			return entry_bad(e, E_DAMAGED, "out of memory reading the process state");
		if (fd_pread_all(e->fd, e->lx, h->lx_size, h->lx_offset) < 0)
			return entry_bad(e, E_DAMAGED, "truncated (process state unreadable)");
		snap_hash128(e->lx, h->lx_size, hash);
	}
	if (memcmp(hash, h->lx_hash, 16) != 0)
		return entry_bad(e, E_DAMAGED, "process state corrupted (its hash mismatches)");
	return E_OK;
}

/* The last bytes of an entry that may hold a header of any format version. */
#define CACHE_OTHER_SCAN (64u << 10)

/*
 * Whether fd (size bytes) ends in the header of another format version
 * (another size: its magic is not where this version's would start): the
 * magic, then at offsets 8 and 12 the version and a header size that
 * reaches the file's end exactly. Such an entry is replaced quietly.
 */
static int other_format(int fd, uint64_t size, uint32_t *version)
{
	size_t n = size < CACHE_OTHER_SCAN ? (size_t)size : CACHE_OTHER_SCAN;
	uint8_t *b = malloc(n ? n : 1);
	int found = 0;

	if (b && n >= 16 && fd_pread_all(fd, b, n, size - n) == 0)
		for (size_t off = n - 16; !found && off-- > 0;) {
			uint32_t v, hs;

			if (memcmp(b + off, CACHE_MAGIC, 8) != 0)
				continue;
			memcpy(&v, b + off + 8, 4);
			memcpy(&hs, b + off + 12, 4);
			found = hs == n - off && v != CACHE_FORMAT_VERSION;
			if (found && version)
				*version = v;
		}
	free(b);
	return found;
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
	uint32_t cpu[4], version;
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
	if ((uint64_t)e->st.st_size < sizeof(*h) ||
	    fd_pread_all(e->fd, h, sizeof(*h), (uint64_t)e->st.st_size - sizeof(*h)) < 0 ||
	    memcmp(h->magic, CACHE_MAGIC, 8) != 0) {
		if (other_format(e->fd, (uint64_t)e->st.st_size, &version))
			return entry_bad(e, E_INCOMPATIBLE, "format version %u", version);
		if ((uint64_t)e->st.st_size < sizeof(*h))
			return entry_bad(e, E_DAMAGED, "truncated: %lld bytes, shorter than a header",
					 (long long)e->st.st_size);
		return entry_bad(e, E_DAMAGED, "no cache header at the end (truncated or not a "
					       "cache file)");
	}
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
	    h->data_pages > npages || h->lx_offset != h->index_offset + h->index_entries * 16 ||
	    h->lx_size > LX_REC_MAX || (h->lx_size && h->key.kind != CACHE_TEMPLATE) ||
	    h->header_offset != h->lx_offset + h->lx_size ||
	    h->file_size != h->header_offset + sizeof(*h) ||
	    (h->key.kind == CACHE_TEMPLATE &&
	     (h->ready_block % 8 || h->ready_block > h->key.mem_size - 8)))
		return entry_bad(e, E_DAMAGED, "inconsistent layout (counts and offsets disagree)");
	/* Every guest is a Linux program: every template has its process state. */
	if (h->key.kind == CACHE_TEMPLATE && !h->lx_size)
		return entry_bad(e, E_DAMAGED, "a template without its process state");
	if ((uint64_t)e->st.st_size != h->file_size)
		return entry_bad(e, E_DAMAGED, "%lld bytes where the header says %lu",
				 (long long)e->st.st_size, (unsigned long)h->file_size);
	/* The VMM runs its own exception stubs and tables, never ones from a file. */
	if (!x86_system_is_ours(e->fd))
		return entry_bad(e, E_DAMAGED, "system area (descriptor tables, exception stubs) "
					       "is not the one mvmm builds");
	/* A checksum anyone can recompute proves nothing: the state is checked field by field. */
	if (h->key.kind == CACHE_TEMPLATE && vcpu_state_check(&h->state) < 0)
		return entry_bad(e, E_DAMAGED, "%s", mvmm_errmsg());
	if (entry_check_index(e) != E_OK)
		return E_DAMAGED;
	return entry_check_lx(e);
}

/* Whether every byte of mem[from, to) that the file holds (SEEK_DATA) is zero. */
static int range_is_zero(int fd, const uint8_t *mem, uint64_t from, uint64_t to)
{
	while (from < to) {
		off_t data = lseek(fd, (off_t)from, SEEK_DATA), hole;
		uint64_t end, i;

		if (data < 0 || (uint64_t)data >= to)
			return 1; /* ENXIO: no data past from */
		hole = lseek(fd, data, SEEK_HOLE);
		end = hole < 0 || (uint64_t)hole > to ? to : (uint64_t)hole;
		for (i = (uint64_t)data; i < end; i++)
			if (mem[i])
				return 0;
		from = end;
	}
	return 1;
}

/*
 * Pages the index does not list become guest memory read as zero (the
 * .bss, the heap): a byte written into such a hole would reach the next
 * guest unseen by the data hash, so every gap must be a hole or zeros.
 */
static int entry_gaps_are_zero(const struct entry *e, const uint8_t *mem)
{
	uint64_t next = 0, i;

	for (i = 0; i < e->h.index_entries; i++) {
		if (!range_is_zero(e->fd, mem, next * PAGE, e->index[2 * i] * PAGE))
			return 0;
		next = e->index[2 * i] + e->index[2 * i + 1];
	}
	return range_is_zero(e->fd, mem, next * PAGE, e->h.key.mem_size);
}

int cache_entry_is_ours(const char *path)
{
	struct cache_header h;
	struct stat st;
	int fd = fd_open_regular(path, O_NOFOLLOW), ours;

	if (fd < 0)
		return 0;
	ours = fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
	       (((uint64_t)st.st_size >= sizeof(h) &&
		 fd_pread_all(fd, &h, sizeof(h), (uint64_t)st.st_size - sizeof(h)) == 0 &&
		 memcmp(h.magic, CACHE_MAGIC, 8) == 0) ||
		other_format(fd, (uint64_t)st.st_size, NULL));
	close(fd);
	return ours;
}

/* The data pages' hash against the header's, and the holes between them; *ns is what it took. */
enum entry_state cache_entry_check_data(struct entry *e, uint64_t *ns)
{
	uint64_t t0 = now_ns(), i;
	XXH3_state_t *s = XXH3_createState();
	const uint8_t *mem;
	uint8_t hash[16];
	int gaps_ok;

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
	gaps_ok = entry_gaps_are_zero(e, mem);
	munmap((void *)mem, e->h.key.mem_size);
	*ns = now_ns() - t0;
	if (memcmp(hash, e->h.data_hash, 16) != 0)
		return entry_bad(e, E_DAMAGED, "page data corrupted (data hash mismatch)");
	if (!gaps_ok)
		return entry_bad(e, E_DAMAGED, "bytes written into pages that must be zero (a hole "
					       "of the image holds data)");
	return E_OK;
}
