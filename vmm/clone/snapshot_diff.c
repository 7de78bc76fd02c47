/* snapshot_diff.c: a diff between two snapshot chains, of one VM or of two different ones: the
 * pages of B's last state that differ from A's, with B's vCPU and process state, so that the
 * chain A,D restores B. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/error.h"
#include "snapshot_int.h"

/* The memory a verified chain describes, in a new private mapping (munmap mem_size bytes). */
static uint8_t *chain_memory(const struct snap_chain *c)
{
	uint64_t size = c->files[0].hdr.mem_size, i, d;
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	size_t k;

	if (mem == MAP_FAILED) {
		err_sys("snapshot diff: mapping %lu MiB", (unsigned long)(size >> 20));
		return NULL;
	}
	for (k = 0; k < c->n; k++) {
		const struct snap_file *f = &c->files[k];

		for (i = 0, d = 0; i < f->hdr.index_entries; i++) {
			uint64_t page = f->index[i] & ~SNAP_ZERO_PAGE;

			if (f->index[i] & SNAP_ZERO_PAGE) {
				memset(mem + page * PAGE, 0, PAGE);
				continue;
			}
			memcpy(mem + page * PAGE, snap_page(f, page, d++), PAGE);
		}
	}
	return mem;
}

static const uint8_t *mem_page(void *ctx, uint64_t page)
{
	return (const uint8_t *)ctx + page * PAGE;
}

static int page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];

	return memcmp(p, zero, PAGE) == 0;
}

/* Two chains a diff may join: one memory size, one guest program (its layout). */
static int diff_compatible(const struct snap_chain *a, const struct snap_chain *b)
{
	const struct snap_header *ha = &a->files[0].hdr, *hb = &b->files[0].hdr;

	if (ha->mem_size != hb->mem_size)
		return err_set("snapshot diff: %s is of a %lu MiB guest, %s of a %lu MiB one: a "
			       "diff joins snapshots of one memory size",
			       a->paths[0], (unsigned long)(ha->mem_size >> 20), b->paths[0],
			       (unsigned long)(hb->mem_size >> 20));
	if (ha->elf_size != hb->elf_size || memcmp(ha->elf_hash, hb->elf_hash, 16) != 0)
		return err_set("snapshot diff: %s and %s are of different guest programs (the "
			       "ELF hashes differ): their memory layouts differ",
			       a->paths[0], b->paths[0]);
	return 0;
}

int snap_diff(const char *a_list, const char *b_list, const char *out, struct snap_diff_info *info)
{
	struct snap_chain a = {0}, b = {0};
	uint8_t *ma = NULL, *mb = NULL;
	uint64_t *entries = NULL, npages, p, n = 0;
	struct snap_header *h = NULL;
	const struct snap_file *al, *bl;
	int r = -1;

	if (snap_chain_load(a_list, &a) < 0 || snap_chain_load(b_list, &b) < 0 ||
	    diff_compatible(&a, &b) < 0)
		goto done;
	al = &a.files[a.n - 1];
	bl = &b.files[b.n - 1];
	npages = al->hdr.mem_size / PAGE;
	h = calloc(1, sizeof(*h));
	entries = malloc(npages * sizeof(*entries));
	if (!h || !entries) {
		err_set("out of memory");
		goto done;
	}
	ma = chain_memory(&a);
	mb = ma ? chain_memory(&b) : NULL;
	if (!mb)
		goto done;
	for (p = 0; p < npages; p++)
		if (memcmp(ma + p * PAGE, mb + p * PAGE, PAGE) != 0)
			entries[n++] = p | (page_is_zero(mb + p * PAGE) ? SNAP_ZERO_PAGE : 0);
	h->kind = SNAP_DIFF;
	h->mem_size = al->hdr.mem_size;
	h->seq = al->hdr.seq + 1;
	memcpy(h->parent_hash, al->hdr.content_hash, 16);
	h->resume_kind = bl->hdr.resume_kind;
	h->resume_gpa = bl->hdr.resume_gpa;
	h->resume_ret = bl->hdr.resume_ret;
	h->state = bl->hdr.state;
	r = snap_write(out, h, entries, n, mem_page, mb, bl->lx, bl->lx_len);
	if (r == 0 && info) {
		info->data_pages = h->data_pages;
		info->zero_pages = h->zero_pages;
		memcpy(info->hash, h->content_hash, 16);
	}
done:
	if (ma)
		munmap(ma, a.files[0].hdr.mem_size);
	if (mb)
		munmap(mb, b.files[0].hdr.mem_size);
	free(entries);
	free(h);
	snap_chain_free(&a);
	snap_chain_free(&b);
	return r;
}
