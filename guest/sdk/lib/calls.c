/*
 * calls.c: the hypercall wrappers with work to do around the call. A
 * guest's stdio buffers live in its memory: output still buffered when a
 * template freezes at ready, or when a checkpoint is taken, would be
 * written again by every clone or restored VM, and output buffered before
 * a hold would wait with it. So each of these flushes stdio first.
 */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

/*
 * A clone resumes with the template's memory, rand()'s state included: a
 * seed drawn before ready would give every clone the same sequence. Each
 * clone (ret >= 1) reseeds from host randomness.
 */
int mvmm_ready(void)
{
	struct mvmm_hc_ready a = { 0 };
	unsigned int seed;
	int64_t n;

	fflush(NULL);
	n = mvmm_hypercall(MVMM_HC_READY, &a);
	if (n > 0 && getrandom(&seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		srand(seed);
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
