/*
 * apishare.c: the guest of test_api_share.c. Boots to mvmm_ready(), then
 * does what its request says:
 *   shm NAME [write]  attaches region NAME, prints "read <the C string at
 *                     offset 0>", and with "write" puts "guest N was here"
 *                     (N: the clone number) at offset 4096
 *   dirty K           fills K pages (K <= 64) with a fixed pattern, the same
 *                     in every clone, and prints "dirtied K"
 */
#include <mvmm/hypercall.h>
#include <mvmm/shm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 64

static uint64_t pages[PAGES][512] __attribute__((aligned(4096)));

static int do_shm(const char *name, int write, int clone)
{
	struct mvmm_shm_handle h;
	uint64_t size = 0;
	int64_t err = 0;
	char *p = mvmm_shm_open(name, NULL, 0, &h, &size, &err);

	if (!p) {
		printf("attach %s: %ld\n", name, (long)err);
		return 2;
	}
	printf("read %.64s size %lu\n", p, (unsigned long)size);
	fflush(stdout);
	if (write)
		snprintf(p + 4096, 64, "guest %d was here", clone);
	return 0;
}

static int do_dirty(unsigned k)
{
	unsigned p, i;

	if (k > PAGES)
		return 2;
	for (p = 0; p < k; p++)
		for (i = 0; i < 512; i++)
			pages[p][i] = 0x5eed000000000000ull | (uint64_t)p << 16 | i;
	printf("dirtied %u\n", k);
	return 0;
}

int main(void)
{
	static char req[4096];
	const char *argv[4] = { "", "", "", "" };
	uint64_t argc = 0, i;
	int clone = mvmm_ready();
	int64_t n = mvmm_request(req, sizeof(req) - 1, &argc);
	const char *s = req;

	if (n < 0 || (uint64_t)n >= sizeof(req))
		return 3;
	for (i = 0; i < argc && i < 4; i++) {
		argv[i] = s;
		s += strlen(s) + 1;
	}
	if (!strcmp(argv[0], "shm") && argc >= 2)
		return do_shm(argv[1], argc >= 3 && !strcmp(argv[2], "write"), clone);
	if (!strcmp(argv[0], "dirty") && argc == 2)
		return do_dirty((unsigned)atoi(argv[1]));
	printf("usage: shm NAME [write] | dirty K\n");
	return 1;
}
