/* snapshot.c: the snapshot format's shared helpers (the header's hashes, hex) and reading and
 * verifying a snapshot file. */
#define _GNU_SOURCE
#include "snapshot.h"

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
#include "guestabi/lx.h"
#include "snapshot_int.h"

_Static_assert(sizeof(struct snap_header) % 8 == 0, "snapshot header must keep the index aligned");
MVMM_CHECK_LAYOUT(struct snap_header, format_version, 8);
MVMM_CHECK_LAYOUT(struct snap_header, header_size, 12);
MVMM_CHECK_LAYOUT(struct snap_header, header_checksum, 200);

void snap_header_hashes(const struct snap_header *h, uint8_t content[16], uint64_t *checksum)
{
	struct snap_header c;

	/* Byte copies: the hashes cover the header's bytes, padding included. */
	memcpy(&c, h, sizeof(c));
	memset(c.content_hash, 0, sizeof(c.content_hash));
	c.header_checksum = 0;
	if (content)
		hash128(&c, sizeof(c), content);
	memcpy(c.content_hash, h->content_hash, sizeof(c.content_hash));
	*checksum = XXH3_64bits(&c, sizeof(c));
}

void snap_hash_hex(const uint8_t hash[16], char out[33])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", hash[i]);
}

void snap_hash128(const void *buf, size_t len, uint8_t out[16])
{
	hash128(buf, len, out);
}

/* ---- reading and verifying ---- */

static int bad(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const char *name, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set("snapshot %s: %s", name, msg);
}

/* Field consistency once the header checksum has matched. */
static int verify_fields(const struct snap_header *h, size_t len, const char *name)
{
	uint64_t npages;

	if (h->abi_version != MVMM_ABI_VERSION)
		return bad(name, "taken by an mvmm of guest ABI %u, this one speaks ABI %u",
			   h->abi_version, MVMM_ABI_VERSION);
	if (h->kind != SNAP_BASE && h->kind != SNAP_DIFF)
		return bad(name, "unknown kind %u", h->kind);
	if (h->mem_size < MVMM_MEM_MIN || h->mem_size > MVMM_MEM_MAX || h->mem_size % (2u << 20))
		return bad(name, "bad guest memory size %lu", (unsigned long)h->mem_size);
	if (h->state_size != sizeof(h->state))
		return bad(name, "vCPU state of %u bytes, expected %zu", h->state_size,
			   sizeof(h->state));
	npages = h->mem_size / PAGE;
	if (h->index_offset != sizeof(*h) || h->index_entries > npages ||
	    h->data_pages + h->zero_pages != h->index_entries ||
	    h->data_offset != round_up(h->index_offset + h->index_entries * 8, PAGE) ||
	    h->lx_offset != h->data_offset + (h->kind == SNAP_BASE ? h->mem_size
								    : h->data_pages * PAGE) ||
	    h->lx_size > LX_REC_MAX ||
	    h->file_size != h->lx_offset + h->lx_size)
		return bad(name, "inconsistent layout (counts and offsets disagree)");
	/* Every guest is a Linux program: every file holds its process state. */
	if (!h->lx_size)
		return bad(name, "no process state");
	if (h->file_size != len)
		return bad(name, "%zu bytes where the header says %lu", len,
			   (unsigned long)h->file_size);
	if ((h->kind == SNAP_BASE) != (h->seq == 0))
		return bad(name, "sequence number %lu does not fit its kind",
			   (unsigned long)h->seq);
	if ((h->resume_kind != SNAP_RESUME_CLONE && h->resume_kind != SNAP_RESUME_CHECKPOINT) ||
	    h->resume_gpa % 8 || h->resume_gpa > h->mem_size - 8 ||
	    (h->resume_kind == SNAP_RESUME_CHECKPOINT && h->resume_ret <= 0))
		return bad(name, "bad resume point");
	if (!memchr(h->elf_path, 0, sizeof(h->elf_path)))
		return bad(name, "guest ELF path not terminated");
	/* The checksum proves no more than that someone computed it: check the state too. */
	if (vcpu_state_check(&h->state) < 0)
		return bad(name, "%s", mvmm_errmsg());
	return 0;
}

static int verify_index(const struct snap_file *f, const char *name)
{
	const struct snap_header *h = &f->hdr;
	uint64_t npages = h->mem_size / PAGE, i, zero = 0, prev = 0;

	for (i = 0; i < h->index_entries; i++) {
		uint64_t page = f->index[i] & ~SNAP_ZERO_PAGE;

		if (page >= npages || (i > 0 && page <= prev))
			return bad(name, "index entry %lu (page %lu) out of order or range",
				   (unsigned long)i, (unsigned long)page);
		zero += (f->index[i] & SNAP_ZERO_PAGE) != 0;
		prev = page;
	}
	if (zero != h->zero_pages)
		return bad(name, "index holds %lu zero pages, header says %lu",
			   (unsigned long)zero, (unsigned long)h->zero_pages);
	return 0;
}

