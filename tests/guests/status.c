/* status.c: exits with a status chosen per instance by argv; can end mid-line. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Arguments, in any order:
 *   I=S       instance I exits with status S (others: 0)
 *   I=S@MS    the same, after spinning MS milliseconds first
 *   nonl      print "partial <i>" without a trailing newline before exiting
 * Every instance first prints "line <i>" (with a newline) on stdout and
 * "err <i>" on stderr.
 */
/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void spin_ms(unsigned long ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;

	while (now_ns() < end)
		;
}

int main(int argc, char **argv)
{
	unsigned long me = (unsigned long)mvmm_instance();
	unsigned long delay = 0;
	int status = 0, nonl = 0, i;

	for (i = 1; i < argc; i++) {
		char *end;
		unsigned long inst, st;

		if (strcmp(argv[i], "nonl") == 0) {
			nonl = 1;
			continue;
		}
		inst = strtoul(argv[i], &end, 10);
		if (*end != '=')
			return 100;
		st = strtoul(end + 1, &end, 10);
		if (inst != me)
			continue;
		status = (int)st;
		if (*end == '@')
			delay = strtoul(end + 1, NULL, 10);
	}
	printf("line %lu\n", me);
	fprintf(stderr, "err %lu\n", me);
	if (nonl)
		printf("partial %lu", me);
	fflush(stdout);
	spin_ms(delay);
	exit(status);
}
