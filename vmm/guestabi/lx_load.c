/*
 * lx_load.c: a Linux process record (its format: lx_save.c) back into a
 * process, every field checked as the comment there says, the files opened
 * again beneath this run's trees; and a record described for `mvmm snapshot
 * info`.
 */
#define _GNU_SOURCE
#include "lx_path.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"
#include "core/layout.h"
#include "load/image.h"

#define LXS_NKEPT      (sizeof(((struct lx_proc *)0)->kept) / sizeof(struct lx_vma))
#define LXS_PG	       4096ull
#define LXS_USER_TOP   (1ull << 47)
#define LXS_SIGBIT(s)  (1ull << ((s)-1))
#define LXS_UNBLOCK    (LXS_SIGBIT(SIGKILL) | LXS_SIGBIT(SIGSTOP))
#define LXS_SI_TKILL   (-6)
#define LXS_SS_MODE    3u
#define LXS_SS_AUTODIS (1u << 31)
/* What open and fcntl leave in an entry's flags. */
#define LXS_FLAGS                                                                                  \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_SYNC | O_DSYNC | O_ASYNC |   \
	 O_LARGEFILE | O_PATH)

_Static_assert(LXS_NKEPT == 16, "the record's kept ranges");
_Static_assert(LX_RLIM_NLIMITS == 16 && LX_NSIG == 64, "the record's fixed part");

static uint64_t page_up(uint64_t x)
{
	return (x + LXS_PG - 1) & ~(LXS_PG - 1);
}

/* ---- reading ---- */

struct rbuf {
	const uint8_t *b;
	size_t len, off;
	int short_;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
	const uint8_t *p;

	if (r->short_ || n > r->len - r->off) {
		r->short_ = 1;
		return NULL;
	}
	p = r->b + r->off;
	r->off += n;
	return p;
}

static uint32_t get32(struct rbuf *r)
{
	const uint8_t *p = take(r, 4);

	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			       (uint32_t)p[3] << 24
		 : 0;
}

static uint64_t get64(struct rbuf *r)
{
	uint64_t lo = get32(r);

	return lo | (uint64_t)get32(r) << 32;
}

static uint8_t get8(struct rbuf *r)
{
	const uint8_t *p = take(r, 1);

	return p ? *p : 0;
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set("the Linux process state is damaged: %s", msg);
}

/* What a saved descriptor carries besides its entry. */
struct lxs_ent {
	uint8_t type;
	uint64_t off, id[5];
};

/* A path of len bytes and its NUL (malloc'd): absolute and normal, as lx_path_norm leaves one. */
static char *get_str(struct rbuf *r, uint32_t len, const char *what)
{
	const uint8_t *s = take(r, (size_t)len + 1);
	char norm[LX_PATH_MAX], *copy;
	int tail;

	if (!s) {
		bad("%s runs past the end of the record", what);
		return NULL;
	}
	if (len == 0 || len >= LX_PATH_MAX || s[len] || memchr(s, 0, len)) {
		bad("%s is not a NUL-terminated path of 1 to %d bytes", what, LX_PATH_MAX - 1);
		return NULL;
	}
	if (s[0] != '/' || lx_path_norm("/", (const char *)s, norm, sizeof(norm), &tail) < 0 ||
	    (tail && len > 1) || strcmp(norm, (const char *)s)) {
		bad("%s %.200s is not an absolute, normalised path", what, (const char *)s);
		return NULL;
	}
	copy = strdup((const char *)s);
	if (!copy)
		err_set("loading the Linux process state: out of memory");
	return copy;
}