/*
 * The header alone, at the start of buf (len bytes of the file read so far):
 * magic, version, size and its own checksums; copied to *out.
 */
static int snap_header_check(const void *buf, size_t len, const char *name,
			     struct snap_header *out)
{
	const struct snap_header *h = buf;
	uint8_t hash[16];
	uint64_t sum;

	if (len < 16)
		return bad(name, "truncated: %zu bytes, too short for a snapshot header", len);
	if (memcmp(h->magic, SNAP_MAGIC, 8) != 0)
		return bad(name, "not an mvmm snapshot (bad magic)");
	if (h->format_version != SNAP_FORMAT_VERSION)
		return bad(name, "format version %u, this mvmm reads version %u only",
			   h->format_version, SNAP_FORMAT_VERSION);
	if (h->header_size != sizeof(*h))
		return bad(name, "header of %u bytes, version %u has %zu", h->header_size,
			   SNAP_FORMAT_VERSION, sizeof(*h));
	if (len < sizeof(*h))
		return bad(name, "truncated: %zu bytes, the header alone needs %zu", len,
			   sizeof(*h));
	memcpy(out, h, sizeof(*h));
	snap_header_hashes(out, hash, &sum);
	if (sum != out->header_checksum)
		return bad(name, "header corrupted (header checksum mismatch)");
	if (memcmp(hash, out->content_hash, 16) != 0)
		return bad(name, "header corrupted (content hash mismatch)");
	return 0;
}

/* The data pages' hash, in index order (a base's at their guest offsets). */
static void data_hash(const struct snap_file *f, uint8_t out[16])
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t i, d = 0;

	if (!st) {
		memset(out, 0xff, 16); /* no match: refused, as damage would be */
		return;
	}
	XXH3_128bits_reset(st);
	for (i = 0; i < f->hdr.index_entries; i++) {
		if (f->index[i] & SNAP_ZERO_PAGE)
			continue;
		XXH3_128bits_update(st, snap_page(f, f->index[i], d), PAGE);
		d++;
	}
	XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits_digest(st));
	XXH3_freeState(st);
}

static int page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];

	return memcmp(p, zero, PAGE) == 0;
}

/*
 * A base's pages the index does not list are zero pages: they must read as
 * zeros (a restore maps the whole region). With the file (fd >= 0) only its
 * data ranges are read (SEEK_DATA; its holes read as zeros), else every
 * unlisted page of the buffer.
 */
static int verify_holes(const struct snap_file *f, const char *name, int fd)
{
	const struct snap_header *h = &f->hdr;
	uint64_t npages = h->mem_size / PAGE, i, p, lo = 0, hi = npages;
	uint8_t *listed;
	off_t d, e;
	int r = 0;

	if (h->kind != SNAP_BASE)
		return 0;
	listed = calloc((npages + 7) / 8, 1);
	if (!listed)
		return bad(name, "out of memory");
	/* a zero entry (none in a base the writer made) must read as zeros too */
	for (i = 0; i < h->index_entries; i++)
		if (!(f->index[i] & SNAP_ZERO_PAGE))
			listed[f->index[i] >> 3] |= (uint8_t)(1u << (f->index[i] & 7));
	do {
		if (fd >= 0) {
			d = lseek(fd, (off_t)(h->data_offset + lo * PAGE), SEEK_DATA);
			if (d < 0 || (uint64_t)d >= h->lx_offset)
				break;
			e = lseek(fd, d, SEEK_HOLE);
			if (e < 0)
				e = (off_t)h->lx_offset;
			lo = ((uint64_t)d - h->data_offset) / PAGE;
			hi = ((uint64_t)e - h->data_offset + PAGE - 1) / PAGE;
			hi = hi < npages ? hi : npages;
		}
		for (p = lo; p < hi && !r; p++)
			if (!((listed[p >> 3] >> (p & 7)) & 1) && !page_is_zero(f->data + p * PAGE))
				r = bad(name, "page data corrupted (guest page %lu is not stored "
					      "but does not read as zeros)",
					(unsigned long)p);
		lo = hi;
	} while (fd >= 0 && !r && lo < npages);
	free(listed);
	return r;
}

/* Everything after the header's fields: f->index and f->lx point where they are to be checked. */
static int verify_body(struct snap_file *f, const char *name, int fd)
{
	uint8_t hash[16];

	hash128(f->index, f->hdr.data_offset - f->hdr.index_offset, hash);
	if (memcmp(hash, f->hdr.index_hash, 16) != 0)
		return bad(name, "page index corrupted (index hash mismatch)");
	if (verify_index(f, name) < 0)
		return -1;
	data_hash(f, hash);
	if (memcmp(hash, f->hdr.data_hash, 16) != 0)
		return bad(name, "page data corrupted (data hash mismatch)");
	if (verify_holes(f, name, fd) < 0)
		return -1;
	f->lx_len = f->hdr.lx_size;
	hash128(f->lx, f->lx_len, hash);
	if (memcmp(hash, f->hdr.lx_hash, 16) != 0)
		return bad(name, "process state corrupted (its hash mismatches)");
	return 0;
}

