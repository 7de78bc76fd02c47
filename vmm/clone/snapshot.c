/* snapshot.c: write, verify and restore guest snapshots (a base and its page diffs). */
#define _GNU_SOURCE
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "core/layout.h"
#include "mem/memstat.h"

#define PAGE	       MVMM_PAGE_SIZE
#define SNAP_SEALS     (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
#define SNAP_OUT_BUF   (1u << 20)
#define SNAP_CHAIN_MAX 4096

_Static_assert(sizeof(struct snap_header) % 8 == 0, "snapshot header must keep the index aligned");
MVMM_CHECK_LAYOUT(struct snap_header, format_version, 8);
MVMM_CHECK_LAYOUT(struct snap_header, header_size, 12);
MVMM_CHECK_LAYOUT(struct snap_header, header_checksum, 200);

static const uint8_t zero_page[PAGE];

static int page_is_zero(const uint8_t *p)
{
	return memcmp(p, zero_page, PAGE) == 0;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static void hash128(const void *buf, size_t len, uint8_t out[16])
{
	XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits(buf, len));
}

static void header_hashes(const struct snap_header *h, uint8_t content[16], uint64_t *checksum)
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

/* ---- writing ---- */

static int out_fail(struct snap_out *o, const char *what)
{
	if (errno == ENOSPC || errno == EDQUOT)
		return err_set("writing %s %s: %s: the disk is full (no file was written)",
			       o->what ? o->what : "snapshot", o->path, strerror(errno));
	return err_sys("writing %s %s: %s", o->what ? o->what : "snapshot", o->path, what);
}

static int out_write_all(struct snap_out *o, const void *p, size_t n)
{
	if (fd_write_all(o->fd, p, n) < 0)
		return out_fail(o, "write");
	return 0;
}

static int out_flush(struct snap_out *o)
{
	int r = out_write_all(o, o->buf, o->len);

	o->len = 0;
	return r;
}

static int out_put(struct snap_out *o, const void *p, size_t n)
{
	if (o->len + n > SNAP_OUT_BUF && out_flush(o) < 0)
		return -1;
	if (n >= SNAP_OUT_BUF)
		return out_write_all(o, p, n);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

static int out_open(struct snap_out *o, const char *path, const char *what, int no_sync)
{
	memset(o, 0, sizeof(*o));
	o->what = what;
	o->no_sync = no_sync;
	o->path = path;
	o->fd = -1;
	if (asprintf(&o->tmp, "%s.tmp.XXXXXX", path) < 0) {
		o->tmp = NULL;
		return err_set("out of memory");
	}
	o->buf = malloc(SNAP_OUT_BUF);
	o->data = XXH3_createState();
	if (!o->buf || !o->data)
		return err_set("out of memory");
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		free(o->tmp);
		o->tmp = NULL;
		return err_sys("creating a temporary file for %s %s", o->what ? o->what : "snapshot",
			       path);
	}
	if (fchmod(o->fd, 0644) < 0)
		return err_sys("chmod %s", o->tmp);
	XXH3_128bits_reset(o->data);
	return 0;
}

/* Closes the temporary file; on failure removes it, on success renames it over path. */
static int out_close(struct snap_out *o, int ok)
{
	if (o->fd >= 0) {
		if (ok && !o->no_sync && fsync(o->fd) < 0)
			ok = out_fail(o, "fsync") == 0;
		if (close(o->fd) < 0 && ok)
			ok = out_fail(o, "close") == 0;
	}
	if (ok && rename(o->tmp, o->path) < 0)
		ok = err_sys("renaming %s to %s", o->tmp, o->path) == 0;
	if (!ok && o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->buf);
	XXH3_freeState(o->data);
	return ok ? 0 : -1;
}

/* The same writer for other files (the image cache, cache.c). */
int snap_out_open(struct snap_out *o, const char *path, const char *what, int no_sync)
{
	return out_open(o, path, what, no_sync);
}

int snap_out_put(struct snap_out *o, const void *p, size_t n)
{
	return out_put(o, p, n);
}

int snap_out_flush(struct snap_out *o)
{
	return out_flush(o);
}

int snap_out_close(struct snap_out *o, int ok)
{
	return out_close(o, ok);
}

