/* fuzz_cache.c: libFuzzer target: the image cache's entry reader (cache_entry_open,
 * cache_entry_check_data) and its listing and verifying (cache_list, cache_verify_all) on an
 * entry file made from the input in a cache directory of its own. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cache/cache.h"
#include "cache/cache_int.h"
#include "clone/snapshot.h"
#include "core/x86.h"
#include "mvmm_abi.h"

#include "fuzz.h"

/*
 * Input: one flags byte, then the entry's header (struct cache_header), then its page index
 * (up to the header's index_entries runs of 16 bytes), then a template's process state (up
 * to the header's lx_size bytes), then data bytes. The file is laid out as the cache lays it
 * out, sparse: the data bytes spread over the pages the index names, in index order; the
 * index at the header's index_offset (0 when that lies beyond the largest guest), the
 * process state after it, the header right after that. An input shorter than a header is
 * the whole file.
 * Flags:
 *   FIX    what any writer of a file can compute, so that mutations reach the layout and index
 *          checks instead of a checksum mismatch: mvmm's own system area (GDT, TSS, IDT, stubs)
 *          in its pages, data bytes going to the pages after it, then the index, process
 *          state and data hashes, the CPU features and the header checksum
 *   ADMIN  also list and verify the directory (mvmm cache ls / verify)
 */
#define FIX   1u
#define ADMIN 2u
#define PAGE  MVMM_PAGE_SIZE
/* Entries with more data pages are not hashed here: reading a GiB of holes is slow, not wrong. */
#define FUZZ_DATA_PAGES_MAX 4096u
/* The system area x86_build_system writes, which x86_system_is_ours compares. */
#define SYS_END (MVMM_SYSCALL_GPA + PAGE) /* through the system-call entry page */

static char dir[256], path[1100], meta[1100];

