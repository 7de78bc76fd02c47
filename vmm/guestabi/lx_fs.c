/* lx_fs.c: placeholder handlers (ENOSYS) until the family is written. */
#include <errno.h>

#include "lx_int.h"

LX_HANDLER(open)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(openat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(creat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(stat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(lstat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(fstat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(newfstatat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(statx)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(statfs)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(fstatfs)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getdents64)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(readlink)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(readlinkat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(access)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(faccessat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(faccessat2)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getcwd)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(chdir)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(fchdir)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(mkdir)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(mkdirat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(unlink)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(unlinkat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(rmdir)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(rename)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(renameat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(renameat2)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(ftruncate)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(fsync)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(fchmod)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(chmod)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(fchmodat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(utimensat)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(umask)
{
	(void)c;
	return -ENOSYS;
}

int lx_fs_init(struct lx_proc *p, const struct lx_config *cfg)
{
	(void)p;
	(void)cfg;
	return 0;
}

void lx_fs_release(struct lx_proc *p)
{
	(void)p;
}
