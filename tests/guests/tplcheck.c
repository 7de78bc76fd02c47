/* tplcheck.c: state computed before ready, then what each clone sees and does after it. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned table[4096];
static int written = -1; /* each clone writes its number here, after printing what it found */

static unsigned long fill(unsigned seed)
{
	unsigned long sum = 0;
	unsigned i;

	for (i = 0; i < 4096; i++) {
		seed = seed * 1103515245u + 12345u;
		table[i] = seed;
		sum += seed;
	}
	return sum;
}

int main(void)
{
	/* volatile locals live on the stack; x and y stay in registers across the call */
	unsigned long x = fill(7);
	unsigned long y = x * 31 + 5;
	double f = (double)x / 3.0;
	int clone, r;

	srand(1); /* without mvmm_ready's reseed, every clone would draw the same */
	clone = mvmm_ready();
	r = rand();
	printf("clone %d x %lu y %lu f %.3f sum %lu found %d rand %d\n", clone, x, y, f, fill(7),
	       written, r);
	written = clone;
	return 0;
}
