/*
 * lx_path.c: what a guest path names, how mvmm opens it on the host, and
 * on top of that open and stat of guest paths (lx_fs.c has the calls).
 *
 * Confinement: a guest path is normalised lexically (".", "..", "//")
 * against the cwd or a directory entry's guest path, so it can only ever
 * name a place under "/". The longest tree (--dir) prefix picks the host
 * directory, and the rest is opened by openat2 from that tree's O_PATH fd
 * with RESOLVE_BENEATH: the kernel, not a string check, keeps every
 * symlink and ".." inside the tree (an escape is EXDEV, answered ENOENT).
 * A tree at guest "/" uses RESOLVE_IN_ROOT instead: its absolute symlinks
 * then mean what they mean to the guest, and the kernel scopes them and
 * ".." to the tree just as strictly. Under RESOLVE_BENEATH an absolute
 * symlink always fails (ENOENT): accepted, as it would name a guest path
 * the host's kernel cannot know. RESOLVE_NO_MAGICLINKS refuses /proc's
 * links, and RESOLVE_NO_XDEV keeps a tree to its own file system: a tree
 * at "/" must not reach the host's /proc (/proc/self/mem is mvmm's memory)
 * or /sys through their mount points.
 */
#define _GNU_SOURCE
#include "lx_path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LX_OPENAT2_TRIES 8 /* openat2 answers EAGAIN when a rename raced the walk */
/* Entries a virtual directory lists at most (the trees and exposed files beneath it). */
#define LX_VIRT_MAX 255
/* The open flags passed on to the host; the rest are the guest's business or refused. */
#define LX_OPEN_HOST                                                                               \
	(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY | O_NOFOLLOW | O_SYNC |   \
	 O_DSYNC)
/* What F_GETFL reports of an open: the access mode and status flags. */
#define LX_OPEN_KEEP                                                                               \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_SYNC | O_DSYNC | O_ASYNC)

