/* hotpages.c: for SECONDS, rewrites pages chosen by one sequence in every instance; verifies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/*
 * hotpages SECONDS NPAGES: step k of a sequence (the same in every instance)
 * fills page k*7919 % NPAGES with a pattern of k, and records k in a table
 * (also guest memory). Instances drift apart in time, so at any moment many
 * pages hold the same content in several instances: the dedup pass merges
 * them while they are being rewritten. At the end every page must hold
 * exactly the pattern of the last k recorded for it. Exit 0, or 1.
 */
#define PAGE  4096u
#define WORDS (PAGE / 8)

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t pattern(uint64_t k, unsigned page, unsigned w)
{
	return (k << 20) ^ ((uint64_t)page << 9) ^ w ^ 0x5a5a000000000000ull;
}

int main(int argc, char **argv)
{
	uint64_t secs = argc > 1 ? strtoull(argv[1], NULL, 10) : 2;
	unsigned npages = argc > 2 ? (unsigned)atoi(argv[2]) : 256;
	uint64_t *last, end, k = 1;
	uint8_t *raw;
	uint64_t *buf;

	raw = malloc((size_t)npages * PAGE + PAGE);
	last = calloc(npages, sizeof(*last));
	if (!raw || !last || !npages)
		return 2;
	buf = (uint64_t *)(((uintptr_t)raw + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	for (unsigned p = 0; p < npages; p++)
		for (unsigned w = 0; w < WORDS; w++)
			buf[(size_t)p * WORDS + w] = pattern(0, p, w);
	end = now_ns() + secs * 1000000000ull;
	for (;;) {
		if ((k & 255) == 0 && now_ns() >= end)
			break;
		unsigned p = (unsigned)((k * 7919) % npages);
		uint64_t *pg = buf + (size_t)p * WORDS;

		for (unsigned w = 0; w < WORDS; w++)
			pg[w] = pattern(k, p, w);
		last[p] = k;
		/* A little slack, so that pages stay unchanged across some passes. */
		for (volatile unsigned s = 0; s < 2000; s++)
			;
		k++;
	}
	for (unsigned p = 0; p < npages; p++)
		for (unsigned w = 0; w < WORDS; w++)
			if (buf[(size_t)p * WORDS + w] != pattern(last[p], p, w)) {
				printf("hotpages: page %u word %u lost a write (last k %lu)\n", p, w,
				       (unsigned long)last[p]);
				return 1;
			}
	printf("hotpages: %lu writes verified\n", (unsigned long)k - 1);
	return 0;
}
