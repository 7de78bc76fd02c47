/*
 * lx_save.c: the file form of a frozen program's process state, for the
 * snapshots and cache entries of templates: everything a clone inherits
 * (memory layout, signal dispositions, limits, the descriptor table, the
 * working directory) in fixed-size fields. Its trees are not stored: a
 * clone of a restored template opens the --dir trees of its own run.
 *
 * Only a process whose descriptors are the guest's stdin, stdout and
 * stderr (or copies of them) has a file form: an open host file or pipe is
 * a host resource no file can carry. Loading checks every field, since the
 * file may be hostile: all ranges are page-aligned, ordered and inside
 * guest memory, because the VMM zeroes and unmaps host memory by them.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/layout.h"

#define LX_SAVE_MAGIC	"MVMMLXPS"
#define LX_SAVE_VERSION 1u
#define LX_PG		4096ull

struct lx_saved {
	char magic[8];
	uint32_t version;
	uint32_t size; /* the whole blob: this header, fds, vmas, kept ranges, cwd, padding */
	uint32_t nfds, nvmas, nkept, cwd_len;
	uint32_t umask;
	int32_t altstack_flags;
	int32_t saved_mask_set, rlim_set;
	int32_t undumpable, pad;
	uint64_t brk_start, brk, mmap_floor, mmap_top, kept_bytes;
	uint64_t sigmask, pending, saved_mask;
	uint64_t altstack_sp, altstack_size;
	uint64_t tid_address, robust_list, robust_len, at_random;
	struct lx_rlimit rlim[LX_RLIM_NLIMITS];
	struct lx_sigaction sig[LX_NSIG + 1];
	int32_t si_code[LX_NSIG + 1];
	int32_t pad2;
	char comm[16];
	uint8_t enosys_said[LX_NR_LIMIT / 8];
};

struct lx_saved_fd {
	uint8_t kind, cloexec, stream, writable;
	int32_t flags;
};

struct lx_saved_range {
	uint64_t start, end;
	int64_t prot;
};

_Static_assert(sizeof(struct lx_saved) % 8 == 0, "saved process header alignment");
_Static_assert(sizeof(struct lx_saved_fd) == 8, "saved descriptor layout");
_Static_assert(sizeof(struct lx_saved_range) == 24, "saved range layout");

static size_t lx_saved_size(uint64_t nfds, uint64_t nvmas, uint64_t nkept, uint64_t cwd_len)
{
	size_t n = sizeof(struct lx_saved) + nfds * sizeof(struct lx_saved_fd) +
		   (nvmas + nkept) * sizeof(struct lx_saved_range) + cwd_len;

	return (n + 7) & ~(size_t)7;
}

/* The first descriptor a saved state cannot carry (a host file, directory or pipe), or -1. */
static int lx_unsaveable_fd(const struct lx_proc *p)
{
	for (unsigned i = 0; i < p->nfds; i++)
		if (p->fds[i].kind != LX_FD_FREE && p->fds[i].kind != LX_FD_STREAM)
			return (int)i;
	return -1;
}

int lx_proc_can_save(const struct lx_proc *p)
{
	return p && lx_unsaveable_fd(p) < 0;
}

