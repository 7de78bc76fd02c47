/*
 * lx_fsmod.c: the calls of a Linux program that change its trees: mkdir,
 * unlink, rename (each with the parent opened beneath the tree and one
 * last name in it), truncation, sync, modes, times and the umask. A
 * read-only tree answers EROFS; lx_path.c confines every host open.
 */
#define _GNU_SOURCE
#include "lx_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat, snprintf */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- changing directories: the parent opened beneath the tree, the last name in it ---- */

/* On a read-only tree: EEXIST if the name exists (mkdir -p relies on it), else EROFS. */
static int64_t lx_ro_answer(int pfd, const char *last, int exists)
{
	struct stat st;

	if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -EROFS : -errno;
	return exists;
}

/* For "x/", which must name a directory: isdir if x is one, ENOTDIR if it is something else. */
static int64_t lx_slash_answer(int pfd, const char *last, int64_t isdir)
{
	struct stat st;

	if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? isdir : -ENOTDIR;
}

static int64_t lx_mkdir(struct lx_call *c, int dirfd, uint64_t gpath, unsigned mode)
{
	const char *last;
	struct lx_loc l;
	int64_t r = lx_loc_get(c, dirfd, gpath, &l);
	int pfd;

	if (r < 0)
		return r;
	if (l.where == LX_NOWHERE)
		return lx_loc_absent(c, &l, 1);
	if (l.where != LX_TREE || (l.tail & (LX_TAIL_DOT | LX_TAIL_DOTDOT)))
		return -EEXIST;
	pfd = lx_loc_parent(&l, &last);
	if (pfd < 0)
		return pfd == -EBUSY ? -EEXIST : pfd;
	if (!l.m->rw)
		r = lx_ro_answer(pfd, last, -EEXIST);
	else if (mkdirat(pfd, last, mode & LX_MODE_MASK & ~c->p->umask) < 0)
		r = -errno;
	close(pfd);
	return r;
}

LX_HANDLER(mkdir)
{
	return lx_mkdir(c, AT_FDCWD, c->a[0], (unsigned)c->a[1]);
}

LX_HANDLER(mkdirat)
{
	return lx_mkdir(c, (int)c->a[0], c->a[1], (unsigned)c->a[2]);
}

/* unlink(rmdir 0) and rmdir(rmdir 1) answer as Linux does for the names they cannot take. */
static int64_t lx_unlink(struct lx_call *c, int dirfd, uint64_t gpath, int rmdir)
{
	const char *last;
	struct lx_loc l;
	int64_t r = lx_loc_get(c, dirfd, gpath, &l);
	int pfd;

	if (r < 0)
		return r;
	if ((l.tail & (LX_TAIL_DOT | LX_TAIL_DOTDOT)) && !rmdir)
		return -EISDIR;
	if (l.tail & LX_TAIL_DOT) /* rmdir("x/.") */
		return -EINVAL;
	if (l.tail & LX_TAIL_DOTDOT)
		return -ENOTEMPTY;
	switch (l.where) {
	case LX_NOWHERE:
		return -ENOENT;
	case LX_VIRTUAL:
		return rmdir ? -EBUSY : -EISDIR;
	case LX_EXPOSED:
		return rmdir ? -ENOTDIR : -EROFS;
	default:
		break;
	}
	pfd = lx_loc_parent(&l, &last);
	if (pfd == -EBUSY) /* a tree's root */
		return rmdir ? -EBUSY : -EISDIR;
	if (pfd < 0)
		return pfd;
	if (!l.m->rw)
		r = lx_ro_answer(pfd, last, -EROFS);
	else if (!rmdir && (l.tail & LX_TAIL_SLASH)) /* unlink("x/"): never removes x */
		r = lx_slash_answer(pfd, last, -EISDIR);
	else if (unlinkat(pfd, last, rmdir ? AT_REMOVEDIR : 0) < 0)
		r = -errno;
	close(pfd);
	return r;
}

LX_HANDLER(unlink)
{
	return lx_unlink(c, AT_FDCWD, c->a[0], 0);
}

