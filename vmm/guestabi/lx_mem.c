/*
 * lx_mem.c: a Linux program's address space calls. Guest memory is one
 * identity-mapped range whose free part ([program break .. stack guard))
 * the image's page tables already map user read-write: brk grows up from
 * the program's end, mmap hands out pages top down below the stack, and
 * munmap gives host pages back so a later mapping reads zero.
 *
 * What PVM imposes (see the README): a page-table entry the guest has used
 * is never re-read, so mprotect cannot take access away yet and an
 * unmapped page stays accessible (it reads zero, it does not fault), and
 * mmap's free memory is not executable (PROT_EXEC there answers EACCES)
 * unless the program is dynamic: its libraries are mapped there, so the
 * image maps all of it executable (load/pagetable.c).
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "load/image.h"
#include "mem/memstat.h"

#define PG	   4096ull
#define PAGE_UP(x) (((x) + PG - 1) & ~(PG - 1))

/* A dynamic program: its image maps mmap's memory executable (its libraries go there). */
static int lx_dynamic(const struct vm *vm)
{
	return vm->img && vm->img->interp.nsegs;
}

static struct vm *lx_vm_of(struct lx_call *c)
{
	return c->vm;
}

/* A random multiple of PG below max, and below a 64th of a guest of mem_size bytes. */
static uint64_t lx_random_pages(uint64_t max, uint64_t mem_size)
{
	uint64_t r = 0, span = max < mem_size / 64 ? max : mem_size / 64;

	if (span < PG || getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return 0;
	return r % (span / PG) * PG;
}

int lx_mem_init(struct lx_proc *p, struct vm *vm, uint64_t brk_start, uint64_t mmap_top)
{
	p->brk_start = p->brk = PAGE_UP(brk_start) + lx_random_pages(LX_RAND_BRK, vm->mem.size);
	p->mmap_floor = p->brk_start;
	p->mmap_top = (mmap_top & ~(PG - 1)) - lx_random_pages(LX_RAND_MMAP, vm->mem.size);
	if (p->mmap_top <= p->brk_start)
		return err_set("no room for the program's break and mappings (try a larger --mem)");
	return 0;
}

void lx_mem_release(struct lx_proc *p)
{
	free(p->vmas);
	p->vmas = NULL;
	p->nvmas = p->capvmas = 0;
}

/*
 * Makes [start, end) of guest memory read zero again and gives its host
 * pages back. Where a page's backing may hold data (a clone's template,
 * a page dedup merged) the range is replaced by fresh anonymous memory.
 */
static void lx_discard(struct vm *vm, uint64_t start, uint64_t end)
{
	uint8_t *host = vm->mem.host + start;
	size_t len = end - start;

	if (end <= start)
		return;
	if (!vm->tpl && !vm->remapped &&
	    (vm->mapped_memfd < 0 || vm->mapped_memfd == vm->img->memfd) &&
	    madvise(host, len, MADV_DONTNEED) == 0)
		return;
	if (mmap(host, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
		 MAP_NORESERVE, -1, 0) == MAP_FAILED)
		memset(host, 0, len);
}

/* Gives every kept range back to the host. */
static void lx_keep_flush(struct lx_call *c)
{
	struct lx_proc *p = c->p;

	for (size_t i = 0; i < p->nkept; i++)
		lx_discard(c->vm, p->kept[i].start, p->kept[i].end);
	p->nkept = 0;
	p->kept_bytes = 0;
}

/* [s, e) leaves the guest's address space: kept (to be zeroed at reuse), or given back. */
static void lx_keep(struct lx_call *c, uint64_t s, uint64_t e)
{
	struct lx_proc *p = c->p;

	if (e <= s)
		return;
	if (e - s > LX_KEEP_MAX) {
		lx_discard(c->vm, s, e);
		return;
	}
	if (p->nkept == sizeof(p->kept) / sizeof(p->kept[0]) || p->kept_bytes + (e - s) > LX_KEEP_MAX)
		lx_keep_flush(c);
	p->kept[p->nkept++] = (struct lx_vma){s, e, 0};
	p->kept_bytes += e - s;
}

/* [s, e) is handed out again: whatever part of it was kept is zeroed and no longer kept. */
static void lx_claim(struct lx_call *c, uint64_t s, uint64_t e)
{
	struct lx_proc *p = c->p;

	for (size_t i = 0; i < p->nkept;) {
		struct lx_vma k = p->kept[i];
		uint64_t lo = k.start > s ? k.start : s, hi = k.end < e ? k.end : e;

		if (lo >= hi) {
			i++;
			continue;
		}
		memset(c->vm->mem.host + lo, 0, hi - lo);
		p->kept_bytes -= hi - lo;
		p->kept[i] = p->kept[--p->nkept];
		/* What is left of k on either side stays kept (at most two pieces). */
		if (k.start < lo)
			p->kept[p->nkept++] = (struct lx_vma){k.start, lo, 0};
		if (hi < k.end) {
			if (p->nkept == sizeof(p->kept) / sizeof(p->kept[0])) {
				lx_discard(c->vm, hi, k.end);
				p->kept_bytes -= k.end - hi;
			} else {
				p->kept[p->nkept++] = (struct lx_vma){hi, k.end, 0};
			}
		}
	}
}

/* The lowest address mmap has handed out, or mmap_top. */
static uint64_t lx_vma_low(const struct lx_proc *p)
{
	return p->nvmas ? p->vmas[0].start : p->mmap_top;
}

void lx_mark_mapped(const struct lx_proc *p, uint8_t *map, uint64_t npages)
{
	for (size_t i = 0; i < p->nvmas; i++)
		for (uint64_t pg = p->vmas[i].start / PG; pg < p->vmas[i].end / PG && pg < npages;
		     pg++)
			map[pg >> 3] |= (uint8_t)(1u << (pg & 7));
}

int lx_memstat_read(const struct vm *vm, struct memstat_vm *st)
{
	const struct lx_proc *p = vm->lx;
	uint64_t *e, npages = vm->mem.size / PG;

	if (!p)
		return memstat_vm_read(vm, st);
	e = memstat_pagemap(vm);
	if (!e)
		return -1;
	memstat_vm_count(vm, e, st);
	for (size_t i = 0; i < p->nvmas; i++) {
		if (!(p->vmas[i].prot & LX_VMA_FILE))
			continue;
		for (uint64_t pg = p->vmas[i].start / PG; pg < p->vmas[i].end / PG && pg < npages;
		     pg++) {
			/* A clone's library pages are its template's data: counted as such. */
			if (!memstat_entry_present(e[pg]) || data_map_test(vm->data_map, pg))
				continue;
			if (memstat_entry_private(e[pg])) {
				st->lib_private++;
				st->zero_private--;
			} else {
				st->lib_shared++;
				st->zero_shared--;
			}
		}
	}
	free(e);
	return 0;
}

LX_HANDLER(brk)
{
	struct lx_proc *p = c->p;
	uint64_t want = c->a[0], old_end = PAGE_UP(p->brk), new_end;

	if (want < p->brk_start || want > lx_vma_low(p))
		return (int64_t)p->brk;
	new_end = PAGE_UP(want);
	if (new_end < old_end)
		lx_discard(lx_vm_of(c), new_end, old_end);
	else if (new_end > old_end)
		lx_claim(c, old_end, new_end);
	p->brk = want;
	return (int64_t)p->brk;
}

/* Index of the first vma ending above addr. */
static size_t lx_vma_find(const struct lx_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nvmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->vmas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int lx_vma_overlaps(const struct lx_proc *p, uint64_t start, uint64_t end)
{
	size_t i = lx_vma_find(p, start);

	return i < p->nvmas && p->vmas[i].start < end;
}

static int lx_vma_insert(struct lx_proc *p, uint64_t start, uint64_t end, int prot)
{
	size_t i = lx_vma_find(p, start);

	if (p->nvmas == p->capvmas) {
		size_t cap = p->capvmas ? p->capvmas * 2 : 16;
		struct lx_vma *v;

		if (p->nvmas >= LX_VMA_MAX)
			return -ENOMEM;
		v = realloc(p->vmas, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->vmas = v;
		p->capvmas = cap;
	}
	memmove(p->vmas + i + 1, p->vmas + i, (p->nvmas - i) * sizeof(*p->vmas));
	p->vmas[i] = (struct lx_vma){start, end, prot};
	p->nvmas++;
	return 0;
}

/* Removes [start, end) from the vma list, splitting a vma that straddles it. */
static int lx_vma_remove(struct lx_proc *p, uint64_t start, uint64_t end)
{
	size_t i = lx_vma_find(p, start);

	while (i < p->nvmas && p->vmas[i].start < end) {
		struct lx_vma *v = &p->vmas[i];

		if (v->start < start && v->end > end) {
			struct lx_vma tail = {end, v->end, v->prot};

			v->end = start;
			return lx_vma_insert(p, tail.start, tail.end, tail.prot);
		}
		if (v->start < start) {
			v->end = start;
			i++;
		} else if (v->end > end) {
			v->start = end;
			break;
		} else {
			memmove(v, v + 1, (p->nvmas - i - 1) * sizeof(*v));
			p->nvmas--;
		}
	}
	return 0;
}

/* The highest free range of len bytes in [floor, mmap_top), or 0. */
static uint64_t lx_find_gap(const struct lx_proc *p, uint64_t len)
{
	uint64_t floor = PAGE_UP(p->brk) + 16 * PG, top = p->mmap_top;

	for (size_t i = p->nvmas; ; i--) {
		uint64_t lo = i ? p->vmas[i - 1].end : floor;

		if (lo < floor)
			lo = floor;
		if (top >= lo && top - lo >= len)
			return top - len;
		if (!i)
			return 0;
		top = p->vmas[i - 1].start;
	}
}

/* Whether [start, end) lies in the part of memory mmap may hand out. */
static int lx_in_arena(const struct lx_proc *p, uint64_t start, uint64_t end)
{
	return start >= PAGE_UP(p->brk) && end <= p->mmap_top && start < end;
}

/*
 * Whether a file's pages may be mapped into the guest as they are (the
 * host's page cache, shared by every guest and process, copied on write)
 * instead of copied: only a regular file the guest cannot write (a
 * read-only tree, an exposed library) that no one but root or mvmm's own
 * user can change, because a host mapping of a file that shrinks would
 * fault the VMM itself. When mvmm itself could write it (it runs as root,
 * or owns the file), the file must also lie on no file system that a
 * writable tree of this guest is on (a hard link there could truncate it).
 */
static int lx_file_shareable(const struct lx_proc *p, const struct lx_fd *f,
			     const struct stat *st)
{
	struct stat m;

	if (f->writable || !S_ISREG(st->st_mode) || (st->st_mode & 022) ||
	    (st->st_uid != 0 && st->st_uid != geteuid()))
		return 0;
	if (geteuid() != 0 && st->st_uid != geteuid())
		return 1;
	for (size_t i = 0; i < p->nmounts; i++)
		if (p->mounts[i].rw && (fstat(p->mounts[i].dirfd, &m) < 0 || m.st_dev == st->st_dev))
			return 0;
	return 1;
}

/* Maps [off, off + len) of the file over guest memory at addr, private; 1 or -errno. */
static int64_t lx_map_shared(struct lx_call *c, uint64_t addr, uint64_t len, int host,
			     uint64_t off, const struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size, file_len;

	if (off >= size)
		return 1; /* nothing of the file: the pages read zero */
	file_len = PAGE_UP(size - off) < len ? PAGE_UP(size - off) : len;
	if (mmap(c->vm->mem.host + addr, file_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, host, (off_t)off) == MAP_FAILED)
		return -errno;
	/* Dropping these pages later must give zero, not the file: see lx_discard. */
	c->vm->remapped = 1;
	return 1;
}

/* The file's pages at addr: 1 mapped as they are (lx_map_shared), 0 copied, or -errno. */
static int64_t lx_map_file(struct lx_call *c, uint64_t addr, uint64_t len, int64_t fd,
			   uint64_t off)
{
	struct lx_fd *f = lx_fd_get(c->p, fd);
	uint8_t *dst = c->vm->mem.host + addr;
	uint64_t done = 0;
	struct stat st;

	if (!f)
		return -EBADF;
	if (f->kind != LX_FD_FILE || (f->flags & O_ACCMODE) == O_WRONLY)
		return f->kind == LX_FD_FILE ? -EACCES : -ENODEV;
	if (fstat(f->host, &st) == 0 && lx_file_shareable(c->p, f, &st))
		return lx_map_shared(c, addr, len, f->host, off, &st);
	while (done < len) {
		ssize_t n = pread(f->host, dst + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	return 0;
}

LX_HANDLER(mmap)
{
	struct lx_proc *p = c->p;
	uint64_t addr = c->a[0], len = c->a[1], off = c->a[5], start;
	int prot = (int)c->a[2] & (PROT_READ | PROT_WRITE | PROT_EXEC);
	int flags = (int)c->a[3], type = flags & MAP_TYPE;
	int64_t r = 0;

	if (!len || (addr & (PG - 1)) || (off & (PG - 1)))
		return -EINVAL;
	if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (len > p->mmap_top)
		return -ENOMEM;
	len = PAGE_UP(len);
	if ((prot & PROT_EXEC) && !lx_dynamic(c->vm))
		return -EACCES; /* free memory is mapped no-execute (see the top of this file) */
	if (!(flags & MAP_ANONYMOUS) && type != MAP_PRIVATE && (prot & PROT_WRITE))
		return -EACCES; /* a shared writable file mapping would need the host file mapped */
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (addr + len < addr || !lx_in_arena(p, addr, addr + len))
			return -ENOMEM;
		if (lx_vma_overlaps(p, addr, addr + len)) {
			if (flags & MAP_FIXED_NOREPLACE)
				return -EEXIST;
			if ((r = lx_vma_remove(p, addr, addr + len)) < 0)
				return r;
			lx_discard(c->vm, addr, addr + len);
		}
		start = addr;
	} else {
		start = lx_find_gap(p, len);
		if (!start)
			return -ENOMEM;
	}
	lx_claim(c, start, start + len);
	if (!(flags & MAP_ANONYMOUS) && (r = lx_map_file(c, start, len, (int)c->a[4], off)) < 0) {
		lx_discard(c->vm, start, start + len);
		return r;
	}
	if (!(flags & MAP_ANONYMOUS) && r == 1)
		prot |= LX_VMA_FILE;
	if ((r = lx_vma_insert(p, start, start + len, prot)) < 0) {
		lx_discard(c->vm, start, start + len);
		return r;
	}
	return (int64_t)start;
}

LX_HANDLER(munmap)
{
	struct lx_proc *p = c->p;
	uint64_t addr = c->a[0], len = PAGE_UP(c->a[1]), s, e;
	size_t i;
	int64_t r;

	if ((addr & (PG - 1)) || !len || addr + len < addr)
		return -EINVAL;
	/* Only what mmap handed out goes; the program, its break and the stack stay. */
	for (i = lx_vma_find(p, addr); i < p->nvmas && p->vmas[i].start < addr + len; i++) {
		s = p->vmas[i].start > addr ? p->vmas[i].start : addr;
		e = p->vmas[i].end < addr + len ? p->vmas[i].end : addr + len;
		lx_keep(c, s, e);
	}
	r = lx_vma_remove(p, addr, addr + len);
	return r < 0 ? r : 0;
}

LX_HANDLER(mprotect)
{
	uint64_t addr = c->a[0], len = PAGE_UP(c->a[1]);
	int prot = (int)c->a[2];

	if ((addr & (PG - 1)) || addr + len < addr)
		return -EINVAL;
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP))
		return -EINVAL;
	if (!len)
		return 0;
	if (addr < MVMM_IMAGE_BASE || addr + len > c->vm->mem.size)
		return -ENOMEM;
	/* Executable memory is the program's own text (and a dynamic program's mappings). */
	if ((prot & PROT_EXEC) && addr + len > c->p->brk_start && !lx_dynamic(c->vm))
		return -EACCES;
	return 0;
}

LX_HANDLER(mremap)
{
	struct lx_proc *p = c->p;
	uint64_t old = c->a[0], olen = PAGE_UP(c->a[1]), nlen = PAGE_UP(c->a[2]), flags = c->a[3];
	size_t i = lx_vma_find(p, old);
	struct lx_vma v;
	uint64_t dst;
	int64_t r;

	if ((old & (PG - 1)) || !nlen || (flags & ~(uint64_t)(MREMAP_MAYMOVE | MREMAP_FIXED)) ||
	    (flags & MREMAP_FIXED))
		return -EINVAL;
	if (i == p->nvmas || p->vmas[i].start > old || p->vmas[i].end < old + olen || !olen)
		return -EFAULT;
	v = p->vmas[i];
	if (nlen <= olen) {
		lx_keep(c, old + nlen, old + olen);
		r = lx_vma_remove(p, old + nlen, old + olen);
		return r < 0 ? r : (int64_t)old;
	}
	v.prot &= ~LX_VMA_FILE; /* what grows or moves is anonymous memory */
	if (v.end == old + olen && lx_in_arena(p, old, old + nlen) &&
	    !lx_vma_overlaps(p, old + olen, old + nlen)) {
		r = lx_vma_insert(p, old + olen, old + nlen, v.prot);
		if (r == 0)
			lx_claim(c, old + olen, old + nlen);
		return r < 0 ? r : (int64_t)old;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	dst = lx_find_gap(p, nlen);
	if (!dst)
		return -ENOMEM;
	if ((r = lx_vma_insert(p, dst, dst + nlen, v.prot)) < 0)
		return r;
	lx_claim(c, dst, dst + nlen);
	memcpy(c->vm->mem.host + dst, c->vm->mem.host + old, olen);
	lx_keep(c, old, old + olen);
	r = lx_vma_remove(p, old, old + olen);
	return r < 0 ? r : (int64_t)dst;
}

LX_HANDLER(madvise)
{
	uint64_t addr = c->a[0], len = PAGE_UP(c->a[1]);
	struct lx_proc *p = c->p;

	if ((addr & (PG - 1)) || addr + len < addr)
		return -EINVAL;
	/* MADV_DONTNEED on anonymous memory reads zero afterwards, as Linux promises. */
	if ((int)c->a[2] == MADV_DONTNEED) {
		for (size_t i = lx_vma_find(p, addr); i < p->nvmas && p->vmas[i].start < addr + len;
		     i++) {
			uint64_t s = p->vmas[i].start > addr ? p->vmas[i].start : addr;
			uint64_t e = p->vmas[i].end < addr + len ? p->vmas[i].end : addr + len;

			lx_discard(c->vm, s, e);
		}
	}
	return 0;
}

LX_HANDLER(msync)
{
	if (c->a[0] & (PG - 1))
		return -EINVAL;
	return 0; /* every mapping is a private copy */
}

LX_HANDLER(mincore)
{
	uint64_t addr = c->a[0], pages = PAGE_UP(c->a[1]) / PG;
	uint8_t *vec;

	if (addr & (PG - 1))
		return -EINVAL;
	if (!lx_uptr(c, addr, pages * PG, 0))
		return -ENOMEM;
	vec = lx_uptr(c, c->a[2], pages, 1);
	if (!vec)
		return -EFAULT;
	memset(vec, 1, pages);
	return 0;
}
