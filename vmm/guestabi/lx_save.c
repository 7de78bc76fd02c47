/*
 * lx_save.c: a Linux program's process state as a record: what a snapshot
 * or a cache entry of a Linux template carries beside its memory, and its
 * load, which treats the bytes as hostile (a file anyone may have written:
 * the containers' checksums are not signatures).
 *
 * Record format, version 1 (little-endian, fixed-size fields, no padding;
 * written field by field, never as a memory image of struct lx_proc, whose
 * layout changes between builds):
 *
 *   offset  size
 *   0       8     magic "MVMMLXPS"
 *   8       4     version (1); another is refused before anything else is read
 *   12      4     fixed_size: bytes of this fixed part (2816 in version 1)
 *   16      8     total_size: bytes of the whole record (must be all there is)
 *   24      4     nfds: the descriptor table's size (16 .. LX_FD_LIMIT)
 *   28      4     nents: descriptors saved (the table's used slots, <= nfds)
 *   32      4     nvmas: mmap'd ranges (<= LX_VMA_MAX)
 *   36      4     nkept: unmapped ranges kept for reuse (<= 16)
 *   40      4     cwd_len: bytes of the working directory (1 .. LX_PATH_MAX - 1)
 *   44      4     umask (<= 0777)
 *   48      8 x 5 brk_start, brk, mmap_floor, mmap_top, kept_bytes
 *   88      8 x 3 sigmask, pending, saved_mask
 *   112     4 x 2 saved_mask_set (0/1), altstack_flags
 *   120     8 x 6 altstack_sp, altstack_size, tid_address, robust_list, robust_len, at_random
 *   168     4 x 2 rlim_set (0/1), undumpable (0/1)
 *   176     16    comm (prctl PR_SET_NAME: 15 bytes, then 1 once set)
 *   192     64    enosys_said (unknown calls already named, one bit each)
 *   256     64 x 32  signals 1..64: handler, flags, restorer, mask (u64 each)
 *   2304    64 x 4   si_code of signals 1..64 (i32: SI_USER 0 or SI_TKILL -6)
 *   2560    16 x 16  rlimits 0..15: cur, max (u64 each)
 *   2816          cwd: cwd_len bytes, then a NUL (absolute, normalised)
 *                 vmas: nvmas x { u64 start, u64 end, u32 prot, u32 0 }, sorted
 *                 kept: nkept x { u64 start, u64 end }
 *                 descriptors: nents x { u32 fd, u8 kind, u8 cloexec, u8 stream,
 *                   u8 type (S_IFMT >> 12 of the host file; 0: virtual directory or stream),
 *                   u32 flags (F_GETFL's), u32 vpos (a virtual directory's cursor),
 *                   u64 offset (the host file's position: a file's offset, a
 *                   directory's telldir cookie), u64 dev, ino, size, mtime_ns, ctime_ns,
 *                   u32 path_len, path_len bytes of guest path, a NUL }, fd increasing
 *
 * Not saved: the trees (--dir), which the loading run's own options give
 * (lx_fs_init); host fds: a file or directory is opened again by its guest
 * path through those trees, by lx_open_loc as open would (the confinement of
 * lx_path.c), its position restored; per-run settings (--strace, the
 * request, --hold) that a clone gets from its own run anyway. A stream is
 * saved as the stream it was (0, 1, 2). A pipe cannot be saved: its other
 * end and its buffered bytes live in host objects that a file cannot name,
 * and dropping it would hand the program a descriptor that no longer is what
 * it opened, so a template holding one is refused.
 *
 * Checks on load (lx_load.c): every count against its limit and the record's size;
 * addresses the VMM itself writes or unmaps (the break, the mappings, the
 * kept ranges, AT_RANDOM) inside the guest's memory where lx_exec and
 * lx_mem.c put them (the break from the program's end, mappings in
 * [break, mmap_top), page-aligned, sorted, disjoint); guest pointers the
 * program only reads back or the VMM uses through lx_uaccess (handlers,
 * restorers, the alternate stack, robust list, tid address) below 2^47; signal
 * flags and masks as rt_sigaction and sigprocmask leave them; limits no higher
 * than a fresh process's; strings NUL-terminated, paths normal and absolute.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

#define LXS_NKEPT (sizeof(((struct lx_proc *)0)->kept) / sizeof(struct lx_vma))

_Static_assert(LXS_NKEPT == 16, "the record's kept ranges");
_Static_assert(LX_RLIM_NLIMITS == 16 && LX_NSIG == 64, "the record's fixed part");

/* ---- writing ---- */

struct wbuf {
	uint8_t *b;
	size_t len, cap;
	int oom;
};

static void put(struct wbuf *w, const void *p, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *b;

		while (cap < w->len + n)
			cap *= 2;
		b = realloc(w->b, cap);
		if (!b) {
			w->oom = 1;
			return;
		}
		w->b = b;
		w->cap = cap;
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void put8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	put(w, b, 4);
}

