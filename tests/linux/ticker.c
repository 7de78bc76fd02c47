/* ticker.c: "tick I" on stderr every MS milliseconds, N times (ticker N MS): output during progress. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3, ms = argc > 2 ? atol(argv[2]) : 500;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	for (long i = 1; i <= n; i++) {
		nanosleep(&ts, NULL);
		fprintf(stderr, "tick %ld\n", i);
	}
	return 0;
}