int lx_path_norm(const char *base, const char *path, char *out, size_t cap, int *tail)
{
	size_t len = 0, plen = strlen(path);
	const char *s = path;

	*tail = 0;
	if (*path != '/') {
		size_t blen = strlen(base);

		if (blen >= cap)
			return -ENAMETOOLONG;
		if (blen > 1) { /* "/" is the empty prefix */
			memcpy(out, base, blen);
			len = blen;
		}
	}
	while (*s) {
		const char *e;
		size_t n;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		for (e = s; *e && *e != '/'; e++)
			;
		n = (size_t)(e - s);
		*tail = 0;
		if (n == 1 && s[0] == '.') {
			*tail = LX_TAIL_DOT;
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			*tail = LX_TAIL_DOTDOT;
			while (len > 0 && out[--len] != '/')
				;
		} else {
			if (len + 1 + n >= cap)
				return -ENAMETOOLONG;
			out[len++] = '/';
			memcpy(out + len, s, n);
			len += n;
		}
		s = e;
	}
	if (plen && path[plen - 1] == '/')
		*tail |= LX_TAIL_SLASH;
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

int64_t lx_path_read(struct lx_call *c, uint64_t gva, char *buf)
{
	return lx_ustr(c, gva, buf, LX_PATH_MAX);
}

/* Whether path is g or beneath it (both normal; g of length glen). */
static int lx_under(const char *path, const char *g, size_t glen)
{
	if (glen == 1)
		return 1; /* "/" */
	return strncmp(path, g, glen) == 0 && (path[glen] == '\0' || path[glen] == '/');
}

/* Whether normal path d is a strict ancestor of normal path x. */
static int lx_above(const char *d, const char *x)
{
	size_t n = strlen(d);

	if (n == 1)
		return x[1] != '\0';
	return strncmp(x, d, n) == 0 && x[n] == '/';
}

/*
 * An exposed file's normal guest path: its host path, a relative one taken
 * against "/". -1 to skip it: too long, or "/" or "dir/", never a file.
 */
static int lx_exposed_norm(const char *host, char *buf)
{
	int tail;

	if (lx_path_norm("/", host, buf, LX_PATH_MAX, &tail) < 0 || tail || !buf[1])
		return -1;
	return 0;
}

static const char *lx_exposed_find(const char *const *exposed, const char *path)
{
	char buf[LX_PATH_MAX];

	for (const char *const *e = exposed; e && *e; e++)
		if (lx_exposed_norm(*e, buf) == 0 && strcmp(buf, path) == 0)
			return *e;
	return NULL;
}

static const struct lx_mount *lx_mount_find(const struct lx_proc *p, const char *path)
{
	const struct lx_mount *best = NULL;

	for (size_t i = 0; i < p->nmounts; i++) {
		const struct lx_mount *m = &p->mounts[i];

		if (m->leaf ? strcmp(path, m->guest) != 0 : !lx_under(path, m->guest, m->len))
			continue;
		if (!best || m->len > best->len)
			best = m;
	}
	return best;
}

static int lx_virtual_in(const struct lx_proc *p, const char *const *exposed, const char *path)
{
	char buf[LX_PATH_MAX];

	if (lx_mount_find(p, path))
		return 0;
	if (path[1] == '\0')
		return 1; /* "/" always exists, even with nothing exposed */
	for (size_t i = 0; i < p->nmounts; i++)
		if (lx_above(path, p->mounts[i].guest))
			return 1;
	for (const char *const *e = exposed; e && *e; e++)
		if (lx_exposed_norm(*e, buf) == 0 && lx_above(path, buf))
			return 1;
	return 0;
}

int lx_path_virtual(struct lx_call *c, const char *path)
{
	return lx_virtual_in(c->p, c->vm->exposed, path);
}

int lx_loc_in(const struct lx_proc *p, const char *const *exposed, const char *base,
	      const char *raw, struct lx_loc *l)
{
	int r = lx_path_norm(base, raw, l->path, sizeof(l->path), &l->tail);

	if (r < 0)
		return r;
	l->where = LX_NOWHERE;
	l->m = NULL;
	l->rest = NULL;
	/* An exposed file is the most specific name there is: it wins over a tree around it. */
	l->host = lx_exposed_find(exposed, l->path);
	if (l->host) {
		l->where = LX_EXPOSED;
		return 0;
	}
	l->m = lx_mount_find(p, l->path);
	if (l->m && l->m->leaf) {
		l->rest = l->m->leaf;
		l->where = LX_TREE;
		return 0;
	}
	if (l->m) {
		const char *rest = l->path + (l->m->len == 1 ? 0 : l->m->len);

		while (*rest == '/')
			rest++;
		l->rest = *rest ? rest : ".";
		l->where = LX_TREE;
		return 0;
	}
	if (lx_virtual_in(p, exposed, l->path))
		l->where = LX_VIRTUAL;
	return 0;
}

int lx_loc_at(struct lx_call *c, int dirfd, const char *raw, struct lx_loc *l)
{
	const char *base = c->p->cwd;

	if (!*raw)
		return -ENOENT;
	if (*raw != '/' && dirfd != AT_FDCWD) {
		const struct lx_fd *f = lx_fd_get(c->p, dirfd);

		if (!f)
			return -EBADF;
		if (f->kind != LX_FD_DIR || !f->path)
			return -ENOTDIR;
		base = f->path;
	}
	return lx_loc_in(c->p, c->vm->exposed, base, raw, l);
}

static uint64_t lx_resolve_of(const struct lx_mount *m)
{
	uint64_t how = RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

	if (m->leaf)
		return how | RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; /* it was resolved link-free */
	return how | (m->len == 1 ? RESOLVE_IN_ROOT : RESOLVE_BENEATH);
}

/* openat2 beneath m; an escape (EXDEV) is a name that does not exist for the guest. */
static int lx_tree_open(const struct lx_mount *m, const char *rest, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
		/* openat2 refuses a mode without O_CREAT */
		.mode = (flags & O_CREAT) ? (mode & 07777) : 0,
		.resolve = lx_resolve_of(m),
	};
	long fd = -1;

	for (int i = 0; i < LX_OPENAT2_TRIES; i++) {
		fd = syscall(SYS_openat2, m->dirfd, rest, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd >= 0)
		return (int)fd;
	return errno == EXDEV ? -ENOENT : -errno;
}

/* An exposed file: never through a final symlink; under O_PATH, refused unless regular. */
static int lx_exposed_open(const char *host, int flags)
{
	struct stat st;
	int fd = open(host, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (!(flags & O_PATH))
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

int lx_loc_open(const struct lx_loc *l, int flags, unsigned mode)
{
	switch (l->where) {
	case LX_TREE:
		return lx_tree_open(l->m, l->rest, flags | (l->tail ? O_DIRECTORY : 0), mode);
	case LX_EXPOSED:
		return l->tail ? -ENOTDIR : lx_exposed_open(l->host, flags);
	case LX_VIRTUAL:
		return -EISDIR; /* callers answer virtual directories themselves */
	default:
		return -ENOENT;
	}
}

static int lx_io_kind_ok(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode);
}

int lx_loc_open_io(const struct lx_loc *l, int flags, unsigned mode, struct stat *st)
{
	int fd, r;

	/* O_PATH opens no driver and no FIFO: a safe first look. */
	fd = lx_loc_open(l, O_PATH | (flags & (O_NOFOLLOW | O_DIRECTORY)), 0);
	if (fd >= 0) {
		r = fstat(fd, st) < 0 ? -errno : 0;
		close(fd);
		if (r < 0)
			return r;
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
			return -EEXIST;
		if (S_ISLNK(st->st_mode))
			return -ELOOP; /* O_NOFOLLOW on a symlink */
		if (!lx_io_kind_ok(st))
			return -ENXIO;
	} else if (fd != -ENOENT || !(flags & O_CREAT)) {
		return fd;
	}
	/* Non-blocking: a FIFO swapped in since the look must not block mvmm either. */
	fd = lx_loc_open(l, flags | O_NONBLOCK | O_NOCTTY, mode);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!lx_io_kind_ok(st)) {
		r = -ENXIO;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, flags & O_APPEND) < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int lx_loc_stat(struct lx_call *c, const struct lx_loc *l, int nofollow, struct stat *st)
{
	int fd, r;

	(void)c;
	if (l->where == LX_VIRTUAL) {
		lx_virtual_stat(l->path, st);
		return 0;
	}
	/* "link/" names the directory the link points to, as on Linux. */
	fd = lx_loc_open(l, O_PATH | (nofollow && !l->tail ? O_NOFOLLOW : 0), 0);
	if (fd < 0)
		return fd;
	r = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int lx_loc_parent(const struct lx_loc *l, const char **last)
{
	char parent[LX_PATH_MAX];
	const char *slash;
	size_t n;

	if (l->where != LX_TREE)
		return -ENOENT;
	if (!strcmp(l->rest, "."))
		return -EBUSY;
	slash = strrchr(l->rest, '/');
	if (!slash) {
		*last = l->rest;
		return lx_tree_open(l->m, ".", O_PATH | O_DIRECTORY, 0);
	}
	n = (size_t)(slash - l->rest);
	memcpy(parent, l->rest, n);
	parent[n] = '\0';
	*last = slash + 1;
	return lx_tree_open(l->m, parent, O_PATH | O_DIRECTORY, 0);
}

uint64_t lx_virtual_ino(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *path; path++)
		h = (h ^ (uint8_t)*path) * 0x100000001b3ull;
	return h ? h : 1;
}

void lx_virtual_stat(const char *path, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = lx_virtual_ino(path);
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_blksize = 4096;
}

/* Adds the component of x just below dir to v, once. */
static void lx_virtual_add(const char *dir, const char *x, int file, struct lx_vent *v, unsigned *n,
			   unsigned max)
{
	const char *s = x + (dir[1] ? strlen(dir) : 0) + 1, *e = strchr(s, '/');
	size_t len = e ? (size_t)(e - s) : strlen(s);

	if (*n >= max || len == 0 || len >= sizeof(v->name))
		return;
	for (unsigned i = 0; i < *n; i++)
		if (strlen(v[i].name) == len && !memcmp(v[i].name, s, len))
			return;
	memcpy(v[*n].name, s, len);
	v[*n].name[len] = '\0';
	v[*n].type = file && !e ? DT_REG : DT_DIR;
	(*n)++;
}

unsigned lx_virtual_list(struct lx_call *c, const char *path, struct lx_vent *v, unsigned max)
{
	const struct lx_proc *p = c->p;
	char buf[LX_PATH_MAX];
	unsigned n = 0;

	if (max < 2)
		return 0;
	strcpy(v[n].name, ".");
	v[n++].type = DT_DIR;
	strcpy(v[n].name, "..");
	v[n++].type = DT_DIR;
	for (size_t i = 0; i < p->nmounts; i++)
		if (lx_above(path, p->mounts[i].guest))
			lx_virtual_add(path, p->mounts[i].guest, p->mounts[i].leaf != NULL, v, &n,
				       max);
	for (const char *const *e = c->vm->exposed; e && *e; e++)
		if (lx_exposed_norm(*e, buf) == 0 && lx_above(path, buf))
			lx_virtual_add(path, buf, 1, v, &n, max);
	return n;
}

/* Whether writes to what l names are refused with EROFS (a read-only tree or an exposed file). */
int lx_loc_ro(const struct lx_loc *l)
{
	return l->where == LX_EXPOSED || (l->where == LX_TREE && !l->m->rw);
}

/* The guest string at gva, resolved against dirfd. */
int64_t lx_loc_get(struct lx_call *c, int dirfd, uint64_t gva, struct lx_loc *l)
{
	char raw[LX_PATH_MAX];
	int64_t r = lx_path_read(c, gva, raw);

	return r < 0 ? r : lx_loc_at(c, dirfd, raw, l);
}

/* ---- opening ---- */

/* A new descriptor for host fd (owned; closed on failure) at the lowest free number. */
static int64_t lx_install(struct lx_call *c, int host, int dir, int flags, int writable,
			  const char *path)
{
	char *copy = strdup(path);
	struct lx_fd *f;
	int fd;

	if (!copy) {
		fd = -ENOMEM;
		goto fail;
	}
	fd = lx_fd_alloc(c->p, 0);
	if (fd < 0)
		goto fail;
	f = &c->p->fds[fd];
	f->kind = dir ? LX_FD_DIR : LX_FD_FILE;
	f->host = host;
	f->flags = flags | O_LARGEFILE; /* as x86-64 Linux reports every open */
	f->cloexec = (flags & O_CLOEXEC) != 0;
	f->flags &= ~O_CLOEXEC;
	f->writable = (uint8_t)writable;
	f->stream = 0;
	f->path = copy;
	return fd;
fail:
	free(copy);
	if (host >= 0)
		close(host);
	return fd;
}

/* O_PATH: an entry good for fstat, fchdir and as a dirfd; nothing is read through it. */
static int64_t lx_open_path(const struct lx_loc *l, int flags, struct lx_opened *o)
{
	struct stat st;
	int host;

	o->flags = O_PATH | (flags & O_CLOEXEC);
	if (l->where == LX_VIRTUAL) {
		o->host = -1;
		o->dir = 1;
		o->writable = 0;
		return 0;
	}
	host = lx_loc_open(l, O_PATH | (flags & (O_NOFOLLOW | O_DIRECTORY)), 0);
	if (host < 0)
		return host;
	if (fstat(host, &st) < 0) {
		int r = -errno;

		close(host);
		return r;
	}
	o->host = host;
	o->dir = S_ISDIR(st.st_mode);
	o->writable = !lx_loc_ro(l);
	return 0;
}

static int64_t lx_absent_in(const struct lx_proc *p, const char *const *exposed,
			    const struct lx_loc *l, int create)
{
	char parent[LX_PATH_MAX];
	int tail;

	if (!create || lx_path_norm(l->path, "..", parent, sizeof(parent), &tail) < 0)
		return -ENOENT;
	return lx_virtual_in(p, exposed, parent) ? -EROFS : -ENOENT;
}

int64_t lx_loc_absent(struct lx_call *c, const struct lx_loc *l, int create)
{
	return lx_absent_in(c->p, c->vm->exposed, l, create);
}

/* A read-only place: what a read-only mount would answer, O_CREAT making nothing. */
static int64_t lx_open_ro(const struct lx_loc *l, int flags, struct stat *st)
{
	int host;

	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	host = lx_loc_open_io(l, flags & ~(O_CREAT | O_EXCL), 0, st);
	if (host == -ENOENT && (flags & O_CREAT))
		return -EROFS;
	if (host >= 0 && (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
		close(host);
		return -EEXIST;
	}
	return host;
}

int64_t lx_open_loc(const struct lx_proc *p, const char *const *exposed, const struct lx_loc *l,
		    int flags, unsigned mode, struct lx_opened *o)
{
	struct stat st;
	int host;

	if ((flags & O_TMPFILE) == O_TMPFILE)
		return -EOPNOTSUPP;
	if (flags & O_PATH)
		return lx_open_path(l, flags, o);
	o->flags = flags & (LX_OPEN_KEEP | O_CLOEXEC);
	switch (l->where) {
	case LX_NOWHERE:
		return lx_absent_in(p, exposed, l, flags & O_CREAT);
	case LX_VIRTUAL:
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
			return -EISDIR;
		o->host = -1;
		o->dir = 1;
		o->writable = 0;
		return 0;
	default:
		break;
	}
	if (lx_loc_ro(l))
		host = (int)lx_open_ro(l, flags & LX_OPEN_HOST, &st);
	else
		host = lx_loc_open_io(l, flags & LX_OPEN_HOST, mode & LX_MODE_MASK & ~p->umask, &st);
	if (host < 0)
		return host;
	o->host = host;
	o->dir = S_ISDIR(st.st_mode);
	o->writable = !lx_loc_ro(l);
	return 0;
}

int64_t lx_open(struct lx_call *c, int dirfd, uint64_t gpath, int flags, unsigned mode)
{
	struct lx_opened o;
	struct lx_loc l;
	int64_t r;

	r = lx_loc_get(c, dirfd, gpath, &l);
	if (r < 0)
		return r;
	r = lx_open_loc(c->p, c->vm->exposed, &l, flags, mode, &o);
	if (r < 0)
		return r;
	return lx_install(c, o.host, o.dir, o.flags, o.writable, l.path);
}

/* ---- stat of a path or a descriptor ---- */

/*
 * A stream with no host fd behind it (the host program takes the output
 * through hooks, or there is none) says it is a FIFO: a pipe to the host
 * is what it is, and a character device would look like a terminal.
 */
static int lx_stream_stat(struct lx_call *c, const struct lx_fd *f, struct stat *st)
{
	const struct vm *vm = c->vm;
	int s = f->stream, host = s == 0 ? vm->in_fd : s == 1 ? vm->out_fd : vm->err_fd;
	int hooked = vm->hooks && (s == 0 ? vm->hooks->input != NULL : vm->hooks->output != NULL);

	if (host >= 0 && !hooked)
		return fstat(host, st) < 0 ? -errno : 0;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFIFO | 0600;
	st->st_nlink = 1;
	st->st_blksize = 4096;
	return 0;
}

int lx_fd_stat(struct lx_call *c, const struct lx_fd *f, struct stat *st)
{
	if (f->kind == LX_FD_STREAM)
		return lx_stream_stat(c, f, st);
	if (f->host < 0) { /* a virtual directory */
		lx_virtual_stat(f->path ? f->path : "/", st);
		return 0;
	}
	return fstat(f->host, st) < 0 ? -errno : 0;
}

/*
 * stat of dirfd + path as the *at calls take them: AT_EMPTY_PATH with ""
 * (or, as Linux 6.11 allows, a NULL path) is dirfd itself.
 */
int64_t lx_stat_at(struct lx_call *c, int dirfd, uint64_t gpath, int flags, struct stat *st)
{
	char raw[LX_PATH_MAX] = "";
	struct lx_loc l;
	int64_t r;

	if (gpath || !(flags & AT_EMPTY_PATH)) {
		r = lx_path_read(c, gpath, raw);
		if (r < 0)
			return r;
	}
	if (!*raw && (flags & AT_EMPTY_PATH)) {
		const struct lx_fd *f;

		if (dirfd != AT_FDCWD) {
			f = lx_fd_get(c->p, dirfd);
			return f ? lx_fd_stat(c, f, st) : -EBADF;
		}
		strcpy(raw, "."); /* the working directory */
	}
	r = lx_loc_at(c, dirfd, raw, &l);
	if (r < 0)
		return r;
	return lx_loc_stat(c, &l, flags & AT_SYMLINK_NOFOLLOW, st);
}

struct lx_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

/* getdents64 on a virtual directory: its listing, from the entry's cursor on. */
int64_t lx_virtual_dents(struct lx_call *c, struct lx_fd *f, uint8_t *buf, size_t cap)
{
	struct lx_vent *v = malloc(LX_VIRT_MAX * sizeof(*v));
	char child[LX_PATH_MAX];
	unsigned n, i;
	size_t len = 0;
	int tail;

	if (!v)
		return -ENOMEM;
	n = lx_virtual_list(c, f->path, v, LX_VIRT_MAX);
	for (i = f->vpos; i < n; i++) {
		size_t nl = strlen(v[i].name);
		size_t rec = (offsetof(struct lx_dirent64, d_name) + nl + 1 + 7) & ~(size_t)7;
		struct lx_dirent64 *d = (struct lx_dirent64 *)(buf + len);

		if (len + rec > cap)
			break;
		if (lx_path_norm(f->path, v[i].name, child, sizeof(child), &tail) < 0)
			strcpy(child, "/");
		memset(d, 0, rec);
		d->d_ino = lx_virtual_ino(child);
		d->d_off = (int64_t)i + 1;
		d->d_reclen = (uint16_t)rec;
		d->d_type = v[i].type;
		memcpy(d->d_name, v[i].name, nl);
		len += rec;
	}
	free(v);
	if (i < n && len == 0)
		return -EINVAL; /* not even one entry fits */
	f->vpos = i;
	return (int64_t)len;
}
