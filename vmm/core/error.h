/* error.h: per-thread error messages for libmvmm (no printing inside the library). */
#ifndef MVMM_ERROR_H
#define MVMM_ERROR_H

#include <stddef.h>

/*
 * Library functions return 0 (or a valid object) on success and -1 (or
 * NULL) on failure, after recording one human-readable line that names the
 * cause. The line belongs to the calling thread and stays valid until that
 * thread's next failing call.
 */
const char *mvmm_errmsg(void);

/* Records a message (printf-style); returns -1 so callers can `return err_set(...)`. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like err_set, with ": strerror(errno)" appended; errno is preserved. */
int err_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes the current message with more context ("loading x.elf: ..."). */
int err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
