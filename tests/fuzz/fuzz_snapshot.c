/* fuzz_snapshot.c: libFuzzer target: the snapshot reader (snap_file_load, snap_verify) and chain
 * restore (snap_restore) on files made from the input, without KVM. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "clone/snapshot.h"
#include "clone/template.h"
#include "core/error.h"
#include "core/x86.h"
#include "mvmm_abi.h"

#include "fuzz.h"

/*
 * Input: one flags byte, then up to FUZZ_FILES snapshot files separated by FUZZ_SEP. Each file
 * goes into a memfd and is read through /proc/self/fd/N, as a path. Flags:
 *   FIX        what any writer of a file can compute, wherever the header's offsets allow, so
 *              that mutations reach the field checks, the index walk and the restore instead of
 *              a hash mismatch: a file shorter than its header's file_size (at most
 *              FUZZ_PAD_MAX) padded with zeros, inserted before its process state when the
 *              input ends with it (seeds need not carry a base's empty pages), mvmm's own
 *              system area (GDT, TSS, IDT, stubs) in the data pages of those guest pages, then
 *              the index, data, process state and content hashes and the header checksum
 *   FIX_CHAIN  (with FIX) each file's parent hash := the content hash of the one before
 *   MAP        the files are ours and writable by nobody else (mode 0600): the reader maps
 *              them and a restore maps the base (else mode 0666: read into memory, copied)
 */
#define FUZZ_FILES   4
#define FUZZ_SEP     "MVMMFUZZNEXTFILE"
#define FUZZ_PAD_MAX (20u << 20) /* a 16 MiB guest's base */
#define FIX	     1u
#define FIX_CHAIN    2u
#define MAP	     4u
#define PAGE	     MVMM_PAGE_SIZE
/* The system area x86_build_system writes, which x86_system_is_ours compares. */
#define SYS_END (MVMM_SYSCALL_GPA + PAGE) /* through the system-call entry page */

static int fds[FUZZ_FILES];

/* mvmm's system area into the data pages the index gives to its guest pages. */
static void fix_system(uint8_t *buf, size_t len, const struct snap_header *h)
{
	static uint8_t sys[SYS_END];
	static int built;
	uint64_t i, d = 0, at;

	if (!built) {
		x86_build_system(sys);
		built = 1;
	}
	if (h->index_offset > h->data_offset || h->data_offset > len)
		return;
	for (i = 0; i < h->index_entries && i < (h->data_offset - h->index_offset) / 8; i++) {
		uint64_t e, page;

		memcpy(&e, buf + h->index_offset + i * 8, 8);
		if (e & SNAP_ZERO_PAGE)
			continue;
		page = e & ~SNAP_ZERO_PAGE;
		/* a base holds its pages at their guest offsets, a diff in index order */
		at = h->kind == SNAP_BASE ? page : d;
		if (at >= (len - h->data_offset) / PAGE)
			break;
		if (page >= MVMM_GDT_GPA / PAGE && page < SYS_END / PAGE)
			memcpy(buf + h->data_offset + at * PAGE, sys + page * PAGE, PAGE);
		d++;
	}
}

/* The data hash as the reader computes it: the stored pages in index order, where they fit. */
static void fix_data_hash(const uint8_t *buf, size_t len, struct snap_header *h)
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t i, d = 0, e, at;

	fuzz_need(st != NULL, "XXH3_createState");
	XXH3_128bits_reset(st);
	for (i = 0; i < h->index_entries && i < (h->data_offset - h->index_offset) / 8; i++) {
		memcpy(&e, buf + h->index_offset + i * 8, 8);
		if (e & SNAP_ZERO_PAGE)
			continue;
		at = h->kind == SNAP_BASE ? (e & ~SNAP_ZERO_PAGE) : d++;
		if (at >= (len - h->data_offset) / PAGE)
			break;
		XXH3_128bits_update(st, buf + h->data_offset + at * PAGE, PAGE);
	}
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->data_hash, XXH3_128bits_digest(st));
	XXH3_freeState(st);
}

/* The file as FIX makes it (malloc'd; *len updated). */
static uint8_t *fix_file(const uint8_t *in, size_t *len, const uint8_t *parent)
{
	struct snap_header h;
	size_t n = *len;
	uint8_t *buf;

	if (n >= sizeof(h)) {
		memcpy(&h, in, sizeof(h));
		if (h.file_size > n && h.file_size <= FUZZ_PAD_MAX)
			n = (size_t)h.file_size;
	}
	buf = calloc(1, n ? n : 1);
	fuzz_need(buf != NULL, "calloc");
	if (n > *len && h.lx_size && h.lx_size <= *len && h.lx_offset + h.lx_size == n &&
	    h.lx_offset >= *len - h.lx_size) {
		/* the input ends with the process state: the zeros go before it */
		memcpy(buf, in, *len - h.lx_size);
		memcpy(buf + h.lx_offset, in + *len - h.lx_size, h.lx_size);
	} else {
		memcpy(buf, in, *len);
	}
	*len = n;
	if (n < sizeof(h))
		return buf;
	fix_system(buf, n, &h);
	if (h.index_offset <= h.data_offset && h.data_offset <= n)
		snap_hash128(buf + h.index_offset, h.data_offset - h.index_offset, h.index_hash);
	if (h.index_offset <= h.data_offset && h.data_offset <= n)
		fix_data_hash(buf, n, &h);
	memset(h.lx_hash, 0, 16);
	if (h.lx_size && h.lx_offset <= n && h.lx_size <= n - h.lx_offset)
		snap_hash128(buf + h.lx_offset, h.lx_size, h.lx_hash);
	if (parent)
		memcpy(h.parent_hash, parent, 16);
	/* as snapshot.c seals a header: content over both fields zeroed, then the checksum */
	memset(h.content_hash, 0, 16);
	h.header_checksum = 0;
	snap_hash128(&h, sizeof(h), h.content_hash);
	h.header_checksum = XXH3_64bits(&h, sizeof(h));
	memcpy(buf, &h, sizeof(h));
	return buf;
}

