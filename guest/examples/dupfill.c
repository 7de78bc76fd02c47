/* dupfill.c: fills 8 MiB of heap, a share of it identical across instances, waits, verifies. */
#include <mvmm/hypercall.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * dupfill [SHARE [ZERO [onebyte]]]: of the 2,048 pages, the first SHARE
 * percent (default 75) hold a pattern that is the same in every instance
 * (never all zero), the last ZERO percent (default 0) are written with
 * zeros, and the rest are unique to the instance (seeded by its number).
 * With "onebyte", the unique pages are the shared pattern with one byte
 * changed per page instead. After mvmm_wait() returns, checks every byte,
 * then overwrites the shared part with the instance's own content and checks
 * again. Exit 0, or 1 on any difference.
 */
#define BUF_SIZE   (8u << 20)
#define PAGE	   4096u
#define NPAGES	   (BUF_SIZE / PAGE)
#define WORDS	   (PAGE / 8)

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31)) | 1; /* never zero */
}

static unsigned shared_pages, zero_from, onebyte;
static uint64_t seed;

/* What word w of page p holds in phase 0 (as written) or 1 (after the rewrite). */
static uint64_t expect(unsigned p, unsigned w, int phase)
{
	if (p >= zero_from)
		return 0;
	if (p >= shared_pages)
		phase = 0; /* only the shared part is rewritten */
	if (p < shared_pages && !phase)
		return mix((uint64_t)p * WORDS + w);
	if (onebyte && !phase) {
		uint64_t v = mix((uint64_t)p * WORDS + w);

		if (w == (p * 7) % WORDS) /* one byte differs from the shared pattern */
			v ^= (seed & 0xff) + 1;
		return v;
	}
	return mix(seed * 0x100000001b3ull + (uint64_t)p * WORDS + w + (uint64_t)phase * BUF_SIZE);
}

static void fill(uint64_t *buf, int phase, unsigned from, unsigned to)
{
	for (unsigned p = from; p < to; p++)
		for (unsigned w = 0; w < WORDS; w++)
			buf[(size_t)p * WORDS + w] = expect(p, w, phase);
}

static int check(const uint64_t *buf, int phase)
{
	for (unsigned p = 0; p < NPAGES; p++)
		for (unsigned w = 0; w < WORDS; w++)
			if (buf[(size_t)p * WORDS + w] != expect(p, w, phase)) {
				printf("dupfill: page %u word %u differs (phase %d)\n", p, w, phase);
				return 1;
			}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned share = argc > 1 ? (unsigned)atoi(argv[1]) : 75;
	unsigned zero = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
	uint8_t *raw;
	uint64_t *buf;

	if (share > 100 || zero > 100 - share) {
		printf("dupfill: SHARE + ZERO must be at most 100\n");
		return 2;
	}
	onebyte = argc > 3 && strcmp(argv[3], "onebyte") == 0;
	seed = mvmm_instance() + 1;
	shared_pages = NPAGES * share / 100;
	zero_from = NPAGES - NPAGES * zero / 100;
	raw = malloc(BUF_SIZE + PAGE);
	if (!raw)
		return 2;
	/* Page-aligned, so that the pattern falls on the same page boundaries everywhere. */
	buf = (uint64_t *)(((uintptr_t)raw + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	fill(buf, 0, 0, NPAGES);
	mvmm_wait();
	if (check(buf, 0))
		return 1;
	fill(buf, 1, 0, shared_pages);
	return check(buf, 1);
}