int snap_verify(const void *buf, size_t len, const char *name, struct snap_file *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (snap_header_check(buf, len, name, &f->hdr) < 0)
		return -1;
	if (f->hdr.file_size > len)
		return bad(name, "truncated: %zu bytes of %lu", len,
			   (unsigned long)f->hdr.file_size);
	if (verify_fields(&f->hdr, len, name) < 0)
		return -1;
	f->index = (const uint64_t *)((const uint8_t *)buf + f->hdr.index_offset);
	f->data = (const uint8_t *)buf + f->hdr.data_offset;
	f->lx = (const uint8_t *)buf + f->hdr.lx_offset;
	if (verify_body(f, name, -1) < 0)
		return -1;
	f->len = len;
	return 0;
}

/* The largest file a snapshot of the largest guest can be: header, index, every page. */
#define SNAP_FILE_MAX                                                                  \
	(sizeof(struct snap_header) + round_up(MVMM_MEM_MAX / PAGE * 8, PAGE) + MVMM_MEM_MAX + \
	 LX_REC_MAX)

/*
 * Reads the header first: a file that is not a snapshot, or claims another
 * size than it has, is refused before the rest is read (a 2 GiB file of
 * something else costs one small read, not 2 GiB of memory).
 */
static int snap_file_header(int fd, const struct stat *st, const char *path,
			    struct snap_header *h)
{
	uint8_t head[sizeof(struct snap_header)];
	size_t len = (uint64_t)st->st_size < sizeof(head) ? (size_t)st->st_size : sizeof(head);

	if (fd_pread_all(fd, head, len, 0) < 0)
		return err_sys("reading snapshot %s", path);
	if (snap_header_check(head, len, path, h) < 0)
		return -1;
	if (h->file_size != (uint64_t)st->st_size)
		return bad(path, "%lld bytes where the header says %lu", (long long)st->st_size,
			   (unsigned long)h->file_size);
	if ((uint64_t)st->st_size > SNAP_FILE_MAX)
		return bad(path, "%lld bytes, more than a snapshot of any guest",
			   (long long)st->st_size);
	return 0;
}

/*
 * Whether the file may be mapped as guest memory. A MAP_PRIVATE mapping
 * still shows writes made to the file until a page is copied on write, so
 * the pages a guest runs from could change after they were verified. That
 * is accepted only for a file that we (or root) own and nobody else may
 * write: whoever can change it could change this process's memory anyway.
 * Other files are read into memory and the copy is verified and used.
 */
static int file_is_ours(const struct stat *st)
{
	return (st->st_uid == geteuid() || st->st_uid == 0) &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* The index and the process state, copied out of the mapping before they are checked. */
static int load_mapped(int fd, const struct stat *st, const char *path, struct snap_file *f)
{
	const struct snap_header *h = &f->hdr;
	uint64_t index_len = h->data_offset - h->index_offset;

	f->map = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return err_sys("mapping snapshot %s", path);
	}
	f->len = (size_t)st->st_size;
	f->own = malloc(index_len + h->lx_size);
	if (!f->own)
		return err_set("snapshot %s: out of memory", path);
	memcpy(f->own, f->map + h->index_offset, index_len);
	memcpy((uint8_t *)f->own + index_len, f->map + h->lx_offset, h->lx_size);
	f->index = f->own;
	f->data = f->map + h->data_offset;
	f->lx = (uint8_t *)f->own + index_len;
	return verify_body(f, path, fd);
}

int snap_file_load(const char *path, struct snap_file *f)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	fd = fd_open_regular_msg(path, "snapshot");
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		err_sys("snapshot %s", path);
		goto fail;
	}
	if (snap_file_header(fd, &st, path, &f->hdr) < 0 ||
	    verify_fields(&f->hdr, (size_t)st.st_size, path) < 0)
		goto fail;
	if (file_is_ours(&st)) {
		if (load_mapped(fd, &st, path, f) < 0)
			goto fail;
		f->mappable = 1;
		f->fd = fd;
		return 0;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		err_set("snapshot %s: out of memory", path);
		goto fail;
	}
	if (fd_pread_all(fd, buf, (size_t)st.st_size, 0) < 0) {
		err_set("snapshot %s: truncated while reading", path);
		goto fail;
	}
	if (snap_verify(buf, (size_t)st.st_size, path, f) < 0)
		goto fail;
	f->buf = buf;
	f->fd = fd;
	return 0;
fail:
	close(fd);
	free(buf);
	snap_file_free(f);
	return -1;
}

void snap_file_free(struct snap_file *f)
{
	if (f->map)
		munmap(f->map, f->len);
	if (f->fd >= 0)
		close(f->fd);
	free(f->own);
	free(f->buf);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}
