/* internal.h: declarations shared between the SDK's libc files and crt0. */
#ifndef _MVMM_LIBC_INTERNAL_H
#define _MVMM_LIBC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "mvmm_abi.h"

/* A formatted-output destination: a fixed buffer plus an optional drain. */
struct fmt_sink {
	char *buf;
	size_t len, cap;
	size_t total;			  /* bytes produced, kept or not */
	void (*drain)(struct fmt_sink *); /* empties buf when full; NULL: truncate */
	void *ctx;
};

int __mvmm_vformat(struct fmt_sink *s, const char *fmt, va_list ap);

void __mvmm_libc_init(const struct mvmm_bootinfo *bi);
void __mvmm_malloc_init(uintptr_t start, uintptr_t end);
void __mvmm_stdio_flush_all(void);

extern uint64_t __mvmm_start_ns;

#endif /* _MVMM_LIBC_INTERNAL_H */