static int check_entry(const struct lx_fd *f, const struct lxs_ent *e, unsigned fd)
{
	int acc = f->flags & O_ACCMODE, path = (f->flags & O_PATH) != 0;

	if (f->cloexec > 1 || (f->flags & ~LXS_FLAGS) || acc == O_ACCMODE)
		return bad("descriptor %u: flags 0x%x", fd, (unsigned)f->flags);
	switch (f->kind) {
	case LX_FD_STREAM:
		if (f->stream > 2 || e->type || f->path || f->vpos || e->off || path)
			return bad("descriptor %u: not a stream as mvmm makes one", fd);
		return 0;
	case LX_FD_FILE:
		if (!f->path || f->vpos ||
		    (path ? acc || e->type == (S_IFDIR >> 12) || !e->type
			  : e->type != (S_IFREG >> 12)))
			return bad("descriptor %u: not a file as open makes one", fd);
		return 0;
	case LX_FD_DIR:
		if (!f->path || acc != O_RDONLY ||
		    (e->type ? e->type != (S_IFDIR >> 12) || f->vpos : e->off || e->id[1]))
			return bad("descriptor %u: not a directory as open makes one", fd);
		return 0;
	default:
		return bad("descriptor %u: kind %u (a pipe, or unknown)", fd, f->kind);
	}
}

static int load_fds(struct rbuf *r, struct lx_proc *p, uint32_t nents, struct lxs_ent *ents)
{
	int64_t prev = -1;

	for (uint32_t i = 0; i < nents; i++) {
		uint32_t fd = get32(r), plen;
		struct lxs_ent *e = &ents[i];
		struct lx_fd f = {.host = -1};

		f.kind = get8(r);
		f.cloexec = get8(r);
		f.stream = get8(r);
		e->type = get8(r);
		f.flags = (int)get32(r);
		f.vpos = get32(r);
		e->off = get64(r);
		for (int k = 0; k < 5; k++)
			e->id[k] = get64(r);
		plen = get32(r);
		if (r->short_)
			return bad("descriptor entry %u runs past the end of the record", i);
		if (fd >= p->nfds || (int64_t)fd <= prev)
			return bad("descriptor %u out of order or beyond the table of %u", fd,
				   p->nfds);
		prev = fd;
		if (plen && !(f.path = get_str(r, plen, "a descriptor's path")))
			return -1;
		p->fds[fd] = f;
		if (e->off > INT64_MAX)
			return bad("descriptor %u: position %lu", fd, (unsigned long)e->off);
		if (check_entry(&p->fds[fd], e, fd) < 0)
			return -1;
	}
	return 0;
}

