/*
 * tplshare.c: a template's pipe and open file, which every clone must have to
 * itself. Before its first read of stdin it writes "pre" into a pipe it keeps
 * and opens /d/f; then per stdin line: "put W" writes W into the pipe, "get"
 * reads the pipe (non-blocking), "file" reads the next 4 bytes of /d/f.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char line[256], buf[256], four[8] = {0};
	int p[2];
	FILE *f;

	if (pipe2(p, O_NONBLOCK) || write(p[1], "pre\n", 4) != 4)
		return 2;
	f = fopen("/d/f", "r");
	if (!f)
		return 3;
	setvbuf(f, NULL, _IONBF, 0); /* every "file" line is one read at the file's offset */
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "put ", 4) && write(p[1], line + 4, strlen(line + 4)) < 0)
			return 4;
		if (!strncmp(line, "get", 3)) {
			ssize_t n = read(p[0], buf, sizeof(buf) - 1);

			printf("get: %.*s|\n", n > 0 ? (int)n : 5, n > 0 ? buf : "empty");
		}
		if (!strncmp(line, "file", 4)) {
			size_t k = fread(four, 1, 4, f);

			printf("file: %zu %.4s\n", k, four);
		}
	}
	return 0;
}
