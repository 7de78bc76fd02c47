/*
 * lx_fs.c: a Linux program's file system: the host trees (--dir) and
 * files (--expose) the user exposed, the directories above them as
 * read-only virtual directories, and the calls on paths and on the
 * descriptors they open. lx_path.c says what a path names and opens it,
 * beneath its tree; nothing here opens a host path by name otherwise.
 */
#define _GNU_SOURCE
#include "lx_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h> /* renameat, snprintf */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/error.h"
#include "load/dynlink.h"
#include "load/image.h"

#define LX_DENTS_MAX (64u << 10) /* directory bytes one getdents64 copies */

_Static_assert(sizeof(struct stat) == 144, "glibc's x86-64 struct stat is the kernel's");
_Static_assert(sizeof(struct statfs) == 120, "glibc's x86-64 struct statfs is the kernel's");
_Static_assert(sizeof(struct statx) == 256, "glibc's struct statx is the kernel's");

static int lx_mount_add(struct lx_proc *p, const struct lx_dir *d)
{
	const char *guest = d->guest ? d->guest : d->host;
	struct lx_mount *m = &p->mounts[p->nmounts];
	char buf[LX_PATH_MAX];
	struct statfs sf;
	int tail, fd;

	if (lx_path_norm("/", guest, buf, sizeof(buf), &tail) < 0)
		return err_set("--dir %s: the guest path %s is too long", d->host, guest);
	for (size_t i = 0; i < p->nmounts; i++)
		if (!strcmp(p->mounts[i].guest, buf))
			return err_set("--dir %s: guest path %s is already another --dir's",
				       d->host, buf);
	fd = open(d->host, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys("--dir %s: cannot open the host directory", d->host);
	if (fstatfs(fd, &sf) < 0) {
		err_sys("--dir %s", d->host);
		goto fail;
	}
	/* /proc/self/mem there would be mvmm's memory, with every other guest's in it. */
	if (sf.f_type == PROC_SUPER_MAGIC) {
		err_set("--dir %s: a proc file system cannot be exposed", d->host);
		goto fail;
	}
	m->guest = strdup(buf);
	if (!m->guest) {
		err_set("out of memory");
		goto fail;
	}
	m->len = strlen(buf);
	m->dirfd = fd;
	m->rw = d->rw;
	p->nmounts++;
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * One file of a dynamic program's closure at its guest path: its host
 * directory and its name there (the host path is resolved, link-free).
 * A --dir at the same guest path wins.
 */
static int lx_file_add(struct lx_proc *p, const struct dl_file *f)
{
	struct lx_mount *m = &p->mounts[p->nmounts];
	const char *slash = strrchr(f->host, '/');
	char buf[LX_PATH_MAX], dir[LX_PATH_MAX];
	int tail, fd;

	if (!slash || !slash[1] || (size_t)(slash - f->host) >= sizeof(dir) ||
	    lx_path_norm("/", f->guest, buf, sizeof(buf), &tail) < 0 || tail || !buf[1])
		return 0;
	for (size_t i = 0; i < p->nmounts; i++)
		if (!strcmp(p->mounts[i].guest, buf))
			return 0;
	memcpy(dir, f->host, (size_t)(slash - f->host));
	dir[slash - f->host] = '\0';
	fd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone since it was resolved: the guest's loader will say what it misses */
	m->guest = strdup(buf);
	m->leaf = strdup(slash + 1);
	if (!m->guest || !m->leaf) {
		free(m->guest);
		free(m->leaf);
		close(fd);
		return err_set("out of memory");
	}
	m->len = strlen(buf);
	m->dirfd = fd;
	m->rw = 0;
	p->nmounts++;
	return 0;
}

int lx_fs_init(struct lx_proc *p, const struct lx_config *cfg, const struct dl_needed *needed)
{
	const char *cwd = cfg->cwd ? cfg->cwd : "/";
	size_t nfiles = needed ? needed->n : 0;
	char buf[LX_PATH_MAX];
	int tail;

	if (lx_path_norm("/", cwd, buf, sizeof(buf), &tail) < 0)
		return err_set("--cwd %s: the path is too long", cwd);
	p->cwd = strdup(buf);
	if (!p->cwd)
		return err_set("out of memory");
	if (!cfg->ndirs && !nfiles)
		return 0;
	p->mounts = calloc(cfg->ndirs + nfiles, sizeof(*p->mounts));
	if (!p->mounts)
		return err_set("out of memory");
	for (size_t i = 0; i < cfg->ndirs; i++)
		if (lx_mount_add(p, &cfg->dirs[i]) < 0)
			return -1; /* lx_fs_release closes what was opened */
	for (size_t i = 0; i < nfiles; i++)
		if (lx_file_add(p, &needed->files[i]) < 0)
			return -1;
	return 0;
}

void lx_fs_release(struct lx_proc *p)
{
	for (size_t i = 0; i < p->nmounts; i++) {
		if (p->mounts[i].dirfd >= 0)
			close(p->mounts[i].dirfd);
		free(p->mounts[i].guest);
		free(p->mounts[i].leaf);
	}
	free(p->mounts);
	p->mounts = NULL;
	p->nmounts = 0;
	free(p->cwd);
	p->cwd = NULL;
}

LX_HANDLER(open)
{
	return lx_open(c, AT_FDCWD, c->a[0], (int)c->a[1], (unsigned)c->a[2]);
}

LX_HANDLER(openat)
{
	return lx_open(c, (int)c->a[0], c->a[1], (int)c->a[2], (unsigned)c->a[3]);
}

LX_HANDLER(creat)
{
	return lx_open(c, AT_FDCWD, c->a[0], O_CREAT | O_WRONLY | O_TRUNC, (unsigned)c->a[1]);
}

/* ---- stat ---- */

static int64_t lx_stat_put(struct lx_call *c, int64_t r, const struct stat *st, uint64_t gva)
{
	return r < 0 ? r : lx_put(c, gva, st, sizeof(*st));
}

LX_HANDLER(stat)
{
	struct stat st;

	return lx_stat_put(c, lx_stat_at(c, AT_FDCWD, c->a[0], 0, &st), &st, c->a[1]);
}

LX_HANDLER(lstat)
{
	struct stat st;

	return lx_stat_put(c, lx_stat_at(c, AT_FDCWD, c->a[0], AT_SYMLINK_NOFOLLOW, &st), &st,
			   c->a[1]);
}

LX_HANDLER(fstat)
{
	const struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);
	struct stat st;

	if (!f)
		return -EBADF;
	return lx_stat_put(c, lx_fd_stat(c, f, &st), &st, c->a[1]);
}

LX_HANDLER(newfstatat)
{
	int flags = (int)c->a[3];
	struct stat st;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
		return -EINVAL;
	return lx_stat_put(c, lx_stat_at(c, (int)c->a[0], c->a[1], flags, &st), &st, c->a[2]);
}

/* statx from what fstat knows: the basic fields, no birth time or attributes. */
LX_HANDLER(statx)
{
	const int allowed =
		AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
	int flags = (int)c->a[2];
	struct statx sx;
	struct stat st;
	int64_t r;

	if ((flags & ~allowed) || (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE ||
	    ((uint32_t)c->a[3] & STATX__RESERVED))
		return -EINVAL;
	r = lx_stat_at(c, (int)c->a[0], c->a[1], flags, &st);
	if (r < 0)
		return r;
	memset(&sx, 0, sizeof(sx));
	sx.stx_mask = STATX_BASIC_STATS;
	sx.stx_blksize = (uint32_t)st.st_blksize;
	sx.stx_nlink = (uint32_t)st.st_nlink;
	sx.stx_uid = st.st_uid;
	sx.stx_gid = st.st_gid;
	sx.stx_mode = (uint16_t)st.st_mode;
	sx.stx_ino = st.st_ino;
	sx.stx_size = (uint64_t)st.st_size;
	sx.stx_blocks = (uint64_t)st.st_blocks;
	sx.stx_atime = (struct statx_timestamp){st.st_atim.tv_sec, (uint32_t)st.st_atim.tv_nsec, 0};
	sx.stx_mtime = (struct statx_timestamp){st.st_mtim.tv_sec, (uint32_t)st.st_mtim.tv_nsec, 0};
	sx.stx_ctime = (struct statx_timestamp){st.st_ctim.tv_sec, (uint32_t)st.st_ctim.tv_nsec, 0};
	sx.stx_rdev_major = major(st.st_rdev);
	sx.stx_rdev_minor = minor(st.st_rdev);
	sx.stx_dev_major = major(st.st_dev);
	sx.stx_dev_minor = minor(st.st_dev);
	return lx_put(c, c->a[4], &sx, sizeof(sx));
}

/* ---- statfs ---- */

/* What a virtual directory (or a stream with no host fd) lives on: a small read-only ramfs. */
static void lx_virtual_statfs(struct statfs *sf)
{
	memset(sf, 0, sizeof(*sf));
	sf->f_type = RAMFS_MAGIC;
	sf->f_bsize = sf->f_frsize = 4096;
	sf->f_namelen = 255;
	sf->f_flags = ST_RDONLY;
}

static int64_t lx_statfs_put(struct lx_call *c, int host, int ro, uint64_t gva)
{
	struct statfs sf;

	if (host < 0)
		lx_virtual_statfs(&sf);
	else if (fstatfs(host, &sf) < 0)
		return -errno;
	if (ro)
		sf.f_flags |= ST_RDONLY;
	return lx_put(c, gva, &sf, sizeof(sf));
}

LX_HANDLER(statfs)
{
	struct lx_loc l;
	int64_t r = lx_loc_get(c, AT_FDCWD, c->a[0], &l);
	int fd;

	if (r < 0)
		return r;
	if (l.where == LX_VIRTUAL)
		return lx_statfs_put(c, -1, 1, c->a[1]);
	fd = lx_loc_open(&l, O_PATH, 0);
	if (fd < 0)
		return fd;
	r = lx_statfs_put(c, fd, lx_loc_ro(&l), c->a[1]);
	close(fd);
	return r;
}

LX_HANDLER(fstatfs)
{
	const struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);

	if (!f)
		return -EBADF;
	if (f->kind == LX_FD_STREAM)
		return lx_statfs_put(c, -1, 0, c->a[1]);
	return lx_statfs_put(c, f->host, f->kind != LX_FD_PIPE && !f->writable, c->a[1]);
}

/* ---- directories ---- */

/* How much of [gva, gva + len) the guest can take, from gva on (a buffer running into a hole). */
static size_t lx_writable_prefix(struct lx_call *c, uint64_t gva, size_t len)
{
	size_t ok = 0;

	while (ok < len) {
		size_t step = 4096 - ((gva + ok) & 4095);

		if (step > len - ok)
			step = len - ok;
		if (!lx_uptr(c, gva + ok, step, 1))
			break;
		ok += step;
	}
	return ok;
}

/*
 * Host entries pass through a bounded bounce buffer, no larger than what
 * the guest can take: the host's position never passes entries it lost.
 * A count larger than the guest's buffer is fine, as on Linux, while what
 * is returned fits.
 */
LX_HANDLER(getdents64)
{
	struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);
	uint32_t count = (uint32_t)c->a[2];
	size_t want = count < LX_DENTS_MAX ? count : LX_DENTS_MAX, cap;
	uint8_t *buf;
	int64_t r;

	if (!f || (f->flags & O_PATH))
		return -EBADF;
	if (f->kind != LX_FD_DIR)
		return -ENOTDIR;
	cap = lx_writable_prefix(c, c->a[1], want);
	if (!cap && want)
		return -EFAULT;
	buf = malloc(cap ? cap : 1);
	if (!buf)
		return -ENOMEM;
	if (f->host < 0)
		r = lx_virtual_dents(c, f, buf, cap);
	else if ((r = syscall(SYS_getdents64, f->host, buf, cap)) < 0)
		r = -errno;
	if (r > 0 && lx_put(c, c->a[1], buf, (size_t)r) < 0)
		r = -EFAULT;
	if (r == -EINVAL && cap < want)
		r = -EFAULT; /* the next entry runs into memory the guest does not have */
	free(buf);
	return r;
}

