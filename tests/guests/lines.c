/* lines.c: output shapes for the --count output tests: one long line in pieces, or a flood. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * lines long N   one line of N bytes (the letter 'a' + instance number), written 100
 *                bytes at a time, each flushed (one write hypercall), then "end"
 * lines flood    "line I" lines, flushed one by one, until stopped
 */
int main(int argc, char **argv)
{
	unsigned long me = (unsigned long)mvmm_instance(), n, i;
	char piece[100];

	if (argc >= 3 && !strcmp(argv[1], "long")) {
		n = strtoul(argv[2], NULL, 10);
		memset(piece, 'a' + (int)(me % 26), sizeof(piece));
		for (i = 0; i < n; i += sizeof(piece)) {
			fwrite(piece, 1, n - i < sizeof(piece) ? n - i : sizeof(piece), stdout);
			fflush(stdout);
		}
		puts("");
		puts("end");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "flood")) {
		for (i = 0;; i++) {
			printf("line %lu\n", i);
			fflush(stdout);
		}
	}
	return 1;
}
