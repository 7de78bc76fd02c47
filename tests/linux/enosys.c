/* enosys.c: system calls mvmm does not answer (io_pgetevents, 333, twice; a number beyond any
 * table) return ENOSYS and the program carries on. Run under mvmm only. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static void call(long nr)
{
	long r;

	errno = 0;
	r = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
	printf("syscall(%ld) = %ld %s\n", nr, r, errno == ENOSYS ? "ENOSYS" : "other");
}

int main(void)
{
	call(333);
	call(333);
	call(1000);
	printf("carried on\n");
	return 0;
}
