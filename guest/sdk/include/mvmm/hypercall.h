/*
 * mvmm/hypercall.h: what a guest asks of mvmm that Linux has no system call
 * for. Everything else (output, input, files, clocks, randomness, exit,
 * abort) is plain libc over the system calls the VMM answers.
 */
#ifndef MVMM_HYPERCALL_H
#define MVMM_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>

#include "mvmm_abi.h"

/*
 * One hypercall is one `out` to the call's port with the argument block's
 * address in eax: one exit, like a system call. The "memory" clobber orders
 * the block's IN stores before the exit and its OUT loads after it. Blocks
 * live on the caller's stack or in its data, which lie below 4 GiB, 8-byte
 * aligned for these structs.
 */
static inline int64_t mvmm_hypercall(unsigned int nr, void *block)
{
	__asm__ volatile("outl %%eax, %%dx"
			 :
			 : "a"((uint32_t)(uintptr_t)block), "d"((uint16_t)(MVMM_HC_PORT_BASE + nr))
			 : "memory");
	return *(volatile int64_t *)block;
}

/*
 * Initialization is done. Returns 0 in a plain run (or the template's own
 * continuation) and the clone number (>= 1) in each clone made from this
 * point, after reseeding rand() from its fresh AT_RANDOM bytes: clones share
 * the template's memory, so without it every clone would draw the same
 * numbers. Flushes stdio first (fflush(NULL)), as mvmm_wait and
 * mvmm_checkpoint do: output buffered in the frozen memory would come out
 * again in each clone. Also settles stdout's buffering before the freeze
 * (full when stdout is not a terminal, as musl would choose), so that clones
 * do not each ask.
 */
int mvmm_ready(void);

/* Blocks until the host releases this guest (mvmm run --hold); at once otherwise. */
int64_t mvmm_wait(void);

/* Marks a later state (snapshot diffs); returns its number, 0 if none is taken. */
int64_t mvmm_checkpoint(void);

/*
 * This guest's request: *argc strings, NUL-terminated, back to back in buf.
 * Returns the request's full size (copy truncated to len), or < 0.
 */
static inline int64_t mvmm_request(void *buf, size_t len, uint64_t *argc)
{
	struct mvmm_hc_request a = { .buf = (mvmm_gpa_t)(uintptr_t)buf, .len = len };
	int64_t r = mvmm_hypercall(MVMM_HC_REQUEST, &a);

	if (argc)
		*argc = a.argc;
	return r;
}

/* This instance's number in its run (mvmm run --count N: 0..N-1), from the auxiliary vector. */
static inline uint64_t mvmm_instance(void)
{
	return getauxval(MVMM_AT_INSTANCE);
}

#endif /* MVMM_HYPERCALL_H */
