/*
 * tplshare.c: a template whose frozen memory holds a 16 MiB table written before ready. Each
 * clone reads its request ("touch": read every page of the table first), waits (mvmm run
 * --hold counts it there), then prints "clone <n>: <request> sum <s>" and exits 0 (2: the
 * table is not as the template left it).
 */
#include <mvmm/hypercall.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TABLE_PAGES 4096

static unsigned char table[TABLE_PAGES * 4096] __attribute__((aligned(4096)));
static char req[4096];

int main(void)
{
	unsigned long sum = 0, want = 0;
	uint64_t argc = 0;
	int64_t n;
	unsigned i;
	int clone;

	for (i = 0; i < TABLE_PAGES; i++) {
		table[i * 4096u] = (unsigned char)(i | 1); /* non-zero: the page is captured */
		want += (unsigned char)(i | 1);
	}
	clone = mvmm_ready();
	n = mvmm_request(req, sizeof(req) - 1, &argc);
	if (n <= 0 || argc == 0)
		req[0] = '\0';
	if (strcmp(req, "touch") == 0) {
		for (i = 0; i < TABLE_PAGES; i++)
			sum += table[i * 4096u];
		if (sum != want)
			return 2;
	}
	mvmm_wait();
	printf("clone %d: %s sum %lu\n", clone, req, sum);
	return 0;
}