/* The break, the mappings and the kept ranges, as lx_exec and lx_mem.c leave them. */
static int check_mem(const struct lx_proc *p, uint64_t mem_size, const struct image *img)
{
	uint64_t top = layout_guard_page(mem_size) & ~(LXS_PG - 1), low, bytes = 0;
	int dynamic = img && img->interp.nsegs; /* its mappings may be executable (lx_mem.c) */

	/* lx_mem_init placed both at random, within LX_RAND_BRK and LX_RAND_MMAP. */
	if (p->brk_start % LXS_PG ||
	    (img && img->prog.nsegs
		     ? p->brk_start < page_up(img->heap_start) ||
			       p->brk_start - page_up(img->heap_start) >= LX_RAND_BRK
		     : p->brk_start < MVMM_IMAGE_BASE + LXS_PG))
		return bad("the program break starts at 0x%lx, not where the program ends",
			   (unsigned long)p->brk_start);
	if (p->mmap_top % LXS_PG || p->mmap_top > top || top - p->mmap_top >= LX_RAND_MMAP ||
	    p->mmap_floor != p->brk_start || p->brk_start >= p->mmap_top)
		return bad("the mmap area [0x%lx, 0x%lx) is not this guest's",
			   (unsigned long)p->mmap_floor, (unsigned long)p->mmap_top);
	low = p->nvmas ? p->vmas[0].start : p->mmap_top;
	if (p->brk < p->brk_start || p->brk > low)
		return bad("the program break 0x%lx is outside [0x%lx, 0x%lx]",
			   (unsigned long)p->brk, (unsigned long)p->brk_start, (unsigned long)low);
	for (size_t i = 0; i < p->nvmas; i++) {
		const struct lx_vma *v = &p->vmas[i];

		if (v->start % LXS_PG || v->end % LXS_PG || v->start >= v->end ||
		    v->start < page_up(p->brk) || v->end > p->mmap_top ||
		    ((v->prot & PROT_EXEC) && !dynamic) || v->prot < 0 ||
		    (i && v->start < p->vmas[i - 1].end))
			return bad("mapping %zu [0x%lx, 0x%lx) is not a page-aligned range of the "
				   "mmap area in order",
				   i, (unsigned long)v->start, (unsigned long)v->end);
	}
	if (p->nkept > LXS_NKEPT)
		return bad("%zu kept ranges", p->nkept);
	for (size_t i = 0; i < p->nkept; i++) {
		const struct lx_vma *k = &p->kept[i];

		if (k->start % LXS_PG || k->end % LXS_PG || k->start >= k->end ||
		    k->start < page_up(p->brk) || k->end > p->mmap_top || k->prot)
			return bad("kept range %zu [0x%lx, 0x%lx) is outside the mmap area", i,
				   (unsigned long)k->start, (unsigned long)k->end);
		for (size_t j = 0; j < i; j++)
			if (k->start < p->kept[j].end && p->kept[j].start < k->end)
				return bad("kept ranges %zu and %zu overlap", j, i);
		for (size_t j = 0; j < p->nvmas; j++)
			if (k->start < p->vmas[j].end && p->vmas[j].start < k->end)
				return bad("kept range %zu overlaps mapping %zu", i, j);
		bytes += k->end - k->start;
	}
	if (bytes != p->kept_bytes || bytes > LX_KEEP_MAX)
		return bad("kept ranges of %lu bytes, the record says %lu", (unsigned long)bytes,
			   (unsigned long)p->kept_bytes);
	if (p->at_random &&
	    (p->at_random < mem_size - MVMM_STACK_SIZE || p->at_random > mem_size - 16))
		return bad("AT_RANDOM at 0x%lx is not on the stack", (unsigned long)p->at_random);
	return 0;
}

/* Dispositions, masks, the alternate stack and the rest, as the calls that set them leave them. */
static int check_sig(const struct lx_proc *p, uint64_t mem_size)
{
	uint32_t ssf = (uint32_t)p->altstack_flags;
	/* A fresh process's hard limits (lx_sys.c); a program may only lower them. */
	uint64_t max[LX_RLIM_NLIMITS];

	for (int s = 1; s <= LX_NSIG; s++) {
		const struct lx_sigaction *a = &p->sig[s];

		if ((a->flags & ~LX_SA_KNOWN) || (a->mask & LXS_UNBLOCK) ||
		    a->handler >= LXS_USER_TOP || a->restorer >= LXS_USER_TOP ||
		    ((s == SIGKILL || s == SIGSTOP) && (a->handler || a->flags || a->mask)))
			return bad("the action of signal %d (handler 0x%lx, flags 0x%lx)", s,
				   (unsigned long)a->handler, (unsigned long)a->flags);
		if (p->si_code[s] != 0 && p->si_code[s] != LXS_SI_TKILL)
			return bad("signal %d: si_code %d", s, p->si_code[s]);
	}
	if ((p->sigmask & LXS_UNBLOCK) || (p->saved_mask & LXS_UNBLOCK))
		return bad("a signal mask blocks SIGKILL or SIGSTOP");
	if ((ssf & ~(LXS_SS_MODE | LXS_SS_AUTODIS)) || (ssf & LXS_SS_MODE) == LXS_SS_MODE ||
	    p->altstack_sp >= LXS_USER_TOP || p->altstack_size >= LXS_USER_TOP)
		return bad("the alternate signal stack (flags 0x%x)", ssf);
	if (p->tid_address >= LXS_USER_TOP || p->robust_list >= LXS_USER_TOP ||
	    (p->robust_len != 0 && p->robust_len != 24))
		return bad("the thread's addresses");
	if (p->umask > 0777 || (unsigned)p->undumpable > 1 || (uint8_t)p->comm[15] > 1 ||
	    (unsigned)p->rlim_set > 1 || (unsigned)p->saved_mask_set > 1)
		return bad("umask 0%o, or a dumpable, name, limits or saved-mask flag", p->umask);
	for (int i = 0; i < LX_RLIM_NLIMITS; i++)
		max[i] = RLIM_INFINITY;
	max[RLIMIT_STACK] = MVMM_STACK_SIZE;
	max[RLIMIT_NOFILE] = LX_FD_LIMIT;
	max[RLIMIT_AS] = max[RLIMIT_DATA] = mem_size;
	max[RLIMIT_RTPRIO] = max[RLIMIT_NICE] = 0;
	for (int i = 0; i < LX_RLIM_NLIMITS; i++)
		if (p->rlim_set ? p->rlim[i].cur > p->rlim[i].max || p->rlim[i].max > max[i]
				: p->rlim[i].cur || p->rlim[i].max)
			return bad("resource limit %d (%lu, %lu)", i, (unsigned long)p->rlim[i].cur,
				   (unsigned long)p->rlim[i].max);
	return 0;
}

