/* where.c: calls ready, then prints where its code was loaded (served as a PIE). */
#include <mvmm/hypercall.h>
#include <stdio.h>

int main(void)
{
	int clone = mvmm_ready();

	printf("clone %d main %p\n", clone, (void *)main);
	return 0;
}
