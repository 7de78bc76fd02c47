/* stages.c: builds a 2 MiB table, calls ready, then changes known pages in three checkpointed stages. */
#include <mvmm/hypercall.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE	     4096
#define TABLE_BYTES  (2u << 20)
#define STAGE_PAGES  16
#define STAGES	     3

static uint32_t table[TABLE_BYTES / 4];
/* Stage s writes the 16 pages of area[s-1]; stage 2 also zeroes area[0][3]. */
static uint8_t area[STAGES][STAGE_PAGES][PAGE] __attribute__((aligned(PAGE)));

static void build_table(void)
{
	uint32_t x = 88172645u;
	size_t i;

	for (i = 0; i < TABLE_BYTES / 4; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		table[i] = x;
	}
}

static uint32_t checksum(void)
{
	const uint8_t *p = &area[0][0][0];
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(area); i++)
		h = (h ^ p[i]) * 16777619u;
	for (i = 0; i < TABLE_BYTES / 4; i += 997)
		h = (h ^ table[i]) * 16777619u;
	return h;
}

static void run_stage(int s, const char *seed)
{
	int i;

	for (i = 0; i < STAGE_PAGES; i++)
		memset(area[s - 1][i], (int)(s * 16 + i + (unsigned char)seed[0]), PAGE);
	if (s == 2)
		memset(area[0][3], 0, PAGE);
	table[s * 1000] ^= 0xffffffffu; /* a page the base holds, changed */
}

int main(void)
{
	char req[64] = "x";
	uint64_t argc = 0;
	int64_t n, cp;
	int clone, s;

	build_table();
	clone = mvmm_ready();
	n = mvmm_request(req, sizeof(req) - 1, &argc);
	if (n <= 0 || argc == 0)
		strcpy(req, "x");
	req[sizeof(req) - 1] = '\0';
	printf("ready: clone %d, seed '%s', sum %08x\n", clone, req, checksum());
	for (s = 1; s <= STAGES; s++) {
		run_stage(s, req);
		cp = mvmm_checkpoint();
		/* From here on a VM restored from checkpoint `cp` prints the same as this one. */
		printf("checkpoint %ld: stage %d done, sum %08x\n", (long)cp, s, checksum());
	}
	printf("end: sum %08x\n", checksum());
	return (int)(checksum() & 0x7f);
}