/* ---- symlinks and access ---- */

/* A symlink's target through a host fd of it (O_PATH|O_NOFOLLOW); notlink if it is none. */
static int64_t lx_readlink_fd(struct lx_call *c, int fd, uint64_t gbuf, int size, int notlink)
{
	char target[LX_PATH_MAX];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISLNK(st.st_mode))
		return notlink;
	n = readlinkat(fd, "", target,
		       (size_t)size < sizeof(target) ? (size_t)size : sizeof(target));
	if (n < 0)
		return -errno;
	return lx_put(c, gbuf, target, (size_t)n) < 0 ? -EFAULT : n;
}

static int64_t lx_readlink(struct lx_call *c, int dirfd, uint64_t gpath, uint64_t gbuf, int size)
{
	char raw[LX_PATH_MAX];
	struct lx_loc l;
	int64_t r;
	int fd;

	if (size <= 0)
		return -EINVAL;
	r = lx_path_read(c, gpath, raw);
	if (r < 0)
		return r;
	if (!*raw && dirfd != AT_FDCWD) { /* "" names dirfd, an O_PATH|O_NOFOLLOW symlink */
		const struct lx_fd *f = lx_fd_get(c->p, dirfd);

		if (!f)
			return -EBADF;
		if (f->host < 0 || f->kind == LX_FD_PIPE)
			return -ENOENT;
		return lx_readlink_fd(c, f->host, gbuf, size, -ENOENT);
	}
	r = lx_loc_at(c, dirfd, raw, &l);
	if (r < 0)
		return r;
	/* The one /proc name a dynamic loader asks for ($ORIGIN): the program's own path. */
	if (!strcmp(l.path, "/proc/self/exe") && c->vm->img && c->vm->img->needed.exe) {
		const char *exe = c->vm->img->needed.exe;
		size_t n = strlen(exe) < (size_t)size ? strlen(exe) : (size_t)size;

		return lx_put(c, gbuf, exe, n) < 0 ? -EFAULT : (int64_t)n;
	}
	if (l.where == LX_VIRTUAL || l.where == LX_EXPOSED)
		return -EINVAL;
	fd = lx_loc_open(&l, O_PATH | (l.tail ? 0 : O_NOFOLLOW), 0);
	if (fd < 0)
		return fd;
	r = lx_readlink_fd(c, fd, gbuf, size, -EINVAL);
	close(fd);
	return r;
}

