/* cache_store.c: building a new entry from an image's or template's memfd and storing it
 * atomically (a temporary file renamed into place), with a fresh sidecar. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/error.h"
#include "core/fdio.h"
#include "guestabi/lx.h"
#include "mvmm_abi.h"
#include "clone/snapshot.h"

#define PAGE MVMM_PAGE_SIZE

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

int cache_entry_store(const struct store_req *r)
{
	struct snap_out o;
	struct cache_header *h = calloc(1, sizeof(*h));
	uint64_t *index = NULL, nindex = 0, pages = 0;
	struct cache_meta m = {0};
	uint8_t *lx = NULL;
	size_t lx_len = 0;
	const char *base;
	int ok = 0;

	if (!h)
		return err_set("out of memory");
	/* What may refuse the template (one holding a pipe) comes before any file. */
	if (r->tpl && (!r->tpl->lx || lx_proc_save(r->tpl->lx, &lx, &lx_len) < 0)) {
		free(h);
		return r->tpl->lx ? -1 : err_set("the template has no process state");
	}
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
	h->lx_offset = h->index_offset + nindex * 16;
	h->lx_size = lx_len;
	if (lx_len)
		snap_hash128(lx, lx_len, h->lx_hash);
	h->header_offset = h->lx_offset + lx_len;
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
	    snap_out_put(&o, index, nindex * 16) < 0 || (lx_len && snap_out_put(&o, lx, lx_len) < 0) ||
	    snap_out_put(&o, h, sizeof(*h)) < 0 ||
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
	free(lx);
	free(h);
	return ok ? 0 : -1;
}
