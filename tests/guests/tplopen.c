/*
 * tplopen.c: a template that holds a file open at its ready call: opens argv[1] (a file under
 * a --dir tree), reads its first 4 bytes, calls mvmm_ready(), then reads the next 4 bytes and
 * prints them with its clone number and the file's offset. Its template's process state
 * carries the open file (by guest path, at offset 4) and its ready block each clone's number,
 * through a snapshot or a cache entry (tests/guestabi/test_lx_save.c).
 */
#include <fcntl.h>
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char head[5] = "", next[5] = "";
	int fd, clone;

	if (argc < 2 || (fd = open(argv[1], O_RDONLY)) < 0 || read(fd, head, 4) != 4) {
		perror("tplopen: open");
		return 2;
	}
	clone = mvmm_ready();
	if (read(fd, next, 4) != 4) {
		perror("tplopen: read");
		return 3;
	}
	printf("clone %d head %s next %s at %ld\n", clone, head, next,
	       (long)lseek(fd, 0, SEEK_CUR));
	return 0;
}