static void cleanup(void)
{
	DIR *dp = opendir(dir);
	struct dirent *d;
	char p[1400];

	while (dp && (d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		unlink(p);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
}

static void init(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/mvmm-fuzz-cache.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fuzz_need(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(cleanup);
}

static void hex(const uint8_t *b, char out[33])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void put(int fd, const void *p, size_t len, uint64_t off)
{
	fuzz_need(pwrite(fd, p, len, (off_t)off) == (ssize_t)len, "pwrite");
}

/* The data hash the reader computes: the listed pages' bytes in index order; -1 if too many. */
static int data_hash(int fd, const uint64_t *idx, size_t runs, uint8_t out[16])
{
	static uint8_t page[PAGE];
	XXH3_state_t *s;
	uint64_t total = 0, i, p;

	for (i = 0; i < runs; i++) {
		if (idx[2 * i + 1] > FUZZ_DATA_PAGES_MAX - total)
			return -1;
		total += idx[2 * i + 1];
	}
	s = XXH3_createState();
	fuzz_need(s != NULL, "XXH3_createState");
	XXH3_128bits_reset(s);
	for (i = 0; i < runs; i++)
		for (p = idx[2 * i]; p < idx[2 * i] + idx[2 * i + 1]; p++) {
			ssize_t n = p < (UINT64_MAX >> 13)
					    ? pread(fd, page, PAGE, (off_t)(p * PAGE))
					    : 0;

			memset(page + (n > 0 ? n : 0), 0, PAGE - (size_t)(n > 0 ? n : 0));
			XXH3_128bits_update(s, page, PAGE);
		}
	XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits_digest(s));
	XXH3_freeState(s);
	return 0;
}

/* Writes the entry file from the input; fills *h (zeroed when the input is shorter). */
static void make_entry(const uint8_t *data, size_t size, unsigned flags, struct cache_header *h)
{
	uint64_t *idx = NULL, at;
	size_t ilen = 0, runs, dlen, i, lxlen;
	const uint8_t *d, *lx;
	char key[33];
	int fd;

	memset(h, 0, sizeof(*h));
	if (size >= sizeof(*h))
		memcpy(h, data, sizeof(*h));
	hex(h->key_hash, key);
	cache_entry_paths(dir, key, path, meta, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fuzz_need(fd >= 0, path);
	if (size < sizeof(*h)) {
		put(fd, data, size, 0);
		close(fd);
		return;
	}
	data += sizeof(*h), size -= sizeof(*h);
	runs = h->index_entries < size / 16 ? (size_t)h->index_entries : size / 16;
	ilen = runs * 16;
	idx = malloc(ilen ? ilen : 1);
	fuzz_need(idx != NULL, "malloc");
	memcpy(idx, data, ilen);
	lx = data + ilen;
	lxlen = h->lx_size < size - ilen ? (size_t)h->lx_size : size - ilen;
	d = lx + lxlen;
	dlen = size - ilen - lxlen;
	at = h->index_offset <= MVMM_MEM_MAX ? h->index_offset : 0;
	for (i = 0; i < runs && dlen; i++) {
		uint64_t first = idx[2 * i], n = idx[2 * i + 1], w, skip;

		if (first >= at / PAGE || n > at / PAGE - first)
			continue;
		if ((flags & FIX) && first < SYS_END / PAGE) {
			skip = SYS_END / PAGE - first < n ? SYS_END / PAGE - first : n;
			first += skip, n -= skip;
		}
		w = n * PAGE < dlen ? n * PAGE : dlen;
		put(fd, d, w, first * PAGE);
		d += w, dlen -= w;
	}
	if ((flags & FIX) && at >= SYS_END) {
		static uint8_t sys[SYS_END];

		x86_build_system(sys);
		put(fd, sys + MVMM_GDT_GPA, SYS_END - MVMM_GDT_GPA, MVMM_GDT_GPA);
	}
	if (flags & FIX) {
		snap_hash128(idx, ilen, h->index_hash);
		memset(h->lx_hash, 0, 16);
		if (lxlen)
			snap_hash128(lx, lxlen, h->lx_hash);
		data_hash(fd, idx, runs, h->data_hash);
		cache_cpu_features(h->cpu_features);
		cache_header_seal(h);
	}
	put(fd, idx, ilen, at);
	put(fd, lx, lxlen, at + ilen);
	put(fd, h, sizeof(*h), at + ilen + lxlen);
	close(fd);
	free(idx);
}

/* What cache_entry_open promises of an entry it passed. */
static void check_entry(const struct entry *e)
{
	uint64_t npages = e->h.key.mem_size / PAGE, next = 0, pages = 0, i;

	FUZZ_CHECK(e->fd >= 0 && e->index, "open entry without fd or index");
	FUZZ_CHECK((uint64_t)e->st.st_size == e->h.file_size &&
			   e->h.index_offset == e->h.key.mem_size,
		   "size %ld, header %lu", (long)e->st.st_size, (unsigned long)e->h.file_size);
	for (i = 0; i < e->h.index_entries; i++) {
		uint64_t first = e->index[2 * i], n = e->index[2 * i + 1];

		FUZZ_CHECK(n && first >= next && first + n <= npages && first + n > first,
			   "index run %lu: %lu+%lu", (unsigned long)i, (unsigned long)first,
			   (unsigned long)n);
		next = first + n;
		pages += n;
	}
	FUZZ_CHECK(pages == e->h.data_pages, "index counts %lu pages, header %lu",
		   (unsigned long)pages, (unsigned long)e->h.data_pages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_opts o = {.dir = dir};
	struct cache_entry_info *v;
	struct cache_header h;
	enum entry_state s;
	struct entry e;
	unsigned flags;
	uint64_t ns;
	size_t n;

	if (!dir[0])
		init();
	if (size < 1)
		return 0;
	flags = data[0];
	cleanup();
	fuzz_need(mkdir(dir, 0700) == 0, "mkdir");
	make_entry(data + 1, size - 1, flags, &h);
	s = cache_entry_open(path, NULL, NULL, &e);
	if (s == E_OK) {
		check_entry(&e);
		if (e.h.data_pages <= FUZZ_DATA_PAGES_MAX)
			s = cache_entry_check_data(&e, &ns);
		FUZZ_LOG("cache: entry open, data %s %s\n", s == E_OK ? "ok" : "bad", e.why);
	} else {
		FUZZ_LOG("cache: entry refused (%d): %s\n", s, e.why);
	}
	cache_entry_free(&e);
	/* looked up by its own key: the key comparison passes, the rest is as above */
	s = cache_entry_open(path, &h.key, h.key_hash, &e);
	cache_entry_free(&e);
	cache_entry_is_ours(path);
	if ((flags & ADMIN) && h.data_pages <= FUZZ_DATA_PAGES_MAX) {
		FILE *out = fopen("/dev/null", "w");

		fuzz_need(out != NULL, "/dev/null");
		if (cache_list(&o, &v, &n) == 0)
			free(v);
		cache_verify_all(&o, out);
		fclose(out);
	}
	return 0;
}
