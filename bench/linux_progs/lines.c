/*
 * lines: output throughput, for bench/linux.sh.
 *
 *   lines [N]      (default 1000000)
 *
 * Prints "line %d\n" N times with printf, stdio buffering as the C library
 * chooses (full buffering to a file or a pipe).
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000000;
	int i;

	for (i = 0; i < n; i++)
		printf("line %d\n", i);
	return fflush(stdout) == 0 ? 0 : 1;
}