void snap_hash128(const void *buf, size_t len, uint8_t out[16])
{
	hash128(buf, len, out);
}

/* Where the content of a guest page comes from while a snapshot is written. */
typedef const uint8_t *(*snap_page_fn)(void *ctx, uint64_t page);

/*
 * Writes header h (counts, kind, resume and ELF fields filled by the
 * caller) with the index entries[0..n) and, for each non-zero entry, the
 * page that src gives.
 */
static int snap_write(const char *path, struct snap_header *h, const uint64_t *entries,
		      uint64_t n, snap_page_fn src, void *ctx)
{
	uint64_t index_len, i;
	uint8_t *index = NULL;
	struct snap_out o;
	int ok = 0;

	h->index_entries = n;
	h->index_offset = sizeof(*h);
	h->data_offset = round_up(h->index_offset + n * 8, PAGE);
	h->data_pages = h->zero_pages = 0;
	for (i = 0; i < n; i++)
		entries[i] & SNAP_ZERO_PAGE ? h->zero_pages++ : h->data_pages++;
	h->file_size = h->data_offset + h->data_pages * PAGE;
	index_len = h->data_offset - h->index_offset;
	if (out_open(&o, path, NULL, 0) < 0)
		goto done;
	index = calloc(1, index_len);
	if (!index) {
		err_set("out of memory");
		goto done;
	}
	memcpy(index, entries, n * 8);
	hash128(index, index_len, h->index_hash);
	/* The header goes in last, once the hashes are known. */
	if (out_put(&o, zero_page, sizeof(*h)) < 0 || out_put(&o, index, index_len) < 0)
		goto done;
	_Static_assert(sizeof(struct snap_header) < PAGE, "header larger than a page");
	for (i = 0; i < n; i++) {
		const uint8_t *p;

		if (entries[i] & SNAP_ZERO_PAGE)
			continue;
		p = src(ctx, entries[i]);
		if (!p)
			goto done;
		XXH3_128bits_update(o.data, p, PAGE);
		if (out_put(&o, p, PAGE) < 0)
			goto done;
	}
	if (out_flush(&o) < 0)
		goto done;
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->data_hash, XXH3_128bits_digest(o.data));
	memcpy(h->magic, SNAP_MAGIC, sizeof(h->magic));
	h->format_version = SNAP_FORMAT_VERSION;
	h->header_size = sizeof(*h);
	h->abi_version = MVMM_ABI_VERSION;
	h->state_size = sizeof(h->state);
	header_hashes(h, h->content_hash, &h->header_checksum);
	if (fd_pwrite_all(o.fd, h, sizeof(*h), 0) < 0) {
		out_fail(&o, "header");
		goto done;
	}
	ok = 1;
done:
	free(index);
	return out_close(&o, ok);
}

/* ---- the base ---- */

struct base_src {
	const uint8_t *mem; /* read-only private mapping of the template memfd */
};

static const uint8_t *base_page(void *ctx, uint64_t page)
{
	return ((struct base_src *)ctx)->mem + page * PAGE;
}

/* Records the guest ELF's absolute path, size and hash, when it can be read. */
static void base_elf(struct snap_header *h, const char *elf_path)
{
	char abs[PATH_MAX];
	struct stat st;
	uint8_t *buf;
	int fd;

	if (!elf_path || !realpath(elf_path, abs) || strlen(abs) >= SNAP_PATH_MAX)
		return;
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size))) {
		if (pread(fd, buf, (size_t)st.st_size, 0) == st.st_size) {
			strcpy(h->elf_path, abs);
			h->elf_size = (uint64_t)st.st_size;
			hash128(buf, (size_t)st.st_size, h->elf_hash);
		}
		free(buf);
	}
	close(fd);
}

