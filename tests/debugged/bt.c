/*
 * bt.c: faults three calls deep, built with -g, for the backtrace and core
 * file tests (tests/cli/test_core.c). Each line the tests look for carries
 * a marker comment: they find the line number from this file, not from a
 * copy of it.
 *
 *   bt deep      main -> level1 -> level2 -> level3 writes through NULL
 *   bt recurse   a recursion without end: the stack overflows
 *   bt nullfn    a call through a null function pointer
 *   bt wild      a call to an address where nothing is mapped
 *   bt abort     abort()
 *   bt raise     raise(SIGSEGV): killed by a signal that dumps core
 *   bt inst1     as deep in instance 1 of a --count run, exits 0 in the others
 *   bt ok        exits 0
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#define MVMM_AT_INSTANCE 0x6d766d00ul /* shared/mvmm_abi.h: the instance number */

static volatile int *volatile nowhere;
static void (*volatile no_function)(void);

__attribute__((noinline)) static int level3(int x)
{
	*nowhere = x; /* BT_LEVEL3 */
	return x + 1;
}

__attribute__((noinline)) static int level2(int x)
{
	return level3(x * 2) + 1; /* BT_LEVEL2 */
}

__attribute__((noinline)) static int level1(int x)
{
	return level2(x + 3) + 1; /* BT_LEVEL1 */
}

static volatile int forever = 1;

__attribute__((noinline)) static int recurse(int depth)
{
	volatile char pad[256];

	pad[depth & 255] = (char)depth;
	if (!forever)
		return 0;
	return recurse(depth + 1) + pad[(depth + 1) & 255]; /* BT_RECURSE */
}

__attribute__((noinline)) static void call_null(void)
{
	no_function(); /* BT_NULLFN */
	printf("not reached\n");
}

__attribute__((noinline)) static void call_wild(void)
{
	void (*volatile wild)(void) = (void (*)(void))0x7f0000000000ull;

	wild(); /* BT_WILD */
	printf("not reached\n");
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "deep";

	printf("bt %s\n", what);
	fflush(stdout);
	if (!strcmp(what, "inst1"))
		what = getauxval(MVMM_AT_INSTANCE) == 1 ? "deep" : "ok";
	if (!strcmp(what, "deep"))
		return level1(argc); /* BT_MAIN */
	if (!strcmp(what, "recurse"))
		return recurse(0);
	if (!strcmp(what, "nullfn"))
		call_null();
	if (!strcmp(what, "wild"))
		call_wild();
	if (!strcmp(what, "abort"))
		abort();
	if (!strcmp(what, "raise"))
		raise(SIGSEGV);
	return 0;
}
