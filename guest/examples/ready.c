/* ready.c: builds a 4 MiB table slowly, calls ready, then prints the entry its request names. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRIES (1u << 20) /* 4 MiB of uint32_t */
#define ROUNDS	24

static uint32_t table[ENTRIES];

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Deliberately slow (tens of milliseconds): the work a template does once
 * so that no clone has to. Each entry is a chain of xorshift steps.
 */
static void build_table(void)
{
	uint32_t x = 2463534242u;
	unsigned i, r;

	for (i = 0; i < ENTRIES; i++) {
		for (r = 0; r < ROUNDS; r++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
		}
		table[i] = x;
	}
}

/* The clone's request names the entry; without one, the clone number does. */
static unsigned long chosen_entry(int clone)
{
	char req[256];
	uint64_t argc = 0;
	int64_t n = mvmm_request(req, sizeof(req) - 1, &argc);

	if (n > 0 && argc > 0) {
		req[n < (int64_t)sizeof(req) - 1 ? n : (int64_t)sizeof(req) - 1] = '\0';
		return strtoul(req, NULL, 0) % ENTRIES;
	}
	return (unsigned long)clone % ENTRIES;
}

int main(void)
{
	uint64_t t0 = now_ns(), t1;
	unsigned long e;
	int clone;

	build_table();
	t1 = now_ns();
	clone = mvmm_ready();
	e = chosen_entry(clone);
	printf("clone %d: table[%lu] = %u (table built in %.1f ms before ready)\n", clone, e,
	       table[e], (double)(t1 - t0) / 1e6);
	return 0;
}
