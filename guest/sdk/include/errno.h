/* errno.h: a plain global errno (guests have one thread and no TLS). */
#ifndef _MVMM_ERRNO_H
#define _MVMM_ERRNO_H

extern int errno;

#define EPERM  1
#define ENOENT 2
#define EIO    5
#define EBADF  9
#define ENOMEM 12
#define EFAULT 14
#define EINVAL 22
#define ENOSPC 28
#define EDOM   33
#define ERANGE 34
#define ENOSYS 38

#endif /* _MVMM_ERRNO_H */