/* The fixed part and the lists, into p (allocated, empty). */
static int load_parts(struct rbuf *r, struct lx_proc *p, struct lxs_ent **ents, uint32_t *nents)
{
	uint32_t version, nvmas, nkept, cwd_len;
	const uint8_t *m = take(r, 8);
	unsigned i;

	if (!m || memcmp(m, LX_REC_MAGIC, 8))
		return bad("not a Linux process record (bad magic)");
	version = get32(r);
	if (version != LX_REC_VERSION)
		return err_set("the Linux process state is of record version %u; this mvmm reads "
			       "version %u only",
			       version, LX_REC_VERSION);
	if (get32(r) != LX_REC_FIXED || get64(r) != r->len)
		return bad("its sizes disagree with the record's %zu bytes", r->len);
	p->nfds = get32(r);
	*nents = get32(r);
	nvmas = get32(r);
	nkept = get32(r);
	cwd_len = get32(r);
	if (p->nfds < 16 || p->nfds > LX_FD_LIMIT || *nents > p->nfds || nvmas > LX_VMA_MAX ||
	    nkept > LXS_NKEPT ||
	    (uint64_t)nvmas * 24 + (uint64_t)*nents * LX_REC_ENT_FIXED > r->len)
		return bad("counts out of range (%u descriptors of %u, %u mappings, %u kept)",
			   *nents, p->nfds, nvmas, nkept);
	p->umask = get32(r);
	p->brk_start = get64(r);
	p->brk = get64(r);
	p->mmap_floor = get64(r);
	p->mmap_top = get64(r);
	p->kept_bytes = get64(r);
	p->sigmask = get64(r);
	p->pending = get64(r);
	p->saved_mask = get64(r);
	p->saved_mask_set = (int)get32(r);
	p->altstack_flags = (int)get32(r);
	p->altstack_sp = get64(r);
	p->altstack_size = get64(r);
	p->tid_address = get64(r);
	p->robust_list = get64(r);
	p->robust_len = get64(r);
	p->at_random = get64(r);
	p->rlim_set = (int)get32(r);
	p->undumpable = (int)get32(r);
	if ((m = take(r, 16)))
		memcpy(p->comm, m, 16);
	if ((m = take(r, 64)))
		memcpy(p->enosys_said, m, 64);
	for (i = 1; i <= LX_NSIG; i++) {
		p->sig[i].handler = get64(r);
		p->sig[i].flags = get64(r);
		p->sig[i].restorer = get64(r);
		p->sig[i].mask = get64(r);
	}
	for (i = 1; i <= LX_NSIG; i++)
		p->si_code[i] = (int32_t)get32(r);
	for (i = 0; i < LX_RLIM_NLIMITS; i++) {
		p->rlim[i].cur = get64(r);
		p->rlim[i].max = get64(r);
	}
	if (r->short_)
		return bad("truncated: %zu bytes", r->len);
	if (!(p->cwd = get_str(r, cwd_len, "the working directory")))
		return -1;
	p->fds = calloc(p->nfds, sizeof(*p->fds));
	p->vmas = malloc((nvmas ? nvmas : 1) * sizeof(*p->vmas));
	*ents = calloc(*nents ? *nents : 1, sizeof(**ents));
	if (!p->fds || !p->vmas || !*ents)
		return err_set("loading the Linux process state: out of memory");
	for (i = 0; i < p->nfds; i++)
		p->fds[i].host = -1;
	p->capvmas = nvmas ? nvmas : 1;
	for (p->nvmas = 0; p->nvmas < nvmas; p->nvmas++) {
		p->vmas[p->nvmas].start = get64(r);
		p->vmas[p->nvmas].end = get64(r);
		p->vmas[p->nvmas].prot = (int)get32(r);
		if (get32(r))
			return bad("mapping %zu: padding is not zero", p->nvmas);
	}
	for (p->nkept = 0; p->nkept < nkept; p->nkept++) {
		p->kept[p->nkept].start = get64(r);
		p->kept[p->nkept].end = get64(r);
	}
	if (r->short_)
		return bad("truncated in its mappings");
	if (load_fds(r, p, *nents, *ents) < 0)
		return -1;
	if (r->off != r->len)
		return bad("%zu bytes follow its last descriptor", r->len - r->off);
	return 0;
}