LX_HANDLER(rmdir)
{
	return lx_unlink(c, AT_FDCWD, c->a[0], 1);
}

LX_HANDLER(unlinkat)
{
	if (c->a[2] & ~(uint64_t)AT_REMOVEDIR)
		return -EINVAL;
	return lx_unlink(c, (int)c->a[0], c->a[1], (c->a[2] & AT_REMOVEDIR) != 0);
}

/* Both names in one tree, each parent opened beneath it: renameat cannot leave the tree. */
static int64_t lx_rename(struct lx_call *c, int olddirfd, uint64_t oldp, int newdirfd,
			 uint64_t newp, uint64_t flags)
{
	const char *lastf, *lastt;
	struct lx_loc from, to;
	int pf, pt;
	int64_t r;

	if (flags)
		return -EINVAL; /* RENAME_NOREPLACE, EXCHANGE, WHITEOUT: not offered */
	if ((r = lx_loc_get(c, olddirfd, oldp, &from)) < 0 ||
	    (r = lx_loc_get(c, newdirfd, newp, &to)) < 0)
		return r;
	if ((from.tail | to.tail) & (LX_TAIL_DOT | LX_TAIL_DOTDOT))
		return -EBUSY;
	if (from.where == LX_NOWHERE)
		return -ENOENT;
	if (from.where != LX_TREE)
		return -EBUSY;
	if (to.where != LX_TREE || to.m != from.m)
		return -EXDEV;
	pf = lx_loc_parent(&from, &lastf);
	if (pf < 0)
		return pf;
	pt = lx_loc_parent(&to, &lastt);
	if (pt < 0) {
		r = pt;
		goto out;
	}
	if (!from.m->rw)
		r = lx_ro_answer(pf, lastf, -EROFS);
	else if ((from.tail | to.tail) & LX_TAIL_SLASH)
		r = lx_slash_answer(pf, lastf, 0); /* "x/" must name a directory */
	else
		r = 0;
	if (r == 0 && renameat(pf, lastf, pt, lastt) < 0)
		r = -errno;
	close(pt);
out:
	close(pf);
	return r;
}

LX_HANDLER(rename)
{
	return lx_rename(c, AT_FDCWD, c->a[0], AT_FDCWD, c->a[1], 0);
}

LX_HANDLER(renameat)
{
	return lx_rename(c, (int)c->a[0], c->a[1], (int)c->a[2], c->a[3], 0);
}

LX_HANDLER(renameat2)
{
	return lx_rename(c, (int)c->a[0], c->a[1], (int)c->a[2], c->a[3], (uint32_t)c->a[4]);
}

/* ---- calls on an open file ---- */

LX_HANDLER(ftruncate)
{
	const struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);
	int64_t len = (int64_t)c->a[1];

	if (!f || (f->flags & O_PATH))
		return -EBADF;
	if (len < 0 || f->kind != LX_FD_FILE || (f->flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	if (!f->writable)
		return -EROFS;
	return ftruncate(f->host, len) < 0 ? -errno : 0;
}

/* fsync and fdatasync (the same here: both reach the host's disk). */
LX_HANDLER(fsync)
{
	const struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);

	if (!f || (f->flags & O_PATH))
		return -EBADF;
	if (f->kind == LX_FD_STREAM || f->kind == LX_FD_PIPE)
		return -EINVAL;
	if (f->host < 0)
		return 0; /* a virtual directory holds nothing to write */
	return fsync(f->host) < 0 ? -errno : 0;
}

LX_HANDLER(fchmod)
{
	const struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);

	if (!f || (f->flags & O_PATH))
		return -EBADF;
	if (f->kind == LX_FD_STREAM)
		return -EPERM; /* the host's terminal or file is not the guest's to change */
	if (f->kind != LX_FD_PIPE && (f->host < 0 || !f->writable))
		return -EROFS;
	return fchmod(f->host, (mode_t)c->a[1] & LX_MODE_MASK) < 0 ? -errno : 0;
}

