/* cli_output.c: prefix each guest line with its instance number, or write per-instance files. */
#define _GNU_SOURCE
#include "cli_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_progress.h"
#include "core/error.h"
#include "core/fdio.h"

/*
 * Opens --output-dir without following a link and refuses one another user
 * could plant files in: output files are created by name in it, as root too.
 * A directory its owner cannot write to is refused too (checked on the mode
 * as well as by access: root could write where the owner said not to).
 */
static int output_dir_open(const char *dir)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_sys("--output-dir %s", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
		return err_set("--output-dir %s: not a directory (a file or a link)", dir);
	if (fd < 0)
		return err_sys("--output-dir %s", dir);
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return err_set("--output-dir %s: owned by another user or writable by others "
			       "(use a directory of your own, mode 0700 or 0755)",
			       dir);
	}
	if (!(st.st_mode & S_IWUSR) || faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		close(fd);
		return err_set("--output-dir %s: not writable", dir);
	}
	return fd;
}

int cli_output_check(const char *dir)
{
	int fd = output_dir_open(dir);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * An earlier run's I.out and I.err of this run's instances go: the files
 * are appended to line by line, and must hold this run's output only (an
 * instance that writes nothing leaves none). unlinkat follows no link.
 */
static void output_dir_clean(struct cli_output *o)
{
	char name[64];
	unsigned i;

	for (i = 0; i < o->count; i++) {
		snprintf(name, sizeof(name), "%u.out", o->first + i);
		unlinkat(o->dir_fd, name, 0);
		snprintf(name, sizeof(name), "%u.err", o->first + i);
		unlinkat(o->dir_fd, name, 0);
	}
}

int cli_output_init(struct cli_output *o, unsigned first, unsigned count, const char *dir)
{
	memset(o, 0, sizeof(*o));
	o->dir = dir;
	o->dir_fd = -1;
	o->first = first;
	o->count = count;
	if (dir) {
		o->dir_fd = output_dir_open(dir);
		if (o->dir_fd < 0)
			return -1;
		output_dir_clean(o);
	} else {
		o->lines = calloc((size_t)count * 2, sizeof(*o->lines));
		if (!o->lines)
			return err_set("out of memory");
	}
	pthread_mutex_init(&o->lock, NULL);
	return 0;
}

/*
 * Appends to DIR/N.out or DIR/N.err; opened per write so 10,000 instances
 * need no fds. Never through a link, never into anything but a regular file
 * (O_NONBLOCK: a FIFO planted there does not block the open).
 */
static int64_t output_to_file(struct cli_output *o, uint64_t instance, int stream, const void *buf,
			      uint64_t len)
{
	char name[64];
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "%lu.%s", (unsigned long)instance,
		 stream == 2 ? "err" : "out");
	fd = openat(o->dir_fd, name,
		    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	/* a failed write is the output's loss, not the guest's */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		fd_write_all(fd, buf, len);
	close(fd);
	return (int64_t)len;
}

/*
 * Writes all of buf unless vm's deadline passes (or it is stopped) while
 * the reader does not read: the timer's kick interrupts the write, and a
 * deadline wins over a blocked pipe. -1 when it gave up.
 */
static int output_write(struct vm *vm, int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR && !vm_deadline_passed(vm) && !vm->stop)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One write per line, prefix included: lines from instances in other worker
 * processes must not interleave with it (a pipe write of up to PIPE_BUF
 * bytes is atomic; the mutex only orders this process's threads). vm is
 * the instance writing, or NULL at the end of the run.
 */
static void emit_line(struct cli_output *o, struct vm *vm, uint64_t instance, int stream,
		      const char *s, size_t len)
{
	int fd = stream == 2 ? STDERR_FILENO : STDOUT_FILENO;
	char prefix[32], small[1024], *line = small;
	int n = snprintf(prefix, sizeof(prefix), "[%lu] ", (unsigned long)instance);

	/* Most lines are short: the heap only for long ones, off the common path. */
	if ((size_t)n + len > sizeof(small))
		line = malloc((size_t)n + len);
	pthread_mutex_lock(&o->lock);
	/* At the end (no vm, no deadline), a reader that stalled a write must not hang the run. */
	if (!line || (!vm && o->stalled))
		goto out;
	memcpy(line, prefix, (size_t)n);
	memcpy(line + n, s, len);
	cli_progress_before_output(fd);
	if (vm ? output_write(vm, fd, line, (size_t)n + len) < 0
	       : fd_write_all(fd, line, (size_t)n + len) < 0)
		o->stalled |= errno == EINTR; /* given up at a deadline: the reader is stuck */
out:
	pthread_mutex_unlock(&o->lock);
	if (line != small)
		free(line);
}

/*
 * Room for one more byte in l and a newline after it (l->len < CLI_LINE_MAX
 * here, so the buffer never grows past CLI_LINE_MAX + 1).
 */
static int line_reserve(struct cli_line *l)
{
	size_t cap;
	char *buf;

	if (l->len + 2 <= l->cap)
		return 0;
	cap = l->cap ? l->cap * 2 : 256;
	if (cap > CLI_LINE_MAX + 1)
		cap = CLI_LINE_MAX + 1;
	buf = realloc(l->buf, cap);
	if (!buf)
		return -1;
	l->buf = buf;
	l->cap = cap;
	return 0;
}

/*
 * A line is emitted when it ends; one longer than CLI_LINE_MAX is cut into
 * lines of CLI_LINE_MAX bytes, each with its prefix and a newline, so that
 * no other instance's output ever lands on the same line.
 */
static int64_t output_prefixed(struct cli_output *o, struct vm *vm, int stream, const char *buf,
			       uint64_t len)
{
	struct cli_line *l = &o->lines[(vm->instance - o->first) * 2 + (stream == 2)];
	uint64_t i;

	for (i = 0; i < len; i++) {
		if (line_reserve(l) < 0)
			return -1;
		l->buf[l->len++] = buf[i];
		if (buf[i] == '\n') {
			emit_line(o, vm, vm->instance, stream, l->buf, l->len);
			l->len = 0;
		} else if (l->len == CLI_LINE_MAX) {
			l->buf[l->len++] = '\n';
			emit_line(o, vm, vm->instance, stream, l->buf, l->len);
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
	return output_prefixed(o, vm, stream, buf, len);
}

const struct vm_hooks cli_output_hooks = {.output = cli_output_write};

void cli_output_finish(struct cli_output *o)
{
	unsigned i;

	/* A guest that ended mid-line still gets its last words out, newline added. */
	for (i = 0; o->lines && i < o->count * 2; i++) {
		struct cli_line *l = &o->lines[i];

		if (l->len) {
			l->buf[l->len++] = '\n'; /* fits: line_reserve kept a byte for it */
			emit_line(o, NULL, o->first + i / 2, i % 2 ? 2 : 1, l->buf, l->len);
		}
		free(l->buf);
	}
	free(o->lines);
	o->lines = NULL;
	if (o->dir_fd >= 0)
		close(o->dir_fd);
	o->dir_fd = -1;
	pthread_mutex_destroy(&o->lock);
}
