/* served.c: a template for the server tests: ready, then do what the clone's request says. */
#include <mvmm/hypercall.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Requests (first string, then its arguments):
 *   (none)        print "clone <n>"
 *   echo A B...   print "clone <n>: A B..." on stdout and "err <n>" on stderr
 *   exit S        exit with status S
 *   spin          print "spinning <n>" and loop forever
 *   fault         write through a bad pointer
 *   abort         abort()
 *   big N         write N bytes of 'x' to stdout, then "\nend <n>\n"
 */
static char req[1 << 16];

static void big(unsigned long n, int clone)
{
	static char chunk[4096];

	memset(chunk, 'x', sizeof(chunk));
	while (n > 0) {
		unsigned long k = n < sizeof(chunk) ? n : sizeof(chunk);

		fwrite(chunk, 1, k, stdout);
		n -= k;
	}
	printf("\nend %d\n", clone);
}

int main(void)
{
	int clone = mvmm_ready();
	uint64_t argc = 0;
	int64_t n = mvmm_request(req, sizeof(req) - 1, &argc);
	const char *cmd = req, *arg = cmd + strlen(cmd) + 1;

	if (n <= 0 || argc == 0) {
		printf("clone %d\n", clone);
		return 0;
	}
	if (strcmp(cmd, "echo") == 0) {
		printf("clone %d:", clone);
		for (uint64_t i = 1; i < argc; i++, arg += strlen(arg) + 1)
			printf(" %s", arg);
		printf("\n");
		fprintf(stderr, "err %d\n", clone);
	} else if (strcmp(cmd, "exit") == 0 && argc > 1) {
		return atoi(arg);
	} else if (strcmp(cmd, "spin") == 0) {
		printf("spinning %d\n", clone);
		fflush(stdout);
		for (;;)
			__asm__ volatile("pause");
	} else if (strcmp(cmd, "fault") == 0) {
		uintptr_t addr = 0x10;

		__asm__ volatile("" : "+r"(addr));
		*(volatile uint32_t *)addr = 1;
	} else if (strcmp(cmd, "abort") == 0) {
		abort();
	} else if (strcmp(cmd, "big") == 0 && argc > 1) {
		big(strtoul(arg, NULL, 0), clone);
	} else {
		printf("clone %d: unknown request %s\n", clone, cmd);
		return 2;
	}
	return 0;
}
