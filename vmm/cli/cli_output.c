/* cli_output.c: prefix each guest line with its instance number, or write per-instance files. */
#define _GNU_SOURCE
#include "cli_output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"

int cli_output_init(struct cli_output *o, unsigned first, unsigned count, const char *dir)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->first = first;
	o->count = count;
	if (dir && mkdir(dir, 0777) < 0 && errno != EEXIST)
		return err_sys("--output-dir %s", dir);
	if (!dir) {
		o->lines = calloc((size_t)count * 2, sizeof(*o->lines));
		if (!o->lines)
			return err_set("out of memory");
	}
	pthread_mutex_init(&o->lock, NULL);
	return 0;
}

/* Appends to DIR/N.out or DIR/N.err; opened per write so 10,000 instances need no fds. */
static int64_t output_to_file(struct cli_output *o, uint64_t instance, int stream, const void *buf,
			      uint64_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%lu.%s", o->dir, (unsigned long)instance,
		 stream == 2 ? "err" : "out");
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	fd_write_all(fd, buf, len); /* a failed write is the output's loss, not the guest's */
	close(fd);
	return (int64_t)len;
}

/*
 * One write per line, prefix included: lines from instances in other worker
 * processes must not interleave with it (a pipe write of up to PIPE_BUF
 * bytes is atomic; the mutex only orders this process's threads).
 */
static void emit_line(struct cli_output *o, uint64_t instance, int stream, const char *s,
		      size_t len)
{
	char line[32 + sizeof(((struct cli_line *)0)->buf)];
	int n = snprintf(line, 32, "[%lu] ", (unsigned long)instance);
	int fd = stream == 2 ? STDERR_FILENO : STDOUT_FILENO;

	memcpy(line + n, s, len);
	pthread_mutex_lock(&o->lock);
	fd_write_all(fd, line, (size_t)n + len);
	pthread_mutex_unlock(&o->lock);
}

static int64_t output_prefixed(struct cli_output *o, uint64_t instance, int stream, const char *buf,
			       uint64_t len)
{
	struct cli_line *l = &o->lines[(instance - o->first) * 2 + (stream == 2)];
	uint64_t i;

	for (i = 0; i < len; i++) {
		l->buf[l->len++] = buf[i];
		/* A line longer than the buffer is cut, each piece still prefixed. */
		if (buf[i] == '\n' || l->len == sizeof(l->buf)) {
			emit_line(o, instance, stream, l->buf, l->len);
			l->len = 0;
		}
	}
	return (int64_t)len;
}

static int64_t cli_output_write(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct cli_output *o = ctx;

	if (vm->instance < o->first || vm->instance - o->first >= o->count)
		return -1;
	if (o->dir)
		return output_to_file(o, vm->instance, stream, buf, len);
	return output_prefixed(o, vm->instance, stream, buf, len);
}

const struct vm_hooks cli_output_hooks = {.output = cli_output_write};

void cli_output_finish(struct cli_output *o)
{
	unsigned i;

	/* A guest that ended mid-line still gets its last words out, newline added. */
	for (i = 0; o->lines && i < o->count * 2; i++) {
		struct cli_line *l = &o->lines[i];

		if (!l->len)
			continue;
		l->buf[l->len++] = '\n'; /* fits: a full buffer is always emitted at once */
		emit_line(o, o->first + i / 2, i % 2 ? 2 : 1, l->buf, l->len);
	}
	free(o->lines);
	o->lines = NULL;
	pthread_mutex_destroy(&o->lock);
}