LX_HANDLER(readlink)
{
	return lx_readlink(c, AT_FDCWD, c->a[0], c->a[1], (int)c->a[2]);
}

LX_HANDLER(readlinkat)
{
	return lx_readlink(c, (int)c->a[0], c->a[1], c->a[2], (int)c->a[3]);
}

/* The host's answer for an fd of the file itself; EROFS first for writes to a read-only place. */
static int64_t lx_access_fd(int host, unsigned mode, int flags, int ro)
{
	if (host < 0)
		return (mode & W_OK) ? -EROFS : 0; /* a virtual directory: r-x */
	if ((mode & W_OK) && ro)
		return -EROFS;
	if (syscall(SYS_faccessat2, host, "", mode, AT_EMPTY_PATH | (flags & AT_EACCESS)) < 0)
		return -errno;
	return 0;
}

static int64_t lx_access(struct lx_call *c, int dirfd, uint64_t gpath, unsigned mode, int flags)
{
	char raw[LX_PATH_MAX];
	struct lx_loc l;
	int64_t r;
	int fd;

	if ((mode & ~7u) || (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)))
		return -EINVAL;
	r = lx_path_read(c, gpath, raw);
	if (r < 0)
		return r;
	if (!*raw && (flags & AT_EMPTY_PATH)) {
		const struct lx_fd *f;

		if (dirfd == AT_FDCWD) {
			strcpy(raw, ".");
		} else {
			f = lx_fd_get(c->p, dirfd);
			if (!f)
				return -EBADF;
			if (f->kind == LX_FD_STREAM || f->kind == LX_FD_PIPE)
				return 0; /* the guest's own, read-write */
			return lx_access_fd(f->host, mode, flags, !f->writable);
		}
	}
	r = lx_loc_at(c, dirfd, raw, &l);
	if (r < 0)
		return r;
	if (l.where == LX_VIRTUAL)
		return lx_access_fd(-1, mode, flags, 1);
	fd = lx_loc_open(&l, O_PATH | ((flags & AT_SYMLINK_NOFOLLOW) && !l.tail ? O_NOFOLLOW : 0),
			 0);
	if (fd < 0)
		return fd;
	r = lx_access_fd(fd, mode, flags, lx_loc_ro(&l));
	close(fd);
	return r;
}