/* ---- opening the files again ---- */

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

static int same_file(const struct stat *st, const struct lxs_ent *e)
{
	return (uint64_t)st->st_dev == e->id[0] && (uint64_t)st->st_ino == e->id[1] &&
	       (uint64_t)st->st_size == e->id[2] && ts_ns(&st->st_mtim) == e->id[3] &&
	       ts_ns(&st->st_ctim) == e->id[4];
}

/*
 * Descriptor fd opened again by its guest path beneath the trees of p, as
 * open would open it (lx_open_loc), never creating or truncating.
 */
static int reopen(struct lx_proc *p, const char *const *exposed, unsigned fd,
		  const struct lxs_ent *e, unsigned how)
{
	struct lx_fd *f = &p->fds[fd];
	int path = (f->flags & O_PATH) != 0, dir = f->kind == LX_FD_DIR, flags;
	struct lx_opened o = {.host = -1};
	struct lx_loc l;
	struct stat st;
	int64_t r;

	if (path)
		flags = O_PATH | (dir ? O_DIRECTORY : 0) |
			(e->type == (S_IFLNK >> 12) ? O_NOFOLLOW : 0);
	else
		flags = (f->flags & (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC)) |
			(dir ? O_DIRECTORY : 0);
	r = lx_loc_in(p, exposed, "/", f->path, &l);
	if (r == 0)
		r = lx_open_loc(p, exposed, &l, flags, 0, &o);
	if (r < 0)
		return err_set("the Linux program's descriptor %u, %s, cannot be opened again: %s",
			       fd, f->path, strerror((int)-r));
	f->host = o.host;
	f->writable = (uint8_t)o.writable;
	if ((o.host < 0) != (e->type == 0) || o.dir != dir)
		return err_set("the Linux program's descriptor %u, %s, is no longer a %s", fd,
			       f->path,
			       o.host < 0 ? "file or directory of a tree"
			       : dir	  ? "directory"
					  : "file");
	if (o.host < 0)
		return 0; /* a virtual directory: its cursor is all there is */
	if (fstat(o.host, &st) < 0)
		return err_sys("the Linux program's descriptor %u, %s", fd, f->path);
	if ((uint8_t)((st.st_mode & S_IFMT) >> 12) != e->type)
		return err_set(
			"the Linux program's descriptor %u, %s, is no longer of its file type", fd,
			f->path);
	if ((how & LX_LOAD_SAME_FILES) && !same_file(&st, e))
		return err_set("the Linux program's descriptor %u, %s, names a file changed since",
			       fd, f->path);
	if (!path && lseek(o.host, (off_t)e->off, SEEK_SET) != (off_t)e->off)
		return err_sys("the Linux program's descriptor %u, %s: restoring its position %lu",
			       fd, f->path, (unsigned long)e->off);
	return 0;
}

