/*
 * tplread.c: a Linux program made to be a template (--ready-on=stdin). It initialises (fills
 * a 1 MiB malloc'd table, makes a pipe it keeps open, so that each clone has host descriptors
 * of its own, prints "init random: HEX" on stderr once, HEX its 16 AT_RANDOM bytes), then reads
 * stdin line by line and prints "got: LINE" for each; at end of file it prints the table's check
 * ("table: 0cd00000"), "random: HEX" again (the bytes as they are now) and the address of a block
 * malloc'd after the reads. Two lines are also commands: "exit N" ends the program there with
 * status N, "sleep N" sleeps N seconds (for timeouts).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#define TABLE_WORDS ((1u << 20) / sizeof(uint32_t))

/* "random: " and the 16 AT_RANDOM bytes in hex, then a newline, on f. */
static void print_random(FILE *f)
{
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);

	fprintf(f, "random: ");
	for (int i = 0; rnd && i < 16; i++)
		fprintf(f, "%02x", rnd[i]);
	fprintf(f, "\n");
}

int main(void)
{
	uint32_t *table = malloc(TABLE_WORDS * sizeof(*table)), sum = 0;
	char line[4096];
	void *block;
	int keep[2];

	if (!table || pipe(keep) != 0)
		return 2;
	for (uint32_t i = 0; i < TABLE_WORDS; i++)
		table[i] = i * 2654435761u;
	fprintf(stderr, "init ");
	print_random(stderr);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		printf("got: %s\n", line);
		fflush(stdout);
		if (!strncmp(line, "exit ", 5))
			return atoi(line + 5);
		if (!strncmp(line, "sleep ", 6)) {
			struct timespec ts = {atoi(line + 6), 0};

			nanosleep(&ts, NULL);
		}
	}
	for (uint32_t i = 0; i < TABLE_WORDS; i++)
		sum += table[i] ^ i;
	printf("table: %08x\n", sum);
	print_random(stdout);
	block = malloc(100);
	printf("block: %p\n", block);
	free(block);
	free(table);
	return 0;
}