int snap_write_base(const char *path, const struct template *tpl, const char *elf_path,
		    uint8_t hash[16])
{
	uint64_t npages = tpl->mem_size / PAGE, n = 0, p, *entries;
	struct snap_header *h;
	struct base_src src;
	off_t data = 0, hole;
	int r = -1;

	h = calloc(1, sizeof(*h));
	entries = malloc(npages * sizeof(*entries));
	src.mem = mmap(NULL, tpl->mem_size, PROT_READ, MAP_PRIVATE, tpl->memfd, 0);
	if (!h || !entries || src.mem == MAP_FAILED) {
		err_set("snapshot %s: out of memory", path);
		goto done;
	}
	/* Only the memfd's data ranges are read: its holes are zero pages. */
	for (;;) {
		data = lseek(tpl->memfd, data, SEEK_DATA);
		if (data < 0)
			break;
		hole = lseek(tpl->memfd, data, SEEK_HOLE);
		if (hole < 0) {
			err_sys("SEEK_HOLE on the template memfd");
			goto done;
		}
		for (p = (uint64_t)data / PAGE; p * PAGE < (uint64_t)hole && p < npages; p++)
			if (!page_is_zero(src.mem + p * PAGE))
				entries[n++] = p;
		data = hole;
	}
	h->kind = SNAP_BASE;
	h->mem_size = tpl->mem_size;
	h->resume_kind = tpl->resume_ret ? SNAP_RESUME_CHECKPOINT : SNAP_RESUME_CLONE;
	h->resume_gpa = tpl->ready_block;
	h->resume_ret = tpl->resume_ret;
	h->state = tpl->state;
	base_elf(h, elf_path);
	r = snap_write(path, h, entries, n, base_page, &src);
	if (r == 0 && hash)
		memcpy(hash, h->content_hash, 16);
done:
	if (src.mem != MAP_FAILED)
		munmap((void *)src.mem, tpl->mem_size);
	free(entries);
	free(h);
	return r;
}

/* ---- diffs at checkpoints ---- */

struct snap_taker {
	char *base_path;
	uint64_t seq;
	uint8_t prev_hash[16];
	int base_memfd; /* the base state's memory (the template's memfd, dup'd) */
	uint64_t mem_size;
	uint8_t *prev;	     /* previous content of the pages marked in prev_valid */
	uint8_t *prev_valid; /* one bit per page */
	uint64_t *entries;
	struct snap_header hdr;
};

const struct vm_hooks snap_taker_hooks = {.checkpoint = snap_taker_checkpoint};

struct snap_taker *snap_taker_new(const char *base_path, const struct template *tpl,
				  const uint8_t base_hash[16])
{
	uint64_t npages = tpl->mem_size / PAGE;
	struct snap_taker *t = calloc(1, sizeof(*t));

	if (!t) {
		err_set("out of memory");
		return NULL;
	}
	t->base_memfd = -1;
	t->mem_size = tpl->mem_size;
	memcpy(t->prev_hash, base_hash, 16);
	t->base_path = strdup(base_path);
	t->prev_valid = calloc((npages + 7) / 8, 1);
	t->entries = malloc(npages * sizeof(*t->entries));
	t->prev = mmap(NULL, tpl->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->prev == MAP_FAILED)
		t->prev = NULL;
	if (!t->base_path || !t->prev_valid || !t->entries || !t->prev) {
		err_set("out of memory");
		goto fail;
	}
	t->base_memfd = fcntl(tpl->memfd, F_DUPFD_CLOEXEC, 0);
	if (t->base_memfd < 0) {
		err_sys("dup");
		goto fail;
	}
	return t;
fail:
	snap_taker_free(t);
	return NULL;
}

void snap_taker_free(struct snap_taker *t)
{
	if (!t)
		return;
	if (t->base_memfd >= 0)
		close(t->base_memfd);
	if (t->prev)
		munmap(t->prev, t->mem_size);
	free(t->entries);
	free(t->prev_valid);
	free(t->base_path);
	free(t);
}

/* The previous content of page p: the copy kept at the last checkpoint, else the base's. */
static const uint8_t *taker_prev_page(struct snap_taker *t, uint64_t p)
{
	uint8_t *dst = t->prev + p * PAGE;

	if ((t->prev_valid[p >> 3] >> (p & 7)) & 1)
		return dst;
	/* a hole in the memfd reads as zeros */
	if (fd_pread_all(t->base_memfd, dst, PAGE, p * PAGE) < 0) {
		err_sys("reading the base state");
		return NULL;
	}
	t->prev_valid[p >> 3] |= (uint8_t)(1u << (p & 7));
	return dst;
}

