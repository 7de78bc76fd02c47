/*
 * snapfill.c: a program with a large state taken before its first read of stdin (a snapshot's
 * base holds it): 16 MiB filled with a pattern, its first 256 KiB seeded by argv[1] (two
 * snapshots of two runs differ there only). Per stdin line: reads all of it and prints the line,
 * the seed and the sum; "set C" then writes C over its second 256 KiB first; "checkpoint"
 * makes mvmm's checkpoint hypercall (as tests/linux/tplfile.c does) and prints its number.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG  (16u << 20)
#define SEED (256u << 10)

static volatile int64_t checkpoint_block __attribute__((aligned(8)));

static int64_t checkpoint(void)
{
	uint32_t gpa = (uint32_t)(uintptr_t)&checkpoint_block;

	checkpoint_block = -1;
	__asm__ volatile("outl %0, %1" : : "a"(gpa), "Nd"((uint16_t)(0x500 + 3)) : "memory");
	return checkpoint_block;
}

int main(int argc, char **argv)
{
	const char *seed = argc > 1 ? argv[1] : "-";
	unsigned char *big = malloc(BIG);
	char line[256];
	size_t i;

	if (!big)
		return 2;
	for (i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i % 251 + 1);
	for (i = 0; i < SEED; i++)
		big[i] = (unsigned char)(seed[i % strlen(seed)] + i % 7);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long sum = 0;

		if (!strncmp(line, "set ", 4))
			memset(big + SEED, line[4], SEED);
		if (!strncmp(line, "checkpoint", 10))
			printf("checkpoint %lld\n", (long long)checkpoint());
		for (i = 0; i < BIG; i += 64)
			sum += big[i];
		printf("seed %s sum %lu line %s", seed, sum, line);
		fflush(stdout);
	}
	return 0;
}
