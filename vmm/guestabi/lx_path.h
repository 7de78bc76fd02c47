/*
 * lx_path.h: guest paths for the file-system calls (lx_fs.c): lexical
 * normalisation, what a normalised path names (a place beneath an exposed
 * tree, an exposed file, a virtual directory above them, or nothing), the
 * host opens, which the kernel keeps beneath the tree (openat2), and on
 * top of them open and stat of a guest path.
 */
#ifndef MVMM_LX_PATH_H
#define MVMM_LX_PATH_H

#include <sys/stat.h>

#include "lx_int.h"

/* Modes a guest may give host files: never set-user or set-group ID (mvmm may run as root). */
#define LX_MODE_MASK 01777

enum lx_where {
	LX_NOWHERE, /* nothing the guest may see: ENOENT */
	LX_TREE,    /* beneath an exposed tree: m and rest */
	LX_EXPOSED, /* an exposed single file (vm->exposed): host, read-only */
	LX_VIRTUAL, /* "/" or an ancestor of a tree or an exposed file: a read-only directory */
};

/* How the guest's path ended: it must then name a directory (Linux: "file/" is ENOTDIR). */
#define LX_TAIL_SLASH  1 /* "a/" */
#define LX_TAIL_DOT    2 /* "a/." */
#define LX_TAIL_DOTDOT 4 /* "a/.." */

struct lx_loc {
	enum lx_where where;
	int tail;		  /* LX_TAIL_*, 0 for a plain last component */
	const struct lx_mount *m; /* LX_TREE */
	const char *rest; /* LX_TREE: path beneath m->dirfd, "." for its root (points into path) */
	const char *host; /* LX_EXPOSED: the host path as the user gave it */
	char path[LX_PATH_MAX]; /* the normalised absolute guest path */
};

/*
 * The absolute normal form of path (relative to base, itself normal) in
 * out: no ".", "..", "//" or trailing "/". 0, or -ENAMETOOLONG.
 */
int lx_path_norm(const char *base, const char *path, char *out, size_t cap, int *tail);

/* A guest path string into buf (LX_PATH_MAX): its length, -EFAULT or -ENAMETOOLONG. */
int64_t lx_path_read(struct lx_call *c, uint64_t gva, char *buf);

/*
 * Normalises raw against dirfd (AT_FDCWD: the cwd; else a directory entry's
 * path) and says what it names. -ENOENT for "", -EBADF, -ENOTDIR (dirfd).
 */
int lx_loc_at(struct lx_call *c, int dirfd, const char *raw, struct lx_loc *l);

/*
 * The same over p's trees and the exposed files given, with a relative raw
 * taken against base (normal): what lx_loc_at does once it has the base, and
 * how a saved process's descriptors are found again (lx_save.c).
 */
int lx_loc_in(const struct lx_proc *p, const char *const *exposed, const char *base,
	      const char *raw, struct lx_loc *l);

/* The guest string at gva, resolved against dirfd (lx_loc_at). */
int64_t lx_loc_get(struct lx_call *c, int dirfd, uint64_t gva, struct lx_loc *l);

/* Whether writes to what l names answer EROFS (a read-only tree or an exposed file). */
int lx_loc_ro(const struct lx_loc *l);

/* A name with nothing behind it: EROFS if create would make it in a virtual directory, else ENOENT.
 */
int64_t lx_loc_absent(struct lx_call *c, const struct lx_loc *l, int create);

/* Whether a normalised path is "/" or above a tree or an exposed file (and not in a tree). */
int lx_path_virtual(struct lx_call *c, const char *path);

/*
 * A host fd (O_CLOEXEC added) for what l names (LX_TREE or LX_EXPOSED),
 * opened with the host flags given: beneath the tree by openat2, or an
 * exposed file without following a link; an exposed file that is not
 * regular is ENOENT under O_PATH. -errno.
 */
int lx_loc_open(const struct lx_loc *l, int flags, unsigned mode);

/*
 * The same for I/O, safe against FIFOs, devices and sockets: looked at
 * through O_PATH, opened O_NONBLOCK|O_NOCTTY, looked at again, refused
 * (ENXIO) unless a regular file or a directory, O_NONBLOCK cleared. st
 * gets the file's stat.
 */
int lx_loc_open_io(const struct lx_loc *l, int flags, unsigned mode, struct stat *st);

/* stat of what l names; nofollow: of a symlink itself. 0 or -errno. */
int lx_loc_stat(struct lx_call *c, const struct lx_loc *l, int nofollow, struct stat *st);

/*
 * For calls that change a directory (mkdir, unlink, rename): the parent of
 * l (LX_TREE) opened O_PATH beneath its tree, and in *last its final
 * component (never "", "." or "..", no "/"). -EBUSY: l is the tree's root.
 */
int lx_loc_parent(const struct lx_loc *l, const char **last);

/* What an open of a guest path gives a descriptor entry. */
struct lx_opened {
	int host;     /* owned host fd; -1 for a virtual directory */
	int dir;      /* a directory (LX_FD_DIR) */
	int flags;    /* the entry's status flags (O_CLOEXEC still in) */
	int writable; /* on a :rw tree */
};

/*
 * open's work once l is resolved: the host file opened as the guest's flags
 * say (O_PATH, read-only places, a virtual directory), never beneath
 * anything but l's tree. 0, or -errno.
 */
int64_t lx_open_loc(const struct lx_proc *p, const char *const *exposed, const struct lx_loc *l,
		    int flags, unsigned mode, struct lx_opened *o);

/* open/openat/creat: a new descriptor (the lowest free) for dirfd + the guest path, or -errno. */
int64_t lx_open(struct lx_call *c, int dirfd, uint64_t gpath, int flags, unsigned mode);

/* fstat of a descriptor (a stream, pipe, file, or directory, virtual or not). */
int lx_fd_stat(struct lx_call *c, const struct lx_fd *f, struct stat *st);

/*
 * stat of dirfd + guest path as the *at calls take them (flags:
 * AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH). 0 or -errno.
 */
int64_t lx_stat_at(struct lx_call *c, int dirfd, uint64_t gpath, int flags, struct stat *st);

/* getdents64 of a virtual directory into buf (cap bytes), from f's cursor on. */
int64_t lx_virtual_dents(struct lx_call *c, struct lx_fd *f, uint8_t *buf, size_t cap);

/* The stat of a virtual directory (mode 0555, owned by root, no times). */
void lx_virtual_stat(const char *path, struct stat *st);

/* One entry of a virtual directory's listing. */
struct lx_vent {
	char name[256];
	unsigned char type; /* DT_DIR or DT_REG */
};

/*
 * The entries of virtual directory path, "." and ".." first, at most max,
 * into v: the next component of each tree and exposed file beneath it.
 * Returns how many.
 */
unsigned lx_virtual_list(struct lx_call *c, const char *path, struct lx_vent *v, unsigned max);

/* An inode number for a virtual directory: a hash of its path, never 0. */
uint64_t lx_virtual_ino(const char *path);

#endif
