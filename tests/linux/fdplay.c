/* fdplay.c: stdio descriptors closed and duplicated in odd orders (close(1) then dup(2) sends
 * output to stderr, dup2(1, 100), read of a closed stdin); compared with a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0) {
		/* report on the saved stdout: the point is that fd failed */
		char b[96];
		int n = snprintf(b, sizeof(b), "write(%d) failed: %s\n", fd,
				 errno == EBADF ? "EBADF" : "other");

		if (write(100, b, (size_t)n) < 0)
			_exit(9);
	}
}

int main(void)
{
	char b[128];
	int fd, n;

	say(1, "stdout first\n");
	say(2, "stderr first\n");
	fd = dup2(1, 100);
	n = snprintf(b, sizeof(b), "dup2(1, 100) = %d\n", fd);
	say(100, b);
	say(100, "via fd 100\n");
	close(1);
	say(1, "lost: fd 1 is closed\n");
	fd = dup(2);
	n = snprintf(b, sizeof(b), "dup(2) = %d\n", fd);
	say(100, b);
	say(1, "fd 1 is now stderr\n");
	close(0);
	errno = 0;
	n = (int)read(0, b, sizeof(b));
	snprintf(b, sizeof(b), "read(0) after close = %d %s\n", n, errno == EBADF ? "EBADF" : "?");
	say(100, b);
	fd = dup2(100, 1);
	n = snprintf(b, sizeof(b), "dup2(100, 1) = %d\n", fd);
	say(1, b);
	say(1, "fd 1 is stdout again\n");
	n = dup3(1, 1, 0);
	snprintf(b, sizeof(b), "dup3(1, 1, 0) = %d %s\n", n, errno == EINVAL ? "EINVAL" : "?");
	say(1, b);
	n = dup2(1, 1);
	snprintf(b, sizeof(b), "dup2(1, 1) = %d\n", n);
	say(1, b);
	fd = fcntl(2, F_DUPFD_CLOEXEC, 50);
	n = fcntl(fd, F_GETFD);
	snprintf(b, sizeof(b), "F_DUPFD_CLOEXEC = %d cloexec=%d\n", fd, n & FD_CLOEXEC);
	say(1, b);
	say(fd, "stderr through the F_DUPFD copy\n");
	close(2);
	say(2, "lost: fd 2 is closed\n");
	say(fd, "still stderr after close(2)\n");
	n = fcntl(2, F_GETFL);
	snprintf(b, sizeof(b), "fcntl(2, F_GETFL) = %d %s\n", n, errno == EBADF ? "EBADF" : "?");
	say(1, b);
	fd = dup(fd);
	snprintf(b, sizeof(b), "lowest free = %d\n", fd);
	say(1, b);
	printf("printf at the end\n");
	fflush(stdout);
	close(100);
	errno = 0;
	n = (int)write(100, "x", 1);
	snprintf(b, sizeof(b), "write(100) after close = %d %s\n", n,
		 errno == EBADF ? "EBADF" : "?");
	say(1, b);
	return 0;
}