/*
 * Pages the guest (or the VMM on its behalf) has written since the VM was
 * mapped are the private ones in pagemap; every other page is still the
 * base's. Each written page is compared with its previous content.
 */
static int64_t taker_changes(struct snap_taker *t, const struct vm *vm)
{
	uint64_t npages = t->mem_size / PAGE, p, count = 0;
	uint64_t *pm = memstat_pagemap(vm);

	if (!pm)
		return -1;
	for (p = 0; p < npages; p++) {
		const uint8_t *live = vm->mem.host + p * PAGE, *old;

		if (!memstat_entry_private(pm[p]))
			continue;
		old = taker_prev_page(t, p);
		if (!old) {
			free(pm);
			return -1;
		}
		if (memcmp(live, old, PAGE) == 0)
			continue;
		t->entries[count++] = p | (page_is_zero(live) ? SNAP_ZERO_PAGE : 0);
		memcpy(t->prev + p * PAGE, live, PAGE);
	}
	free(pm);
	return (int64_t)count;
}

static const uint8_t *live_page(void *ctx, uint64_t page)
{
	const struct vm *vm = ctx;

	return vm->mem.host + page * PAGE;
}

int64_t snap_taker_checkpoint(void *ctx, struct vm *vm)
{
	struct snap_taker *t = ctx;
	struct snap_header *h = &t->hdr;
	uint64_t seq = t->seq + 1;
	int64_t *ret, n;
	char *path;

	if (vm->mem.size != t->mem_size)
		return err_set("checkpoint: the VM is not of the snapshot's size");
	/* RIP past the `out`, and `ret` in memory as the guest will see it on resume. */
	if (vcpu_complete_io(vm->vcpu_fd, vm->run) < 0)
		return -1;
	memset(h, 0, sizeof(*h));
	if (vcpu_state_save(vm->vcpu_fd, &h->state) < 0)
		return -1;
	ret = gmem_ptr(&vm->mem, vm->hc_arg, sizeof(*ret));
	if (!ret)
		return err_set("checkpoint block 0x%lx outside guest memory",
			       (unsigned long)vm->hc_arg);
	*ret = (int64_t)seq;
	n = taker_changes(t, vm);
	if (n < 0)
		return -1;
	h->kind = SNAP_DIFF;
	h->mem_size = t->mem_size;
	h->seq = seq;
	memcpy(h->parent_hash, t->prev_hash, 16);
	h->resume_kind = SNAP_RESUME_CHECKPOINT;
	h->resume_gpa = vm->hc_arg;
	h->resume_ret = (int64_t)seq;
	if (asprintf(&path, "%s.%lu", t->base_path, (unsigned long)seq) < 0)
		return err_set("out of memory");
	if (snap_write(path, h, t->entries, (uint64_t)n, live_page, vm) < 0) {
		free(path);
		return -1;
	}
	free(path);
	memcpy(t->prev_hash, h->content_hash, 16);
	t->seq = seq;
	return (int64_t)seq;
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
	    h->file_size != h->data_offset + h->data_pages * PAGE)
		return bad(name, "inconsistent layout (counts and offsets disagree)");
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

int snap_verify(const void *buf, size_t len, const char *name, struct snap_file *f)
{
	const struct snap_header *h = buf;
	uint8_t hash[16];
	uint64_t sum;

	memset(f, 0, sizeof(*f));
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
	memcpy(&f->hdr, h, sizeof(*h));
	header_hashes(&f->hdr, hash, &sum);
	if (sum != f->hdr.header_checksum)
		return bad(name, "header corrupted (header checksum mismatch)");
	if (memcmp(hash, f->hdr.content_hash, 16) != 0)
		return bad(name, "header corrupted (content hash mismatch)");
	if (f->hdr.file_size > len)
		return bad(name, "truncated: %zu bytes of %lu", len,
			   (unsigned long)f->hdr.file_size);
	if (verify_fields(&f->hdr, len, name) < 0)
		return -1;
	f->index = (const uint64_t *)((const uint8_t *)buf + f->hdr.index_offset);
	f->data = (const uint8_t *)buf + f->hdr.data_offset;
	hash128(f->index, f->hdr.data_offset - f->hdr.index_offset, hash);
	if (memcmp(hash, f->hdr.index_hash, 16) != 0)
		return bad(name, "page index corrupted (index hash mismatch)");
	if (verify_index(f, name) < 0)
		return -1;
	hash128(f->data, f->hdr.data_pages * PAGE, hash);
	if (memcmp(hash, f->hdr.data_hash, 16) != 0)
		return bad(name, "page data corrupted (data hash mismatch)");
	f->len = len;
	return 0;
}

