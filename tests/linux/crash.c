/* crash.c: ends badly on purpose: "abort" calls abort(), "null" writes through a NULL pointer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	volatile int *volatile nowhere = NULL;

	printf("before\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "abort"))
		abort();
	if (argc > 1 && !strcmp(argv[1], "null"))
		*nowhere = 42;
	printf("not reached\n");
	return 0;
}
