/*
 * hotread.c: reads /d/f one byte at a time with read(2) (so libc's read site
 * traps often), says how much on stderr, then echoes stdin lines: as a
 * --ready-on=stdin template it freezes at a read site mvmm has rewritten.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char c, line[256];
	int fd = open("/d/f", O_RDONLY), n = 0;
	ssize_t k;

	if (fd < 0)
		return 2;
	while (read(fd, &c, 1) == 1)
		n++;
	fprintf(stderr, "read %d bytes\n", n);
	/* raw reads, through the same site as above (stdio could use readv) */
	while ((k = read(0, line, sizeof(line) - 1)) > 0) {
		line[k] = '\0';
		for (char *s = line, *e; *s; s = e + 1) {
			e = s;
			while (*e && *e != '\n')
				e++;
			if (e > s)
				printf("got: %.*s\n", (int)(e - s), s);
			if (!*e)
				break;
		}
	}
	return 0;
}