int lx_proc_save(const struct lx_proc *p, void **out, size_t *out_len)
{
	size_t cwd_len = p->cwd ? strlen(p->cwd) : 0, len, i;
	int bad_fd = lx_unsaveable_fd(p);
	struct lx_saved *s;
	struct lx_saved_fd *fd;
	struct lx_saved_range *r;

	if (bad_fd >= 0)
		return err_set("the program holds descriptor %d open on a host file, directory "
			       "or pipe, which a saved state cannot carry; close it before ready",
			       bad_fd);
	len = lx_saved_size(p->nfds, p->nvmas, p->nkept, cwd_len);
	if (len > LX_SAVED_MAX)
		return err_set("the program's process state is too large to save");
	s = calloc(1, len);
	if (!s)
		return err_set("out of memory");
	memcpy(s->magic, LX_SAVE_MAGIC, sizeof(s->magic));
	s->version = LX_SAVE_VERSION;
	s->size = (uint32_t)len;
	s->nfds = p->nfds;
	s->nvmas = (uint32_t)p->nvmas;
	s->nkept = (uint32_t)p->nkept;
	s->cwd_len = (uint32_t)cwd_len;
	s->umask = p->umask;
	s->altstack_flags = p->altstack_flags;
	s->saved_mask_set = p->saved_mask_set;
	s->rlim_set = p->rlim_set;
	s->undumpable = p->undumpable;
	s->brk_start = p->brk_start;
	s->brk = p->brk;
	s->mmap_floor = p->mmap_floor;
	s->mmap_top = p->mmap_top;
	s->kept_bytes = p->kept_bytes;
	s->sigmask = p->sigmask;
	s->pending = p->pending;
	s->saved_mask = p->saved_mask;
	s->altstack_sp = p->altstack_sp;
	s->altstack_size = p->altstack_size;
	s->tid_address = p->tid_address;
	s->robust_list = p->robust_list;
	s->robust_len = p->robust_len;
	s->at_random = p->at_random;
	memcpy(s->rlim, p->rlim, sizeof(s->rlim));
	memcpy(s->sig, p->sig, sizeof(s->sig));
	memcpy(s->si_code, p->si_code, sizeof(s->si_code));
	memcpy(s->comm, p->comm, sizeof(s->comm));
	memcpy(s->enosys_said, p->enosys_said, sizeof(s->enosys_said));
	fd = (struct lx_saved_fd *)(s + 1);
	for (i = 0; i < p->nfds; i++)
		fd[i] = (struct lx_saved_fd){p->fds[i].kind, p->fds[i].cloexec, p->fds[i].stream,
					     p->fds[i].writable, p->fds[i].flags};
	r = (struct lx_saved_range *)(fd + p->nfds);
	for (i = 0; i < p->nvmas; i++)
		*r++ = (struct lx_saved_range){p->vmas[i].start, p->vmas[i].end, p->vmas[i].prot};
	for (i = 0; i < p->nkept; i++)
		*r++ = (struct lx_saved_range){p->kept[i].start, p->kept[i].end, 0};
	memcpy(r, p->cwd, cwd_len);
	*out = s;
	*out_len = len;
	return 0;
}

static int lx_bad(const char *why)
{
	return err_set("saved process state: %s", why);
}

static int lx_page_aligned(uint64_t a)
{
	return a % LX_PG == 0;
}

/* Ranges page-aligned, non-empty, within [lo, hi); ordered and disjoint when `sorted`. */
static int lx_check_ranges(const struct lx_saved_range *r, size_t n, uint64_t lo, uint64_t hi,
			   int sorted, uint64_t *bytes)
{
	uint64_t prev_end = lo;

	*bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (!lx_page_aligned(r[i].start) || !lx_page_aligned(r[i].end) ||
		    r[i].start >= r[i].end || r[i].start < lo || r[i].end > hi ||
		    (sorted && r[i].start < prev_end) || r[i].prot < 0 || r[i].prot > 7)
			return -1;
		prev_end = r[i].end;
		*bytes += r[i].end - r[i].start;
	}
	return 0;
}

static int lx_check(const struct lx_saved *s, size_t len, uint64_t mem_size)
{
	const struct lx_saved_fd *fd = (const void *)(s + 1);
	const struct lx_saved_range *r;
	uint64_t top = layout_guard_page(mem_size), bytes;
	const char *cwd;

	if (len < sizeof(*s) || len > LX_SAVED_MAX ||
	    memcmp(s->magic, LX_SAVE_MAGIC, sizeof(s->magic)) != 0)
		return lx_bad("missing or not a process state");
	if (s->version != LX_SAVE_VERSION)
		return lx_bad("a format version this mvmm does not read");
	if (s->nfds < 3 || s->nfds > LX_FD_LIMIT || s->nvmas > mem_size / LX_PG ||
	    s->nkept > sizeof(((struct lx_proc *)0)->kept) / sizeof(struct lx_vma) ||
	    s->cwd_len == 0 || s->cwd_len >= LX_PATH_MAX ||
	    s->size != lx_saved_size(s->nfds, s->nvmas, s->nkept, s->cwd_len) || s->size != len)
		return lx_bad("counts and size disagree");
	for (uint32_t i = 0; i < s->nfds; i++)
		if ((fd[i].kind != LX_FD_FREE && fd[i].kind != LX_FD_STREAM) || fd[i].stream > 2 ||
		    fd[i].cloexec > 1 || fd[i].writable > 1)
			return lx_bad("a descriptor that is not the guest's stdio");
	if (!lx_page_aligned(s->brk_start) || !lx_page_aligned(s->mmap_floor) ||
	    !lx_page_aligned(s->mmap_top) || s->brk_start < MVMM_IMAGE_BASE ||
	    s->brk < s->brk_start || s->brk > s->mmap_top || s->mmap_floor < s->brk_start ||
	    s->mmap_floor > s->mmap_top || s->mmap_top > top)
		return lx_bad("the program break or the mmap area lies outside guest memory");
	r = (const void *)(fd + s->nfds);
	if (lx_check_ranges(r, s->nvmas, s->brk_start, s->mmap_top, 1, &bytes) < 0)
		return lx_bad("a mapping out of order or outside the mmap area");
	if (lx_check_ranges(r + s->nvmas, s->nkept, MVMM_IMAGE_BASE, mem_size, 0, &bytes) < 0 ||
	    bytes != s->kept_bytes)
		return lx_bad("a kept range outside guest memory");
	cwd = (const char *)(r + s->nvmas + s->nkept);
	if (cwd[0] != '/' || memchr(cwd, '\0', s->cwd_len))
		return lx_bad("the working directory is not an absolute path");
	return 0;
}