int snap_file_load(const char *path, struct snap_file *f)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t done = 0;
	int fd;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys("snapshot %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set("snapshot %s: not a regular file", path);
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return err_set("snapshot %s: out of memory", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys("reading snapshot %s", path);
			goto fail;
		}
		if (n == 0)
			break; /* shrank under us: verified as truncated */
		done += (size_t)n;
	}
	close(fd);
	fd = -1;
	if (snap_verify(buf, done, path, f) < 0)
		goto fail;
	f->buf = buf;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	memset(f, 0, sizeof(*f));
	return -1;
}

void snap_file_free(struct snap_file *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* ---- restoring ---- */

static int fill_pwrite(int fd, const uint8_t *src, uint64_t len, uint64_t off)
{
	if (fd_pwrite_all(fd, src, len, off) < 0)
		return err_sys("writing restored memory");
	return 0;
}

/* Applies one file's pages to memfd: runs of consecutive stored pages in one write each. */
static int apply_file(int memfd, const struct snap_file *f, uint8_t *data_map)
{
	uint64_t i = 0, d = 0, n = f->hdr.index_entries;

	while (i < n) {
		uint64_t page = f->index[i] & ~SNAP_ZERO_PAGE, j = i + 1;

		if (f->index[i] & SNAP_ZERO_PAGE) {
			if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)(page * PAGE), PAGE) < 0)
				return err_sys("punching a zero page");
			data_map[page >> 3] &= (uint8_t) ~(1u << (page & 7));
			i++;
			continue;
		}
		while (j < n && !(f->index[j] & SNAP_ZERO_PAGE) && f->index[j] == page + (j - i))
			j++;
		if (fill_pwrite(memfd, f->data + d * PAGE, (j - i) * PAGE, page * PAGE) < 0)
			return -1;
		for (; i < j; i++, d++, page++)
			data_map[page >> 3] |= (uint8_t)(1u << (page & 7));
	}
	return 0;
}

static int check_chain(struct snap_file *files, const char *const *paths, size_t n)
{
	char want[33], got[33];
	size_t i;

	if (files[0].hdr.kind != SNAP_BASE)
		return err_set("snapshot %s: is a diff (checkpoint %lu); a chain starts with a base",
			       paths[0], (unsigned long)files[0].hdr.seq);
	for (i = 1; i < n; i++) {
		const struct snap_header *h = &files[i].hdr, *p = &files[i - 1].hdr;

		if (h->kind != SNAP_DIFF)
			return err_set("snapshot %s: is a base; only diffs may follow the first file",
				       paths[i]);
		if (h->mem_size != p->mem_size)
			return err_set("snapshot %s: for a %lu MiB guest, but %s is for %lu MiB",
				       paths[i], (unsigned long)(h->mem_size >> 20), paths[i - 1],
				       (unsigned long)(p->mem_size >> 20));
		if (memcmp(h->parent_hash, p->content_hash, 16) != 0) {
			snap_hash_hex(h->parent_hash, want);
			snap_hash_hex(p->content_hash, got);
			return err_set("snapshot %s: its parent is %s, but the file before it (%s) "
				       "is %s: wrong order or a foreign chain",
				       paths[i], want, paths[i - 1], got);
		}
	}
	return 0;
}

