/*
 * calls.c: the hypercall wrappers with work to do around the call. A
 * guest's stdio buffers live in its memory: output still buffered when a
 * template freezes at ready, or when a checkpoint is taken, would be
 * written again by every clone or restored VM, and output buffered before
 * a hold would wait with it. So each of these flushes stdio first.
 */
#define _GNU_SOURCE
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>

/*
 * musl chooses stdout's buffering at its first write by asking whether it
 * is a terminal: one more exit in every clone that prints. Asked once here
 * instead, before the template freezes: a clone's stdout is a terminal only
 * when its template's was (the API and serve give clones buffers and
 * frames, `mvmm run --count` captures it), so a template whose stdout is
 * not one fixes full buffering, as musl would have, for all its clones.
 */
static void stdout_mode_once(void)
{
	struct winsize ws;

	if (ioctl(1, TIOCGWINSZ, &ws) != 0)
		setvbuf(stdout, NULL, _IOFBF, 0);
}

/*
 * Weak: a program that never calls rand() or srand() does not link musl's
 * rand.o, and then has no state to reseed (and its clones touch no page for it).
 */
extern void srand(unsigned int seed) __attribute__((weak));

int mvmm_ready(void)
{
	const unsigned char *rnd = srand ? (const unsigned char *)getauxval(AT_RANDOM) : NULL;
	struct mvmm_hc_ready a = { 0 };
	unsigned int seed;
	int64_t n;

	fflush(NULL);
	stdout_mode_once();
	n = mvmm_hypercall(MVMM_HC_READY, &a);
	/*
	 * A clone resumes with the template's memory, rand()'s state included:
	 * a seed drawn before ready would give every clone the same sequence.
	 * Each clone (n >= 1) reseeds from its AT_RANDOM bytes, which the VMM
	 * makes afresh for every clone (no exit, unlike getrandom).
	 */
	if (n > 0 && rnd) {
		memcpy(&seed, rnd, sizeof(seed));
		srand(seed);
	}
	return (int)n;
}

int64_t mvmm_wait(void)
{
	struct mvmm_hc_wait a = { 0 };

	fflush(NULL);
	return mvmm_hypercall(MVMM_HC_WAIT, &a);
}

int64_t mvmm_checkpoint(void)
{
	struct mvmm_hc_checkpoint a = { 0 };

	fflush(NULL);
	return mvmm_hypercall(MVMM_HC_CHECKPOINT, &a);
}
