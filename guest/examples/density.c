/* density.c: reads every page of a 16 MiB preinitialized image array, writes 64 KiB, waits. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE (16u << 20)
#define OWN_SIZE   (64u << 10)

/*
 * The table is in the image's read-only data, built by the assembler (a C
 * initializer of 16 MiB would slow the compiler down): every instance maps
 * the same 4,096 image pages and none of them is copied.
 */
__asm__(".section .rodata\n"
	".balign 4096\n"
	".globl density_table\n"
	"density_table:\n"
	".fill 16777216, 1, 0xa5\n"
	".previous\n");
extern const unsigned char density_table[TABLE_SIZE];

int main(int argc, char **argv)
{
	const volatile unsigned char *t = density_table;
	unsigned long sum = 0;
	unsigned char *own;
	unsigned i;

	for (i = 0; i < TABLE_SIZE; i += 4096)
		sum += t[i];
	own = malloc(OWN_SIZE);
	if (!own)
		return 1;
	memset(own, (int)(mvmm_instance() & 0xff), OWN_SIZE);
	mvmm_wait();
	if (argc > 1 && strcmp(argv[1], "-v") == 0)
		printf("sum %lu, own[0] %u\n", sum, own[0]);
	free(own);
	return sum == (unsigned long)(TABLE_SIZE / 4096) * 0xa5 ? 0 : 2;
}