static void put64(struct wbuf *w, uint64_t v)
{
	put32(w, (uint32_t)v);
	put32(w, (uint32_t)(v >> 32));
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* One descriptor entry; -1 with the message set for what cannot be saved. */
static int save_fd(struct wbuf *w, unsigned fd, const struct lx_fd *f)
{
	uint64_t off = 0, id[5] = {0};
	size_t plen = 0;
	uint8_t type = 0;
	struct stat st;

	if (f->kind == LX_FD_PIPE)
		return err_set("a Linux template with open pipes cannot be saved (descriptor %u "
			       "is a pipe)",
			       fd);
	if (f->kind != LX_FD_STREAM) {
		if (!f->path)
			return err_set("descriptor %u has no guest path to be opened again by", fd);
		plen = strlen(f->path);
	}
	if (f->host >= 0) {
		if (fstat(f->host, &st) < 0)
			return err_sys("saving descriptor %u (%s)", fd, f->path);
		type = (uint8_t)((st.st_mode & S_IFMT) >> 12);
		id[0] = (uint64_t)st.st_dev;
		id[1] = (uint64_t)st.st_ino;
		id[2] = (uint64_t)st.st_size;
		id[3] = ts_ns(&st.st_mtim);
		id[4] = ts_ns(&st.st_ctim);
		if (!(f->flags & O_PATH)) {
			off_t o = lseek(f->host, 0, SEEK_CUR);

			if (o < 0)
				return err_sys("saving descriptor %u (%s): its position", fd,
					       f->path);
			off = (uint64_t)o;
		}
	}
	put32(w, fd);
	put8(w, f->kind);
	put8(w, f->cloexec);
	put8(w, f->kind == LX_FD_STREAM ? f->stream : 0);
	put8(w, type);
	put32(w, (uint32_t)f->flags);
	put32(w, f->host < 0 && f->kind == LX_FD_DIR ? f->vpos : 0);
	put64(w, off);
	for (int i = 0; i < 5; i++)
		put64(w, id[i]);
	put32(w, (uint32_t)plen);
	if (plen)
		put(w, f->path, plen + 1);
	return 0;
}

int lx_proc_save(const struct lx_proc *p, uint8_t **buf, size_t *len)
{
	struct wbuf w = {0};
	size_t cwd_len = p->cwd ? strlen(p->cwd) : 0;
	uint32_t nents = 0;
	unsigned i;

	*buf = NULL;
	*len = 0;
	for (i = 0; i < p->nfds; i++)
		nents += p->fds[i].kind != LX_FD_FREE;
	put(&w, LX_REC_MAGIC, 8);
	put32(&w, LX_REC_VERSION);
	put32(&w, LX_REC_FIXED);
	put64(&w, 0); /* total_size, once known */
	put32(&w, p->nfds);
	put32(&w, nents);
	put32(&w, (uint32_t)p->nvmas);
	put32(&w, (uint32_t)p->nkept);
	put32(&w, (uint32_t)cwd_len);
	put32(&w, p->umask);
	put64(&w, p->brk_start);
	put64(&w, p->brk);
	put64(&w, p->mmap_floor);
	put64(&w, p->mmap_top);
	put64(&w, p->kept_bytes);
	put64(&w, p->sigmask);
	put64(&w, p->pending);
	put64(&w, p->saved_mask);
	put32(&w, (uint32_t)p->saved_mask_set);
	put32(&w, (uint32_t)p->altstack_flags);
	put64(&w, p->altstack_sp);
	put64(&w, p->altstack_size);
	put64(&w, p->tid_address);
	put64(&w, p->robust_list);
	put64(&w, p->robust_len);
	put64(&w, p->at_random);
	put32(&w, (uint32_t)p->rlim_set);
	put32(&w, (uint32_t)p->undumpable);
	put(&w, p->comm, 16);
	put(&w, p->enosys_said, 64);
	for (i = 1; i <= LX_NSIG; i++) {
		put64(&w, p->sig[i].handler);
		put64(&w, p->sig[i].flags);
		put64(&w, p->sig[i].restorer);
		put64(&w, p->sig[i].mask);
	}
	for (i = 1; i <= LX_NSIG; i++)
		put32(&w, (uint32_t)p->si_code[i]);
	for (i = 0; i < LX_RLIM_NLIMITS; i++) {
		put64(&w, p->rlim[i].cur);
		put64(&w, p->rlim[i].max);
	}
	if (!w.oom && w.len != LX_REC_FIXED) {
		free(w.b);
		return err_set("internal: the Linux process record's fixed part is %zu bytes",
			       w.len);
	}
	put(&w, p->cwd ? p->cwd : "", cwd_len + 1);
	for (i = 0; i < p->nvmas; i++) {
		put64(&w, p->vmas[i].start);
		put64(&w, p->vmas[i].end);
		put32(&w, (uint32_t)p->vmas[i].prot);
		put32(&w, 0);
	}
	for (i = 0; i < p->nkept; i++) {
		put64(&w, p->kept[i].start);
		put64(&w, p->kept[i].end);
	}
	for (i = 0; i < p->nfds; i++)
		if (p->fds[i].kind != LX_FD_FREE && save_fd(&w, i, &p->fds[i]) < 0) {
			free(w.b);
			return -1;
		}
	if (w.oom) {
		free(w.b);
		return err_set("saving the Linux process state: out of memory");
	}
	for (i = 0; i < 8; i++)
		w.b[16 + i] = (uint8_t)((uint64_t)w.len >> (8 * i));
	*buf = w.b;
	*len = w.len;
	return 0;
}
