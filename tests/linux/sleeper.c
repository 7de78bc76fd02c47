/* sleeper.c: prints "sleeping", then sleeps 10 s (for --timeout) and prints "woke". */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts = {10, 0};

	printf("sleeping\n");
	fflush(stdout);
	nanosleep(&ts, NULL);
	printf("woke\n");
	return 0;
}
