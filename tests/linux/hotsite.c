/*
 * hotsite.c: one `syscall` instruction at a known address (hot_site) made N
 * times (argv[1], getppid), then its two bytes and what the calls returned.
 * Natively the bytes stay 0f 05; under mvmm a site that trapped often enough
 * is rewritten into `out %al,$0xf5` (e6 f5) and must answer the same. With
 * "signal", a SIGUSR1 handler (raised through the hot site) must run each time.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const unsigned char hot_site[];
static volatile int handled;

/* One system call through the single site; noinline so that there is one copy of the label. */
__attribute__((noinline)) static long hot(long nr, long a, long b)
{
	long r;

	__asm__ volatile(".globl hot_site\nhot_site: syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return r;
}

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 40, bad = 0;
	int sig = argc > 2 && !strcmp(argv[2], "signal");
	long me = getpid(), ppid = getppid();

	if (sig)
		signal(SIGUSR1, on_usr1);
	for (long i = 0; i < n; i++) {
		if (sig)
			bad += hot(SYS_kill, me, SIGUSR1) != 0;
		else
			bad += hot(SYS_getppid, 0, 0) != ppid;
	}
	printf("bad %ld handled %d\n", bad, handled);
	printf("site %02x %02x\n", hot_site[0], hot_site[1]);
	return 0;
}
