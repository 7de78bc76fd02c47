/* log.c: leveled one-line messages, "mvmm: LEVEL: text", to stderr or the embedder's sink. */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define VLOG_LINE_MAX 1024

static int vlog_level = VLOG_WARN; /* atomic */
static vlog_sink_fn vlog_sink;
static void *vlog_ctx;

static vlog_before_output_fn vlog_before; /* atomic */
static uint64_t vlog_tty_fds;		   /* atomic */

static const char *const vlog_names[] = {"error", "warn", "info", "debug"};

void vlog_set_level(int level)
{
	if (level < VLOG_ERROR)
		level = VLOG_ERROR;
	if (level > VLOG_DEBUG)
		level = VLOG_DEBUG;
	__atomic_store_n(&vlog_level, level, __ATOMIC_RELAXED);
}

int vlog_get_level(void)
{
	return __atomic_load_n(&vlog_level, __ATOMIC_RELAXED);
}

int vlog_on(int level)
{
	return level <= vlog_get_level();
}

void vlog_set_sink(vlog_sink_fn fn, void *ctx)
{
	vlog_sink = fn;
	vlog_ctx = ctx;
}

void vlog_set_before_output(vlog_before_output_fn fn, uint64_t tty_fds)
{
	__atomic_store_n(&vlog_tty_fds, tty_fds, __ATOMIC_RELAXED);
	__atomic_store_n(&vlog_before, fn, __ATOMIC_RELEASE);
}

void vlog_before_output(int fd)
{
	vlog_before_output_fn fn;

	if (fd < 0 || fd > 63 || !(__atomic_load_n(&vlog_tty_fds, __ATOMIC_RELAXED) >> fd & 1))
		return;
	fn = __atomic_load_n(&vlog_before, __ATOMIC_ACQUIRE);
	if (fn)
		fn(fd);
}

int vlog_level_parse(const char *name)
{
	int i;

	if (!name)
		return -1;
	if (strcasecmp(name, "warning") == 0)
		return VLOG_WARN;
	for (i = 0; i <= VLOG_DEBUG; i++)
		if (strcasecmp(name, vlog_names[i]) == 0)
			return i;
	return -1;
}

const char *vlog_level_name(int level)
{
	return level >= VLOG_ERROR && level <= VLOG_DEBUG ? vlog_names[level] : "?";
}

/* One write, so lines from threads and worker processes do not interleave. */
static void vlog_stderr(const char *line, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(STDERR_FILENO, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		done += (size_t)n;
	}
}

void vlogv(int level, const char *fmt, va_list ap)
{
	char line[VLOG_LINE_MAX + 2];
	int saved = errno, n, m;

	if (!vlog_on(level))
		return;
	n = snprintf(line, VLOG_LINE_MAX, "mvmm: %s: ", vlog_level_name(level));
	m = vsnprintf(line + n, VLOG_LINE_MAX - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > VLOG_LINE_MAX - 1)
		n = VLOG_LINE_MAX - 1; /* cut: one line, whatever the message */
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n] = '\0';
	if (vlog_sink) {
		vlog_sink(vlog_ctx, level, line);
	} else {
		line[n] = '\n';
		vlog_stderr(line, (size_t)n + 1);
	}
	errno = saved;
}

void vlog(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlogv(level, fmt, ap);
	va_end(ap);
}
