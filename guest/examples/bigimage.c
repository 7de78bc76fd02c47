/* bigimage.c: a 32 MiB preinitialized image and 50 ms of initialization before ready (cache benchmark). */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_SIZE (32u << 20)
#define INIT_NS	   50000000ull

/* Built by the assembler, as in density.c: 8,192 image pages of 0x5a. */
__asm__(".section .rodata\n"
	".balign 4096\n"
	".globl big_table\n"
	"big_table:\n"
	".fill 33554432, 1, 0x5a\n"
	".previous\n");
extern const unsigned char big_table[TABLE_SIZE];

static unsigned state[1024];

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The initialization a template does once: 50 ms of work on a small table. */
static void init(void)
{
	uint64_t t0 = now_ns();
	unsigned x = 2463534242u, i = 0;

	while (now_ns() - t0 < INIT_NS) {
		int r;

		for (r = 0; r < 4096; r++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			state[i++ % 1024] = x;
		}
	}
}

static unsigned long table_sum(void)
{
	const volatile unsigned char *t = big_table;
	unsigned long sum = 0;
	unsigned i;

	for (i = 0; i < TABLE_SIZE; i += 4096)
		sum += t[i];
	return sum;
}

/*
 * Request (or argv[1..]) "hold": read every table page, wait at the hold
 * point, then block reading stdin until end of file (the benchmark keeps
 * many of these alive at once). Otherwise: one line and exit.
 */
int main(void)
{
	char req[64] = "";
	uint64_t argc = 0;
	unsigned long sum;
	int64_t n;

	init();
	mvmm_ready();
	n = mvmm_request(req, sizeof(req) - 1, &argc);
	if (n > 0)
		req[n] = '\0';
	if (argc > 0 && strcmp(req, "hold") == 0) {
		sum = table_sum();
		mvmm_wait();
		while (getchar() != EOF)
			;
	} else {
		sum = big_table[0] + big_table[TABLE_SIZE - 1];
	}
	printf("bigimage: sum %lu state %u\n", sum, state[7]);
	return 0;
}
