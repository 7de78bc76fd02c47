/*
 * fs_client: the client of bench/interp_progs/forkserver.py (bench/interp.sh),
 * the counterpart of `mvmm launch`, timed as a whole process.
 *
 *   fs_client SOCKET CODE
 *
 * Connects to the Unix socket SOCKET, sends CODE plus a newline, shuts down
 * its write side and copies what comes back (the forked child's stdout) to
 * its own stdout until end of file. Exit 0, or 1 on a failure (or nothing back).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[65536];
	size_t got = 0;
	ssize_t r;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fputs("usage: fs_client SOCKET CODE\n", stderr);
		return 2;
	}
	strcpy(a.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("fs_client: connect");
		return 1;
	}
	if (write_all(fd, argv[2], strlen(argv[2])) < 0 || write_all(fd, "\n", 1) < 0 ||
	    shutdown(fd, SHUT_WR) < 0) {
		perror("fs_client: send");
		return 1;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (write_all(1, buf, (size_t)r) < 0) {
			perror("fs_client: stdout");
			return 1;
		}
		got += (size_t)r;
	}
	if (r < 0 || !got) {
		fputs("fs_client: no answer\n", stderr);
		return 1;
	}
	return 0;
}
