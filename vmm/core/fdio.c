/* fdio.c: loops that finish a read or write the kernel did only in part. */
#define _GNU_SOURCE
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

/*
 * One loop for the four calls: op moves at most len bytes at off (ignored
 * when not positional) and returns what read(2)/write(2) would.
 */
static int fd_all(int fd, char *p, size_t len, uint64_t off, int positional, int writing)
{
	while (len > 0) {
		ssize_t n;

		if (writing)
			n = positional ? pwrite(fd, p, len, (off_t)off) : write(fd, p, len);
		else
			n = positional ? pread(fd, p, len, (off_t)off) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			/* a write that moves nothing: the file system is full */
			errno = writing ? ENOSPC : 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int fd_write_all(int fd, const void *buf, size_t len)
{
	return fd_all(fd, (char *)buf, len, 0, 0, 1);
}

int fd_read_all(int fd, void *buf, size_t len)
{
	return fd_all(fd, buf, len, 0, 0, 0);
}

int fd_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	return fd_all(fd, (char *)buf, len, off, 1, 1);
}

int fd_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return fd_all(fd, buf, len, off, 1, 0);
}

int fd_open_regular(const char *path, int extra_flags)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | extra_flags);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int fd_open_regular_msg(const char *path, const char *what)
{
	int fd = fd_open_regular(path, 0);

	if (fd >= 0)
		return fd;
	if (errno == EINVAL)
		return err_set("%s%s%s: not a regular file", what, *what ? " " : "", path);
	return err_sys("%s%s%s", what, *what ? " " : "", path);
}

