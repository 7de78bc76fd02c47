/* writer.c: diverges exactly K pages of a preinitialized image array, then waits. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * argv[1] is K (0 to WRITER_PAGES): the guest writes one byte into each of
 * the first K pages of writer_table, a page-aligned 64-page array of 0x5a
 * bytes in .data (image data, not .bss), so each write copies exactly one
 * image page. Then it waits (mvmm run --hold measures it there), checks that
 * it reads back its own writes and the untouched pages' original content,
 * and exits 0 (1: bad argument, 2: memory not as written).
 */
#define WRITER_PAGES 64

__asm__(".section .data\n"
	".balign 4096\n"
	".globl writer_table\n"
	"writer_table:\n"
	".fill 262144, 1, 0x5a\n"
	".balign 4096\n"
	".previous\n");
extern unsigned char writer_table[WRITER_PAGES * 4096];

int main(int argc, char **argv)
{
	volatile unsigned char *t = writer_table;
	unsigned long k;
	unsigned i;

	if (argc < 2)
		return 1;
	k = strtoul(argv[1], NULL, 10);
	if (k > WRITER_PAGES)
		return 1;
	for (i = 0; i < k; i++)
		t[i * 4096u + 123] = (unsigned char)(0xa0 + (i & 0xf));
	mvmm_wait();
	for (i = 0; i < WRITER_PAGES; i++) {
		unsigned char want = i < k ? (unsigned char)(0xa0 + (i & 0xf)) : 0x5a;

		if (t[i * 4096u + 123] != want || t[i * 4096u] != 0x5a)
			return 2;
	}
	return 0;
}
