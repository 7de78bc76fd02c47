/*
 * gdbme.c: the guest tests/cli/test_gdb.c debugs (built with -g as gdbme-debug).
 * main calls ping (in a page of its own), then marker, then ping again, so
 * that a breakpoint set at marker on ping checks a page that already ran.
 * Arguments: "crash" writes through NULL after that; "spin" loops until gdb
 * sets gdb_stop; "loop" calls ping 40 more times, 50 ms apart (another
 * instance's breakpoint on it must not reach this one). Exits 42.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

volatile unsigned char gdb_bytes[4] = {0xde, 0xad, 0xbe, 0xef};
volatile int counter;
volatile int gdb_stop;

__attribute__((noinline, aligned(4096))) int ping(int i)
{
	counter += i;
	return counter;
}

__attribute__((noinline, aligned(4096))) void marker(void)
{
	counter++;
}

/* getpid through a `syscall` at a known address: a stepi over it stops at gdb_after_syscall. */
__attribute__((noinline)) static long raw_getpid(void)
{
	long ret;

	__asm__ volatile(".globl gdb_syscall\ngdb_syscall:\n\tsyscall\n"
			 ".globl gdb_after_syscall\ngdb_after_syscall:"
			 : "=a"(ret)
			 : "a"(39L)
			 : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	volatile int *volatile nowhere = NULL;

	if (raw_getpid() <= 0)
		return 1;
	ping(1);
	marker();
	ping(2);
	if (argc > 1 && !strcmp(argv[1], "crash"))
		*nowhere = 7;
	if (argc > 1 && !strcmp(argv[1], "spin"))
		while (!gdb_stop)
			counter++;
	if (argc > 1 && !strcmp(argv[1], "loop")) {
		struct timespec pause = {0, 50000000};

		for (int n = 0; n < 40; n++) {
			ping(0);
			nanosleep(&pause, NULL);
		}
	}
	printf("counter %d\n", counter);
	return 42;
}