static struct lx_proc *load(const uint8_t *buf, size_t len, const struct vm_config *cfg,
			    uint64_t mem_size, const struct image *img, unsigned how, int *files)
{
	static const struct lx_config none = {.strace_fd = 2};
	struct rbuf r = {.b = buf, .len = len};
	struct lx_proc *p = calloc(1, sizeof(*p));
	struct lxs_ent *ents = NULL;
	uint32_t nents = 0;
	char *cwd;

	*files = 0;
	if (!p) {
		err_set("loading the Linux process state: out of memory");
		return NULL;
	}
	if (load_parts(&r, p, &ents, &nents) < 0 || check_mem(p, mem_size, img) < 0 ||
	    check_sig(p, mem_size) < 0)
		goto fail;
	p->strace_fd = 2;
	if (how & LX_LOAD_NO_OPEN)
		goto done;
	/* The trees are this run's (--dir); the working directory is the record's. */
	*files = 1;
	cwd = p->cwd;
	p->cwd = NULL;
	if (lx_fs_init(p, cfg && cfg->lx ? cfg->lx : &none, img ? &img->needed : NULL) < 0) {
		free(cwd);
		goto fail;
	}
	free(p->cwd);
	p->cwd = cwd;
	for (uint32_t i = 0, fd = 0; i < nents; i++, fd++) {
		while (p->fds[fd].kind == LX_FD_FREE)
			fd++;
		if (p->fds[fd].kind != LX_FD_STREAM &&
		    reopen(p, cfg ? cfg->exposed : NULL, fd, &ents[i], how) < 0)
			goto fail;
	}
done:
	free(ents);
	return p;
fail:
	free(ents);
	lx_proc_free(p);
	return NULL;
}

struct lx_proc *lx_proc_load(const uint8_t *buf, size_t len, const struct vm_config *cfg,
			     uint64_t mem_size, const struct image *img, unsigned how,
			     enum lx_load_fail *why)
{
	int files;
	struct lx_proc *p = load(buf, len, cfg, mem_size, img, how, &files);

	if (why)
		*why = files ? LX_LOAD_FILES : LX_LOAD_BAD;
	return p;
}

/* ---- describing ---- */

char *lx_proc_describe(const uint8_t *buf, size_t len, uint64_t mem_size)
{
	struct lx_proc *p;
	char *text = NULL;
	size_t tlen = 0;
	unsigned n = 0;
	FILE *f;
	int files;

	p = load(buf, len, NULL, mem_size, NULL, LX_LOAD_NO_OPEN, &files);
	if (!p)
		return NULL;
	f = open_memstream(&text, &tlen);
	if (!f) {
		lx_proc_free(p);
		err_set("out of memory");
		return NULL;
	}
	fprintf(f, "cwd %s, break %lu KiB, %zu mmap'd range%s", p->cwd,
		(unsigned long)((p->brk - p->brk_start) >> 10), p->nvmas, p->nvmas == 1 ? "" : "s");
	for (unsigned i = 0; i < p->nfds; i++) {
		const struct lx_fd *d = &p->fds[i];

		if (d->kind == LX_FD_FREE)
			continue;
		fprintf(f, "%s%u ", n++ ? ", " : "; descriptors: ", i);
		if (d->kind == LX_FD_STREAM)
			fprintf(f, "%s",
				d->stream == 0	 ? "stdin"
				: d->stream == 1 ? "stdout"
						 : "stderr");
		else
			fprintf(f, "%s%s", d->path, d->kind == LX_FD_DIR ? " (directory)" : "");
	}
	if (fclose(f) != 0) {
		free(text);
		text = NULL;
		err_set("out of memory");
	}
	lx_proc_free(p);
	return text;
}
