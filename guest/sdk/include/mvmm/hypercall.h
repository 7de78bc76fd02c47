/* mvmm/hypercall.h: the guest's hypercall primitive and typed wrappers. */
#ifndef MVMM_HYPERCALL_H
#define MVMM_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>
#include "mvmm_abi.h"

/*
 * One hypercall is one `out` to the call's port with the argument block's
 * address in eax: one exit (~35 us under PVM), so batch work into few calls.
 * The "memory" clobber orders the block's IN stores before the exit and its
 * OUT loads after it. Blocks live on the caller's stack, which is below
 * 4 GiB and 8-byte aligned for these structs.
 */
static inline int64_t mvmm_hypercall(unsigned int nr, void *block)
{
	__asm__ volatile("outl %%eax, %%dx"
			 :
			 : "a"((uint32_t)(uintptr_t)block), "d"((uint16_t)(MVMM_HC_PORT_BASE + nr))
			 : "memory");
	return *(volatile int64_t *)block;
}

/* Writes len bytes to the VMM's fd 1 or 2; returns bytes written or -MVMM_E*. */
static inline int64_t mvmm_write(int fd, const void *buf, size_t len)
{
	struct mvmm_hc_write a = {
		.fd = (uint32_t)fd, .buf = (mvmm_gpa_t)(uintptr_t)buf, .len = len
	};

	return mvmm_hypercall(MVMM_HC_WRITE, &a);
}

/* Reads up to len bytes from the VMM's fd 0; 0 is end of file. */
static inline int64_t mvmm_read(int fd, void *buf, size_t len)
{
	struct mvmm_hc_read a = {
		.fd = (uint32_t)fd, .buf = (mvmm_gpa_t)(uintptr_t)buf, .len = len
	};

	return mvmm_hypercall(MVMM_HC_READ, &a);
}

/* Ends the guest; the VMM keeps status & 0xff. Does not flush stdio (exit() does). */
__attribute__((noreturn)) static inline void mvmm_exit(int status)
{
	struct mvmm_hc_exit a = { .status = status };

	mvmm_hypercall(MVMM_HC_EXIT, &a);
	__builtin_trap(); /* a VMM that returns gets a visible #UD, not a silent spin */
}

/* The host's CLOCK_MONOTONIC in nanoseconds (one exit per call). */
static inline uint64_t mvmm_clock_ns(void)
{
	struct mvmm_hc_clock a = { 0 };

	mvmm_hypercall(MVMM_HC_CLOCK, &a);
	return a.ns;
}

/*
 * The boot info. The ABI fixes its address, so this costs no exit; use
 * mvmm_bootinfo_query() to ask the VMM (and learn the bytes in use).
 */
static inline const struct mvmm_bootinfo *mvmm_bootinfo(void)
{
	return (const struct mvmm_bootinfo *)(uintptr_t)MVMM_BOOTINFO_GPA;
}

static inline const struct mvmm_bootinfo *mvmm_bootinfo_query(size_t *size)
{
	struct mvmm_hc_bootinfo a = { 0 };

	if (mvmm_hypercall(MVMM_HC_BOOTINFO, &a) < 0)
		return NULL;
	if (size)
		*size = a.size;
	return (const struct mvmm_bootinfo *)(uintptr_t)a.bootinfo;
}

/* Gives up with a message that the VMM reports; does not return. */
__attribute__((noreturn)) static inline void mvmm_abort_len(const char *msg, size_t len)
{
	struct mvmm_hc_abort a = { .msg = (mvmm_gpa_t)(uintptr_t)msg, .len = len };

	mvmm_hypercall(MVMM_HC_ABORT, &a);
	__builtin_trap();
}

__attribute__((noreturn)) static inline void mvmm_abort(const char *msg)
{
	size_t n = 0;

	while (msg[n])
		n++;
	mvmm_abort_len(msg, n);
}

/* Blocks until the host releases this guest (mvmm run --hold); at once otherwise. */
static inline int64_t mvmm_wait(void)
{
	struct mvmm_hc_wait a = { 0 };

	return mvmm_hypercall(MVMM_HC_WAIT, &a);
}

/* Fills buf with fresh host randomness; returns bytes written (<= MVMM_RANDOM_MAX). */
static inline int64_t mvmm_random(void *buf, size_t len)
{
	struct mvmm_hc_random a = { .buf = (mvmm_gpa_t)(uintptr_t)buf, .len = len };

	return mvmm_hypercall(MVMM_HC_RANDOM, &a);
}

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

/* Marks a later state (snapshot diffs); returns its number, 0 if none is taken. */
static inline int64_t mvmm_checkpoint(void)
{
	struct mvmm_hc_checkpoint a = { 0 };

	return mvmm_hypercall(MVMM_HC_CHECKPOINT, &a);
}

/* Opens a host file the VMM exposed (--expose PATH); a handle >= 0, or -MVMM_E*. */
static inline int64_t mvmm_open(const char *path, size_t len)
{
	struct mvmm_hc_open a = { .path = (mvmm_gpa_t)(uintptr_t)path, .path_len = len };

	return mvmm_hypercall(MVMM_HC_OPEN, &a);
}

/* Reads up to len bytes at offset; 0 at end of file. */
static inline int64_t mvmm_pread(int64_t handle, void *buf, size_t len, uint64_t offset)
{
	struct mvmm_hc_pread a = {
		.handle = handle, .buf = (mvmm_gpa_t)(uintptr_t)buf, .len = len, .offset = offset
	};

	return mvmm_hypercall(MVMM_HC_PREAD, &a);
}

static inline int64_t mvmm_close(int64_t handle)
{
	struct mvmm_hc_close a = { .handle = handle };

	return mvmm_hypercall(MVMM_HC_CLOSE, &a);
}

/*
 * Initialization is done. Returns 0 in a plain run (or the template's own
 * continuation) and the clone number (>= 1) in each clone made from this
 * point, after reseeding rand() from host randomness (in libc).
 */
int mvmm_ready(void);

#endif /* MVMM_HYPERCALL_H */
