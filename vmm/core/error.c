/* error.c: the per-thread last-error line behind mvmm_errmsg(). */
#define _GNU_SOURCE
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_MAX 512

static _Thread_local char err_line[ERR_MAX];

const char *mvmm_errmsg(void)
{
	return err_line[0] ? err_line : "no error";
}

int err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_line, sizeof(err_line), fmt, ap);
	va_end(ap);
	return -1;
}

int err_sys(const char *fmt, ...)
{
	int saved = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_line, sizeof(err_line), fmt, ap);
	va_end(ap);
	n = strlen(err_line);
	snprintf(err_line + n, sizeof(err_line) - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int err_prefix(const char *fmt, ...)
{
	char old[ERR_MAX];
	size_t n;
	va_list ap;

	memcpy(old, err_line, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err_line, sizeof(err_line), fmt, ap);
	va_end(ap);
	n = strlen(err_line);
	snprintf(err_line + n, sizeof(err_line) - n, ": %s", old);
	return -1;
}