struct lx_proc *lx_proc_load(const void *buf, size_t len, uint64_t mem_size)
{
	const struct lx_saved *s = buf;
	const struct lx_saved_fd *fd;
	const struct lx_saved_range *r;
	struct lx_proc *p;

	if (lx_check(s, len, mem_size) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		err_set("out of memory");
		return NULL;
	}
	p->nfds = s->nfds;
	p->fds = calloc(p->nfds, sizeof(*p->fds));
	p->nvmas = p->capvmas = s->nvmas;
	p->vmas = s->nvmas ? calloc(s->nvmas, sizeof(*p->vmas)) : NULL;
	p->cwd = strndup((const char *)s + sizeof(*s) + s->nfds * sizeof(*fd) +
				 (s->nvmas + s->nkept) * sizeof(*r),
			 s->cwd_len);
	if (!p->fds || (s->nvmas && !p->vmas) || !p->cwd) {
		lx_proc_free(p);
		err_set("out of memory");
		return NULL;
	}
	fd = (const void *)(s + 1);
	for (uint32_t i = 0; i < s->nfds; i++)
		p->fds[i] = (struct lx_fd){.kind = fd[i].kind, .cloexec = fd[i].cloexec,
					   .stream = fd[i].stream, .writable = fd[i].writable,
					   .host = -1, .flags = fd[i].flags};
	r = (const void *)(fd + s->nfds);
	for (uint32_t i = 0; i < s->nvmas; i++, r++)
		p->vmas[i] = (struct lx_vma){r->start, r->end, (int)r->prot};
	for (uint32_t i = 0; i < s->nkept; i++, r++)
		p->kept[i] = (struct lx_vma){r->start, r->end, 0};
	p->nkept = s->nkept;
	p->kept_bytes = s->kept_bytes;
	p->umask = s->umask & 0777;
	p->altstack_flags = s->altstack_flags;
	p->saved_mask_set = s->saved_mask_set != 0;
	p->rlim_set = s->rlim_set != 0;
	p->undumpable = s->undumpable != 0;
	p->brk_start = s->brk_start;
	p->brk = s->brk;
	p->mmap_floor = s->mmap_floor;
	p->mmap_top = s->mmap_top;
	p->sigmask = s->sigmask;
	p->pending = s->pending;
	p->saved_mask = s->saved_mask;
	p->altstack_sp = s->altstack_sp;
	p->altstack_size = s->altstack_size;
	p->tid_address = s->tid_address;
	p->robust_list = s->robust_list;
	p->robust_len = s->robust_len;
	p->at_random = s->at_random;
	memcpy(p->rlim, s->rlim, sizeof(p->rlim));
	memcpy(p->sig, s->sig, sizeof(p->sig));
	memcpy(p->si_code, s->si_code, sizeof(p->si_code));
	memcpy(p->comm, s->comm, sizeof(p->comm));
	memcpy(p->enosys_said, s->enosys_said, sizeof(p->enosys_said));
	p->strace_fd = 2;
	p->trees_from_clone = 1;
	return p;
}
