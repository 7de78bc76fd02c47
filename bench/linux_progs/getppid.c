/*
 * getppid: system-call round trip, for bench/linux.sh.
 *
 *   getppid [N]      (default 20000)
 *
 * Calls syscall(SYS_getppid) N times and times the whole loop with
 * clock_gettime(CLOCK_MONOTONIC) read once before and once after it (under
 * mvmm each clock_gettime is itself a system call, so the loop's time covers
 * N + 2 calls at most; it is divided by N).  Prints one line:
 *   getppid n=N ns_per_call=X ret=R
 * or, when the clock cannot be read:
 *   getppid n=N ns_per_call=NA clock_errno=E ret=R
 * and exits 0 either way (bench/linux.sh then falls back to whole-process
 * timing).  R is the last call's result, for the record (-1: the call failed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	long ret = 0, i;
	int clock_ok;

	if (n < 0) {
		fprintf(stderr, "getppid: bad count '%s'\n", argv[1]);
		return 2;
	}
	clock_ok = clock_gettime(CLOCK_MONOTONIC, &t0) == 0;
	for (i = 0; i < n; i++)
		ret = syscall(SYS_getppid);
	if (clock_ok)
		clock_ok = clock_gettime(CLOCK_MONOTONIC, &t1) == 0;
	if (clock_ok && n > 0) {
		double ns =
			(double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);

		printf("getppid n=%ld ns_per_call=%.1f ret=%ld\n", n, ns / (double)n, ret);
	} else {
		printf("getppid n=%ld ns_per_call=NA clock_errno=%d ret=%ld\n", n,
		       clock_ok ? 0 : errno, ret);
	}
	return 0;
}