/*
 * chmod of the file an O_PATH fd holds. fchmod refuses O_PATH fds, and
 * fchmodat2's AT_EMPTY_PATH is Linux 6.6 (and not in the seccomp lists):
 * the fd's own /proc link names exactly that file and walks nothing in the
 * tree. A host without /proc gets the file opened again for reading (a
 * regular file or directory only).
 */
static int64_t lx_chmod_fd(const struct lx_loc *l, int fd, unsigned mode)
{
	char link[32];
	struct stat st;
	int64_t r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (fchmodat(AT_FDCWD, link, mode, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	fd = lx_loc_open_io(l, O_RDONLY, 0, &st);
	if (fd < 0)
		return fd == -ENXIO ? -EOPNOTSUPP : fd;
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int64_t lx_chmod(struct lx_call *c, int dirfd, uint64_t gpath, unsigned mode)
{
	struct lx_loc l;
	int64_t r = lx_loc_get(c, dirfd, gpath, &l);
	int fd;

	if (r < 0)
		return r;
	if (l.where == LX_VIRTUAL)
		return -EROFS;
	fd = lx_loc_open(&l, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (lx_loc_ro(&l))
		r = -EROFS;
	else
		r = lx_chmod_fd(&l, fd, mode & LX_MODE_MASK);
	close(fd);
	return r;
}

LX_HANDLER(chmod)
{
	return lx_chmod(c, AT_FDCWD, c->a[0], (unsigned)c->a[1]);
}

LX_HANDLER(fchmodat)
{
	return lx_chmod(c, (int)c->a[0], c->a[1], (unsigned)c->a[2]);
}

/* futimens: the times of an open file. */
static int64_t lx_utimes_fd(const struct lx_fd *f, const struct timespec *ts)
{
	if (f->kind == LX_FD_STREAM)
		return -EPERM;
	if (f->kind != LX_FD_PIPE && (f->host < 0 || !f->writable))
		return -EROFS;
	return futimens(f->host, ts) < 0 ? -errno : 0;
}

LX_HANDLER(utimensat)
{
	int dirfd = (int)c->a[0], flags = (int)c->a[3], fd;
	struct timespec ts[2], *tp = NULL;
	char raw[LX_PATH_MAX];
	const struct lx_fd *f;
	struct lx_loc l;
	int64_t r;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (c->a[2]) {
		if (lx_get(c, c->a[2], ts, sizeof(ts)) < 0)
			return -EFAULT;
		tp = ts;
	}
	if (!c->a[1] && dirfd == AT_FDCWD)
		return -EFAULT;
	if (!c->a[1]) { /* Linux's utimensat(fd, NULL, ...), which futimens is */
		if (flags)
			return -EINVAL;
		f = lx_fd_get(c->p, dirfd);
		return f ? lx_utimes_fd(f, tp) : -EBADF;
	}
	r = lx_path_read(c, c->a[1], raw);
	if (r < 0)
		return r;
	if (!*raw && (flags & AT_EMPTY_PATH)) {
		if (dirfd != AT_FDCWD) {
			f = lx_fd_get(c->p, dirfd);
			return f ? lx_utimes_fd(f, tp) : -EBADF;
		}
		strcpy(raw, ".");
	}
	r = lx_loc_at(c, dirfd, raw, &l);
	if (r < 0)
		return r;
	if (l.where == LX_VIRTUAL)
		return -EROFS;
	fd = lx_loc_open(&l, O_PATH | ((flags & AT_SYMLINK_NOFOLLOW) && !l.tail ? O_NOFOLLOW : 0),
			 0);
	if (fd < 0)
		return fd;
	if (lx_loc_ro(&l))
		r = -EROFS;
	else if (utimensat(fd, "", tp, AT_EMPTY_PATH) < 0)
		r = -errno;
	close(fd);
	return r;
}

LX_HANDLER(umask)
{
	uint32_t old = c->p->umask;

	c->p->umask = (uint32_t)c->a[0] & 0777;
	return old;
}
