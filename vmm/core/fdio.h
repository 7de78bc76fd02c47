/* fdio.h: whole reads and writes on file descriptors, across EINTR and short counts. */
#ifndef MVMM_FDIO_H
#define MVMM_FDIO_H

#include <stddef.h>
#include <stdint.h>

/* 0 once all len bytes are written, -1 on an error (errno says which). */
int fd_write_all(int fd, const void *buf, size_t len);
/* 0 once all len bytes are read; -1 on an error or at end of file (errno 0). */
int fd_read_all(int fd, void *buf, size_t len);
int fd_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int fd_pread_all(int fd, void *buf, size_t len, uint64_t off);

/*
 * Opens path for reading only if it is a regular file: a FIFO or device
 * does not block the open (O_NONBLOCK, cleared after the check) and is
 * refused with errno EINVAL, as is a directory. extra_flags: O_NOFOLLOW...
 */
int fd_open_regular(const char *path, int extra_flags);
/* The same, setting the error message (what: "snapshot %s", or just the path) on failure. */
int fd_open_regular_msg(const char *path, const char *what);

#endif
