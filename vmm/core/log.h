/*
 * log.h: the library's and the command's messages about what mvmm decided,
 * with levels: one line each, "mvmm: LEVEL: text", through one sink.
 *
 * Errors of a call still go through error.h (returned, not printed); this
 * is for what a user may want to see happen: a cache hit or miss and why,
 * the huge-page backing chosen, the worker processes and their sizes, dedup
 * passes, a template booted. The library itself logs only at info and
 * debug, so at the default level (warn) it prints nothing; the program that
 * embeds it raises the level or sets a sink of its own.
 */
#ifndef MVMM_LOG_H
#define MVMM_LOG_H

#include <stdarg.h>
#include <stdint.h>

/* The same numbers as enum mvmm_log_level in mvmm.h. */
enum vlog_level {
	VLOG_ERROR = 0,
	VLOG_WARN = 1,
	VLOG_INFO = 2,
	VLOG_DEBUG = 3,
};

/* Gets one finished line (with the prefix, no newline) at a level within the current one. */
typedef void (*vlog_sink_fn)(void *ctx, int level, const char *line);

/* The process-wide level (default VLOG_WARN); out-of-range values are clamped. */
void vlog_set_level(int level);
int vlog_get_level(void);
/* Whether a message at level would be written (to skip work that only feeds a message). */
int vlog_on(int level);

/*
 * NULL: the default sink, one write(2) of the line and a newline to stderr.
 * Set it before threads that log start; the sink may be called from any
 * thread and from worker processes forked after it was set.
 */
void vlog_set_sink(vlog_sink_fn fn, void *ctx);

/*
 * Output that bypasses the sink: a program that draws on a terminal (the
 * command's progress line) sets fn and the fds (0 to 63) that are that
 * terminal, found once by the program (isatty is an ioctl the vCPU filter
 * refuses); guest writes to one of them call fn(fd) first, from the vCPU
 * thread, so fn may only make calls that thread's filter allows (futex,
 * write). NULL: nothing is called.
 */
typedef void (*vlog_before_output_fn)(int fd);
void vlog_set_before_output(vlog_before_output_fn fn, uint64_t tty_fds);
/* Called before writing to fd: a bit test, and fn when fd is one of the terminal's. */
void vlog_before_output(int fd);

/* "error", "warn", "info", "debug" (also "warning"); -1 for anything else. */
int vlog_level_parse(const char *name);
const char *vlog_level_name(int level);

void vlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vlogv(int level, const char *fmt, va_list ap);

#define vlog_error(...) vlog(VLOG_ERROR, __VA_ARGS__)
#define vlog_warn(...)	vlog(VLOG_WARN, __VA_ARGS__)
#define vlog_info(...)	vlog(VLOG_INFO, __VA_ARGS__)
#define vlog_debug(...) vlog(VLOG_DEBUG, __VA_ARGS__)

#endif
