/*
 * lx_uaccess.c: guest memory as a system call sees it. A bad pointer is
 * the guest's EFAULT, never the VMM's crash: every range goes through the
 * one checked translator (core/gmem.h), and one the VMM writes must also be
 * writable to the guest (not its code or read-only data, not a 2 MiB page).
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <string.h>

#include "core/layout.h"
#include "load/elfload.h"
#include "load/image.h"

/* Whether [gva, gva + len) touches a page the guest's own tables map read-only or not at all. */
static int lx_range_readonly(const struct vm *vm, uint64_t gva, uint64_t len)
{
	const struct elfload_program *prog = &vm->img->prog;
	uint64_t guard = layout_guard_page(vm->mem.size);
	uint64_t end = gva + len;

	if (gva < guard + MVMM_PAGE_SIZE && end > guard)
		return 1;
	for (size_t i = 0; i < prog->nsegs; i++) {
		const struct elfload_segment *s = &prog->segs[i];
		uint64_t lo = s->gpa & ~4095ull, hi = (s->gpa + s->memsz + 4095) & ~4095ull;

		if (!(s->flags & 2) && gva < hi && end > lo) /* PF_W */
			return 1;
	}
	return 0;
}

void *lx_uptr(struct lx_call *c, uint64_t gva, uint64_t len, int write)
{
	const struct gmem *m = &c->vm->mem;
	void *p;

	if (gva < MVMM_IMAGE_BASE)
		return NULL; /* the system area is no program's */
	p = write ? gmem_user_ptr_rw(m, gva, len ? len : 1) : gmem_user_ptr(m, gva, len ? len : 1);
	if (!p)
		return NULL;
	if (write && len && lx_range_readonly(c->vm, gva, len))
		return NULL;
	if (!write && len && gva < layout_guard_page(m->size) + MVMM_PAGE_SIZE &&
	    gva + len > layout_guard_page(m->size))
		return NULL;
	return p;
}

int lx_get(struct lx_call *c, uint64_t gva, void *dst, size_t len)
{
	const void *p = lx_uptr(c, gva, len, 0);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int lx_put(struct lx_call *c, uint64_t gva, const void *src, size_t len)
{
	void *p = lx_uptr(c, gva, len, 1);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int64_t lx_ustr(struct lx_call *c, uint64_t gva, char *buf, size_t cap)
{
	const struct gmem *m = &c->vm->mem;
	const char *p;
	uint64_t room;
	size_t n;

	if (gva < MVMM_IMAGE_BASE || gva >= m->size)
		return -EFAULT;
	room = m->size - gva;
	p = lx_uptr(c, gva, 1, 0);
	if (!p)
		return -EFAULT;
	n = strnlen(p, room < cap ? room : cap);
	if (n == room)
		return -EFAULT; /* runs off the end of guest memory */
	if (n == cap)
		return -ENAMETOOLONG;
	memcpy(buf, p, n + 1);
	return (int64_t)n;
}