/* The image for a restored guest: the ELF's symbols when it is still there and unchanged. */
static struct image *restore_image(const struct snap_header *base, int memfd,
				   uint8_t *data_map, const char *name)
{
	struct image *img = calloc(1, sizeof(*img));
	uint64_t npages = base->mem_size / PAGE, p;
	uint8_t *buf = NULL;
	struct stat st;
	int fd = -1;

	if (!img) {
		free(data_map);
		err_set("out of memory");
		return NULL;
	}
	img->refs = 1;
	img->memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	img->mem_size = base->mem_size;
	img->data_map = data_map;
	for (p = 0; p < npages; p++)
		img->data_pages += image_page_has_data(img, p);
	img->heap_end = layout_guard_page(base->mem_size);
	if (base->elf_path[0])
		fd = open(base->elf_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == base->elf_size &&
	    (buf = malloc(base->elf_size)) &&
	    pread(fd, buf, base->elf_size, 0) == (ssize_t)base->elf_size) {
		uint8_t h[16];

		hash128(buf, base->elf_size, h);
		if (memcmp(h, base->elf_hash, 16) == 0 &&
		    elfload_parse(buf, base->elf_size, base->mem_size, MVMM_IMAGE_BASE,
				  &img->prog) == 0) {
			img->name = strdup(base->elf_path);
			img->heap_start = img->prog.hi;
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	if (!img->name)
		img->name = strdup(name);
	if (img->memfd < 0 || !img->name) {
		image_put(img);
		err_set("out of memory");
		return NULL;
	}
	return img;
}

static struct template *restore_build(struct snap_file *files, size_t n, const char *name)
{
	const struct snap_header *base = &files[0].hdr, *last = &files[n - 1].hdr;
	uint64_t npages = base->mem_size / PAGE;
	struct template *tpl = NULL;
	struct image *img = NULL;
	uint8_t *data_map;
	size_t i;
	int memfd;

	data_map = calloc((npages + 7) / 8, 1);
	memfd = memfd_create("mvmm-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (!data_map || memfd < 0) {
		free(data_map);
		if (memfd >= 0)
			close(memfd);
		err_sys("restoring a snapshot");
		return NULL;
	}
	if (ftruncate(memfd, (off_t)base->mem_size) < 0) {
		err_sys("sizing the restored memory");
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (apply_file(memfd, &files[i], data_map) < 0)
			goto fail;
	if (fcntl(memfd, F_ADD_SEALS, SNAP_SEALS) < 0) {
		err_sys("sealing the restored memory");
		goto fail;
	}
	img = restore_image(base, memfd, data_map, name);
	data_map = NULL;
	if (!img)
		goto fail;
	tpl = template_from_parts(img, memfd, &last->state, last->resume_gpa);
	memfd = -1; /* taken, even on failure */
	image_put(img);
	if (!tpl)
		return NULL;
	tpl->data_pages = img->data_pages;
	if (last->resume_kind == SNAP_RESUME_CHECKPOINT)
		tpl->resume_ret = last->resume_ret;
	return tpl;
fail:
	free(data_map);
	if (memfd >= 0)
		close(memfd);
	return NULL;
}

struct template *snap_restore(const char *const *paths, size_t n)
{
	struct snap_file *files;
	struct template *tpl = NULL;
	size_t i, loaded = 0;

	if (n == 0 || n > SNAP_CHAIN_MAX) {
		err_set("a snapshot chain needs 1 to %u files", SNAP_CHAIN_MAX);
		return NULL;
	}
	files = calloc(n, sizeof(*files));
	if (!files) {
		err_set("out of memory");
		return NULL;
	}
	for (loaded = 0; loaded < n; loaded++)
		if (snap_file_load(paths[loaded], &files[loaded]) < 0)
			goto done;
	if (check_chain(files, paths, n) == 0)
		tpl = restore_build(files, n, paths[0]);
done:
	for (i = 0; i < loaded; i++)
		snap_file_free(&files[i]);
	free(files);
	return tpl;
}

struct template *snap_restore_list(const char *list)
{
	const char *paths[SNAP_CHAIN_MAX];
	struct template *tpl;
	char *copy = strdup(list), *save = NULL, *tok;
	size_t n = 0;

	if (!copy) {
		err_set("out of memory");
		return NULL;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == SNAP_CHAIN_MAX) {
			free(copy);
			err_set("more than %u snapshot files", SNAP_CHAIN_MAX);
			return NULL;
		}
		paths[n++] = tok;
	}
	tpl = snap_restore(paths, n);
	free(copy);
	return tpl;
}
