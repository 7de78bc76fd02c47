/* hugeread.c: a guest with 8 MiB of read-only data, for the huge-page tests. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <string.h>

#define TABLE_SIZE (8u << 20)
#define OWN_PAGES  16u

/* Built by the assembler: 8 MiB of constants, 2,048 pages no instance writes. */
__asm__(".section .rodata\n"
	".balign 4096\n"
	".globl huge_table\n"
	"huge_table:\n"
	".fill 8388608, 1, 0x5a\n"
	".previous\n");
extern const unsigned char huge_table[TABLE_SIZE];

static unsigned char own[OWN_PAGES * 4096];

/* Reads one byte of every page of the table; 0 when every byte read was 0x5a. */
static int read_table(void)
{
	const volatile unsigned char *t = huge_table;
	unsigned long sum = 0;

	for (unsigned i = 0; i < TABLE_SIZE; i += 4096)
		sum += t[i];
	return sum == (unsigned long)(TABLE_SIZE / 4096) * 0x5a ? 0 : 2;
}

/*
 * hugeread read     reads the table, writes OWN_PAGES pages of .bss, exits 0
 * hugeread store    writes into the table (must fault: it is read-only)
 * hugeread hcwrite  asks the VMM to write its request into the table (must be refused)
 * hugeread ready    calls ready, then as "read" (templates and clones)
 */
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "read";

	if (!strcmp(mode, "store")) {
		*(volatile unsigned char *)&huge_table[4096] = 1;
		return 3;
	}
	if (!strcmp(mode, "hcwrite")) {
		mvmm_request((void *)&huge_table[4096], 16, NULL);
		return 3;
	}
	if (!strcmp(mode, "ready"))
		mvmm_ready();
	if (read_table() != 0)
		return 2;
	for (unsigned i = 0; i < OWN_PAGES; i++)
		own[i * 4096] = (unsigned char)(i + 1);
	return own[4096] == 2 ? 0 : 4;
}
