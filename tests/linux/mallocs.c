/* mallocs.c: many allocations and frees of varied sizes (some > 128 KiB, so mmap, munmap and
 * mremap are used), realloc growth, contents verified; prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t pick_size(void)
{
	uint64_t r = next() % 100;

	if (r < 60)
		return 1 + next() % 256;
	if (r < 85)
		return 256 + next() % 8192;
	if (r < 95)
		return 8192 + next() % 120000;
	return 131072 + next() % (1 << 20); /* above the mmap threshold */
}

struct slot {
	unsigned char *p;
	size_t len;
	unsigned char tag;
};

/* Every byte of a small block, a sample of a big one (the last byte always). */
static int check(const struct slot *s)
{
	size_t step = s->len > 4096 ? 61 : 1;

	if (s->len && s->p[s->len - 1] != (unsigned char)(s->tag + s->len - 1))
		return 0;
	for (size_t i = 0; i < s->len; i += step)
		if (s->p[i] != (unsigned char)(s->tag + i))
			return 0;
	return 1;
}

static void fill(struct slot *s)
{
	for (size_t i = 0; i < s->len; i++)
		s->p[i] = (unsigned char)(s->tag + i);
}

int main(void)
{
	static struct slot slots[SLOTS];
	uint64_t sum = 0;
	unsigned long bad = 0, allocs = 0, reallocs = 0, frees = 0;

	for (int round = 0; round < 20000; round++) {
		struct slot *s = &slots[next() % SLOTS];
		uint64_t op = next() % 10;

		if (s->p && !check(s))
			bad++;
		if (!s->p) {
			s->len = pick_size();
			s->tag = (unsigned char)next();
			s->p = malloc(s->len);
			if (!s->p) {
				printf("malloc(%zu) failed\n", s->len);
				return 1;
			}
			fill(s);
			allocs++;
		} else if (op < 4) {
			/* grow (or shrink) and keep the common prefix */
			size_t old = s->len;
			size_t nl =
				op < 3 && old < (1u << 20) ? old * 2 + next() % 4096 : old / 2 + 1;
			unsigned char *q = realloc(s->p, nl);

			if (!q) {
				printf("realloc(%zu) failed\n", nl);
				return 1;
			}
			s->p = q;
			s->len = nl < old ? nl : old;
			if (!check(s))
				bad++;
			s->len = nl;
			fill(s);
			reallocs++;
		} else {
			for (size_t i = 0; i < s->len; i += 97)
				sum = sum * 31 + s->p[i];
			free(s->p);
			s->p = NULL;
			frees++;
		}
	}
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].p && !check(&slots[i]))
			bad++;
		free(slots[i].p);
	}
	/* calloc must hand out zeroes, big and small */
	for (size_t sz = 1; sz <= (4u << 20); sz *= 4) {
		unsigned char *z = calloc(1, sz);

		for (size_t i = 0; z && i < sz; i++)
			if (z[i])
				bad++;
		if (!z)
			bad++;
		memset(z, 0xaa, sz);
		free(z);
	}
	/* one realloc chain growing a big block by steps (mremap under both libcs) */
	{
		size_t len = 200000;
		unsigned char *p = malloc(len);

		for (size_t i = 0; i < len; i++)
			p[i] = (unsigned char)(i * 7);
		for (int k = 0; k < 6; k++) {
			p = realloc(p, len * 2);
			if (!p)
				return 1;
			for (size_t i = 0; i < len; i++)
				if (p[i] != (unsigned char)(i * 7))
					bad++;
			for (size_t i = len; i < len * 2; i++)
				p[i] = (unsigned char)(i * 7);
			len *= 2;
		}
		for (size_t i = 0; i < len; i += 4099)
			sum = sum * 131 + p[i];
		free(p);
	}
	printf("allocs=%lu reallocs=%lu frees=%lu bad=%lu checksum=%016llx\n", allocs, reallocs,
	       frees, bad, (unsigned long long)sum);
	return bad ? 1 : 0;
}