/* What snap_verify promises of a file it accepted. */
static void check_file(const struct snap_file *f)
{
	const struct snap_header *h = &f->hdr;
	uint64_t i;

	/* read into memory (b), or mapped with the index and state copied out (f->own) */
	const uint8_t *b = f->buf ? f->buf : f->map;

	FUZZ_CHECK(f->len == h->file_size && b && (f->buf != NULL) != (f->map != NULL),
		   "length %zu, header %lu", f->len, (unsigned long)h->file_size);
	FUZZ_CHECK(h->kind == SNAP_BASE || h->kind == SNAP_DIFF, "kind %u", h->kind);
	FUZZ_CHECK(h->index_offset + h->index_entries * 8 <= h->data_offset &&
			   f->data == b + h->data_offset &&
			   h->lx_offset == h->data_offset + (h->kind == SNAP_BASE
								     ? h->mem_size
								     : h->data_pages * PAGE) &&
			   h->lx_size && f->lx_len == h->lx_size &&
			   h->lx_offset + h->lx_size == f->len,
		   "layout");
	FUZZ_CHECK(f->buf ? (const uint8_t *)f->index == b + h->index_offset &&
				    f->lx == b + h->lx_offset
			  : (const void *)f->index == (const void *)f->own &&
				    memcmp(f->index, b + h->index_offset, h->index_entries * 8) == 0 &&
				    memcmp(f->lx, b + h->lx_offset, h->lx_size) == 0,
		   "index and state where they belong");
	for (i = 0; i < h->index_entries; i++)
		FUZZ_CHECK((f->index[i] & ~SNAP_ZERO_PAGE) < h->mem_size / PAGE, "index %lu",
			   (unsigned long)i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char paths[FUZZ_FILES][64];
	const char *pv[FUZZ_FILES];
	uint8_t parent[16];
	struct template *tpl;
	struct snap_file f;
	size_t n = 0, i;
	unsigned flags;

	if (!fds[0])
		for (i = 0; i < FUZZ_FILES; i++)
			fds[i] = fuzz_memfd("fuzz-snapshot");
	if (size < 1)
		return 0;
	flags = data[0];
	data++, size--;
	for (n = 0; n < FUZZ_FILES; n++) {
		const uint8_t *sep = n + 1 < FUZZ_FILES ? memmem(data, size, FUZZ_SEP, 16) : NULL;
		size_t len = sep ? (size_t)(sep - data) : size, flen = len;
		uint8_t *buf;

		if (flags & FIX) {
			buf = fix_file(data, &flen, (flags & FIX_CHAIN) && n ? parent : NULL);
		} else {
			buf = malloc(len ? len : 1);
			fuzz_need(buf != NULL, "malloc");
			memcpy(buf, data, len);
		}
		if (flen >= sizeof(struct snap_header))
			memcpy(parent, ((struct snap_header *)buf)->content_hash, 16);
		fuzz_fill(fds[n], buf, flen);
		fuzz_need(fchmod(fds[n], flags & MAP ? 0600 : 0666) == 0, "fchmod");
		free(buf);
		fuzz_fd_path(fds[n], paths[n], sizeof(paths[n]));
		pv[n] = paths[n];
		if (!sep) {
			n++;
			break;
		}
		data = sep + 16;
		size -= len + 16;
	}
	for (i = 0; i < n; i++) {
		if (snap_file_load(pv[i], &f) < 0) {
			FUZZ_LOG("snapshot: file %zu: %s\n", i, mvmm_errmsg());
			continue;
		}
		FUZZ_LOG("snapshot: file %zu: verified (kind %u, %lu entries)\n", i, f.hdr.kind,
			 (unsigned long)f.hdr.index_entries);
		check_file(&f);
		snap_file_free(&f);
	}
	tpl = snap_restore(pv, n);
	if (!tpl) {
		FUZZ_LOG("snapshot: restore of %zu: %s\n", n, mvmm_errmsg());
		return 0;
	}
	FUZZ_LOG("snapshot: restored %zu files: %lu data pages, base %s, %u diff runs mapped\n", n,
		 (unsigned long)tpl->data_pages, tpl->mem_off ? "mapped" : "copied", tpl->ovl_n);
	FUZZ_CHECK(tpl->mem_size >= MVMM_MEM_MIN && tpl->mem_size <= MVMM_MEM_MAX &&
			   tpl->ready_block + 8 <= tpl->mem_size,
		   "restored template: %lu bytes, ready block 0x%lx", (unsigned long)tpl->mem_size,
		   (unsigned long)tpl->ready_block);
	template_put(tpl);
	return 0;
}