LX_HANDLER(access)
{
	return lx_access(c, AT_FDCWD, c->a[0], (unsigned)c->a[1], 0);
}

LX_HANDLER(faccessat)
{
	return lx_access(c, (int)c->a[0], c->a[1], (unsigned)c->a[2], 0);
}

LX_HANDLER(faccessat2)
{
	return lx_access(c, (int)c->a[0], c->a[1], (unsigned)c->a[2], (int)c->a[3]);
}

/* ---- the working directory ---- */

LX_HANDLER(getcwd)
{
	size_t len = strlen(c->p->cwd) + 1;

	if (c->a[1] < len)
		return -ERANGE;
	return lx_put(c, c->a[0], c->p->cwd, len) < 0 ? -EFAULT : (int64_t)len;
}

static int64_t lx_set_cwd(struct lx_proc *p, const char *path)
{
	char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	free(p->cwd);
	p->cwd = copy;
	return 0;
}

LX_HANDLER(chdir)
{
	struct lx_loc l;
	int64_t r = lx_loc_get(c, AT_FDCWD, c->a[0], &l);
	int fd;

	if (r < 0)
		return r;
	if (l.where == LX_EXPOSED)
		return -ENOTDIR;
	if (l.where == LX_TREE) {
		fd = lx_loc_open(&l, O_PATH | O_DIRECTORY, 0);
		if (fd < 0)
			return fd;
		r = lx_access_fd(fd, X_OK, 0, 0); /* search permission, as chdir needs */
		close(fd);
		if (r < 0)
			return r;
	} else if (l.where != LX_VIRTUAL) {
		return -ENOENT;
	}
	return lx_set_cwd(c->p, l.path);
}

LX_HANDLER(fchdir)
{
	const struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);

	if (!f)
		return -EBADF;
	if (f->kind != LX_FD_DIR || !f->path)
		return -ENOTDIR;
	return lx_set_cwd(c->p, f->path);
}
