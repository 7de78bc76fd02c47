/* cases.c: a guest holding many test cases; each clone runs the one its request names. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE 4096

/* State the template builds before ready: every clone must find it exactly so. */
static unsigned table[TABLE];
static unsigned long table_sum;
static int runs; /* cases run in this memory: 0 in every fresh clone */

static void build(void)
{
	unsigned i;

	for (i = 0; i < TABLE; i++) {
		table[i] = i * 2654435761u;
		table_sum += table[i];
	}
}

/* Whether the template's state is intact (a clone sees no earlier clone's writes). */
static int pristine(void)
{
	unsigned long sum = 0;
	unsigned i;

	for (i = 0; i < TABLE; i++)
		sum += table[i];
	return sum == table_sum && runs == 0;
}

static int case_add(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	printf("%ld\n", strtol(argv[1], NULL, 10) + strtol(argv[2], NULL, 10));
	return 0;
}

/* Reads stdin, writes it upper-cased on stdout and its length on stderr. */
static int case_strings(void)
{
	char line[256];
	size_t total = 0;

	while (fgets(line, sizeof(line), stdin)) {
		char *p;

		for (p = line; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		fputs(line, stdout);
		total += strlen(line);
	}
	fprintf(stderr, "%zu bytes\n", total);
	return 0;
}

/* Kept where the compiler must assume it is read: else it drops the malloc and the memset. */
static char *volatile heap_block;

/* Wrecks the state and the heap; exits 0 only if it found them intact first. */
static int case_corrupt(void)
{
	int ok = pristine();
	char *p = malloc(1 << 20);

	memset(table, 0xa5, sizeof(table));
	table_sum = 0;
	if (p)
		memset(p, 0x5a, 1 << 20);
	heap_block = p;
	return ok ? 0 : 3;
}

static volatile unsigned long bad_address = 0x10;

static int case_fault(void)
{
	memset(table, 0, sizeof(table)); /* corrupt first, then crash */
	*(volatile int *)bad_address = 1;
	return 0;
}

/* Case number n: checks isolation, prints a line, exits with n % 100. */
static int case_numbered(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : -1;

	if (!pristine())
		return 101;
	runs++;
	table[n % TABLE] ^= 1u; /* every case writes: a page of its own */
	printf("case %ld\n", n);
	return (int)(n % 100);
}

int main(void)
{
	static char req[4096];
	char *argv[16];
	uint64_t argc = 0, i;
	int64_t len;
	char *p;

	build();
	mvmm_ready();
	len = mvmm_request(req, sizeof(req) - 1, &argc);
	if (len < 0 || len >= (int64_t)sizeof(req) || argc == 0 || argc > 15) {
		puts("no case");
		return 2;
	}
	for (i = 0, p = req; i < argc; i++, p += strlen(p) + 1)
		argv[i] = p;
	argv[argc] = NULL;

	if (!strcmp(argv[0], "add"))
		return case_add((int)argc, argv);
	if (!strcmp(argv[0], "strings"))
		return case_strings();
	if (!strcmp(argv[0], "corrupt-memory"))
		return case_corrupt();
	if (!strcmp(argv[0], "check"))
		return pristine() ? 0 : 1;
	if (!strcmp(argv[0], "fault"))
		return case_fault();
	if (!strcmp(argv[0], "abort"))
		abort();
	if (!strcmp(argv[0], "spin"))
		for (;;)
			__asm__ volatile("" ::: "memory");
	if (!strcmp(argv[0], "case"))
		return case_numbered((int)argc, argv);
	printf("unknown case %s\n", argv[0]);
	return 2;
}
