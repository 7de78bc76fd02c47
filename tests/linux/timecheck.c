/* timecheck.c: clocks as a program sees them; prints only deterministic facts (ok lines), given
 * the host's time(NULL) as argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000ll + t->tv_nsec;
}

int main(int argc, char **argv)
{
	struct timespec a, b, res, req = {0, 10 * 1000 * 1000};
	struct timeval tv;
	long long host = argc > 1 ? atoll(argv[1]) : 0, prev = 0;
	int bad = 0;
	time_t now;

	for (int i = 0; i < 2000; i++) {
		if (clock_gettime(CLOCK_MONOTONIC, &a) != 0) {
			printf("FAIL: clock_gettime(CLOCK_MONOTONIC)\n");
			return 1;
		}
		if (ns(&a) < prev)
			bad++;
		prev = ns(&a);
	}
	printf("monotonic: %s\n", bad ? "went backwards" : "non-decreasing");
	now = time(NULL);
	printf("time: %s\n", now - host <= 5 && host - now <= 5 ? "plausible" : "off");
	if (now - host > 5 || host - now > 5)
		printf("  time %lld host %lld\n", (long long)now, host);
	clock_gettime(CLOCK_REALTIME, &b);
	printf("realtime vs time: %s\n",
	       b.tv_sec - now <= 1 && now - b.tv_sec <= 1 ? "agree" : "differ");
	gettimeofday(&tv, NULL);
	printf("gettimeofday vs time: %s\n",
	       tv.tv_sec - now <= 1 && now - tv.tv_sec <= 1 && tv.tv_usec < 1000000 ? "agree"
										    : "differ");
	printf("clock_getres: %s\n",
	       clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(&res) > 0 && ns(&res) <= 1000000
		       ? "ok"
		       : "bad");
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (nanosleep(&req, NULL) != 0)
		printf("FAIL: nanosleep\n");
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* a lower bound Linux guarantees, not a timing threshold */
	printf("nanosleep 10 ms: %s\n",
	       ns(&b) - ns(&a) >= 10000000 ? "slept at least 10 ms" : "too short");
	req.tv_nsec = 1000000000;
	printf("nanosleep invalid: %s\n", nanosleep(&req, NULL) == -1 ? "refused" : "accepted");
	printf("clock(): %s\n", clock() >= 0 ? "ok" : "bad");
	return 0;
}
