/* snapshot_write.c: write snapshots atomically: a base taken at ready, page diffs taken at
 * checkpoints; also the atomic file writer other files use. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "mem/memstat.h"
#include "snapshot_int.h"

#define SNAP_OUT_BUF (1u << 20)

static const uint8_t zero_page[PAGE];

static int page_is_zero(const uint8_t *p)
{
	return memcmp(p, zero_page, PAGE) == 0;
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

/* Moves the write position from *at to off (>= *at), leaving a hole between. */
static int out_seek(struct snap_out *o, uint64_t *at, uint64_t off)
{
	if (off == *at)
		return 0;
	if (out_flush(o) < 0)
		return -1;
	if (lseek(o->fd, (off_t)off, SEEK_SET) < 0)
		return out_fail(o, "lseek");
	*at = off;
	return 0;
}

int snap_write(const char *path, struct snap_header *h, const uint64_t *entries, uint64_t n,
	       snap_page_fn src, void *ctx, const uint8_t *lx, size_t lx_len)
{
	uint64_t index_len, i, at;
	uint8_t *index = NULL;
	struct snap_out o;
	int ok = 0;

	h->index_entries = n;
	h->index_offset = sizeof(*h);
	h->data_offset = round_up(h->index_offset + n * 8, PAGE);
	h->data_pages = h->zero_pages = 0;
	for (i = 0; i < n; i++)
		entries[i] & SNAP_ZERO_PAGE ? h->zero_pages++ : h->data_pages++;
	h->lx_offset = h->data_offset + (h->kind == SNAP_BASE ? h->mem_size : h->data_pages * PAGE);
	h->lx_size = lx_len;
	h->file_size = h->lx_offset + h->lx_size;
	memset(h->lx_hash, 0, sizeof(h->lx_hash));
	if (lx_len)
		hash128(lx, lx_len, h->lx_hash);
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
	for (i = 0; i < sizeof(*h); i += PAGE)
		if (out_put(&o, zero_page, sizeof(*h) - i < PAGE ? sizeof(*h) - i : PAGE) < 0)
			goto done;
	if (out_put(&o, index, index_len) < 0)
		goto done;
	for (i = 0, at = h->data_offset; i < n; i++) {
		const uint8_t *p;

		if (entries[i] & SNAP_ZERO_PAGE)
			continue;
		p = src(ctx, entries[i]);
		if (!p || (h->kind == SNAP_BASE && out_seek(&o, &at, h->data_offset +
								     entries[i] * PAGE) < 0))
			goto done;
		XXH3_128bits_update(o.data, p, PAGE);
		if (out_put(&o, p, PAGE) < 0)
			goto done;
		at += PAGE;
	}
	/* A base's pages lie at their guest offsets: what no page was written to stays a hole. */
	if ((h->kind == SNAP_BASE && out_seek(&o, &at, h->lx_offset) < 0) ||
	    (lx_len && out_put(&o, lx, lx_len) < 0) ||
	    out_flush(&o) < 0)
		goto done;
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->data_hash, XXH3_128bits_digest(o.data));
	memcpy(h->magic, SNAP_MAGIC, sizeof(h->magic));
	h->format_version = SNAP_FORMAT_VERSION;
	h->header_size = sizeof(*h);
	h->abi_version = MVMM_ABI_VERSION;
	h->state_size = sizeof(h->state);
	snap_header_hashes(h, h->content_hash, &h->header_checksum);
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
	fd = fd_open_regular(abs, 0);
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
	uint64_t npages = tpl->mem_size / PAGE, n = 0, p, *entries = NULL;
	struct snap_header *h = NULL;
	struct base_src src = {NULL};
	uint8_t *lx = NULL;
	size_t lx_len = 0;
	int r = -1;

	/* First what may refuse the template (one holding a pipe): no file then. */
	if (!tpl->lx)
		return err_set("snapshot %s: the template has no process state", path);
	if (lx_proc_save(tpl->lx, &lx, &lx_len) < 0)
		return err_prefix("snapshot %s", path);
	h = calloc(1, sizeof(*h));
	entries = malloc(npages * sizeof(*entries));
	if (!h || !entries) {
		err_set("snapshot %s: out of memory", path);
		goto done;
	}
	src.mem = template_view(tpl);
	if (!src.mem)
		goto done;
	/* Only the pages that hold data are read: the others are zero. */
	for (p = 0; p < npages; p++)
		if (data_map_test(tpl->data_map, p) && !page_is_zero(src.mem + p * PAGE))
			entries[n++] = p;
	h->kind = SNAP_BASE;
	h->mem_size = tpl->mem_size;
	h->resume_kind = tpl->resume_ret ? SNAP_RESUME_CHECKPOINT : SNAP_RESUME_CLONE;
	h->resume_gpa = tpl->ready_block;
	h->resume_ret = tpl->resume_ret;
	h->state = tpl->state;
	base_elf(h, elf_path);
	r = snap_write(path, h, entries, n, base_page, &src, lx, lx_len);
	if (r == 0 && hash)
		memcpy(hash, h->content_hash, 16);
done:
	if (src.mem)
		munmap((void *)src.mem, tpl->mem_size);
	free(entries);
	free(h);
	free(lx);
	return r;
}

/* ---- diffs at checkpoints ---- */

struct snap_taker {
	char *base_path;
	uint64_t seq;
	uint8_t prev_hash[16];
	const uint8_t *base; /* the base state's memory (template_view) */
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
	t->base = template_view(tpl);
	if (!t->base)
		goto fail;
	return t;
fail:
	snap_taker_free(t);
	return NULL;
}

void snap_taker_free(struct snap_taker *t)
{
	if (!t)
		return;
	if (t->base)
		munmap((void *)t->base, t->mem_size);
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
	memcpy(dst, t->base + p * PAGE, PAGE);
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
	uint8_t *lx = NULL;
	size_t lx_len = 0;
	char *path;
	int r;

	if (vm->mem.size != t->mem_size)
		return err_set("checkpoint: the VM is not of the snapshot's size");
	if (!vm->lx)
		return err_set("checkpoint: the guest has no process state");
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
	if (lx_proc_save(vm->lx, &lx, &lx_len) < 0)
		return -1;
	if (asprintf(&path, "%s.%lu", t->base_path, (unsigned long)seq) < 0) {
		free(lx);
		return err_set("out of memory");
	}
	r = snap_write(path, h, t->entries, (uint64_t)n, live_page, vm, lx, lx_len);
	free(path);
	free(lx);
	if (r < 0)
		return -1;
	memcpy(t->prev_hash, h->content_hash, 16);
	t->seq = seq;
	return (int64_t)seq;
}
