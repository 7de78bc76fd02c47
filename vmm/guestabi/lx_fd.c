/*
 * lx_fd.c: a program's file descriptors and the calls on them that do not
 * resolve paths: read and write (stdio goes to the guest's streams: hooks,
 * or the fds the VM was given), vectors, positioned I/O, dup, fcntl, the
 * terminal ioctls. Pipes and poll: lx_pipe.c.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/log.h"

#define LX_IOV_MAX 1024
/* TCGETS fills the kernel's struct termios: 4 flag words, c_line, c_cc[19] (libc's has more). */
#define LX_KERNEL_TERMIOS_SIZE (4 * sizeof(tcflag_t) + 1 + 19)
#define LX_IO_CHUNK (1u << 20) /* a vector element is copied through at most this much at once */

int lx_fd_init(struct lx_proc *p)
{
	p->nfds = 16;
	p->fds = calloc(p->nfds, sizeof(*p->fds));
	if (!p->fds)
		return -1;
	for (unsigned i = 0; i < p->nfds; i++)
		p->fds[i].host = -1;
	for (unsigned i = 0; i < 3; i++) {
		p->fds[i].kind = LX_FD_STREAM;
		p->fds[i].stream = (uint8_t)i;
		p->fds[i].flags = i == 0 ? O_RDONLY : O_WRONLY;
	}
	return 0;
}

void lx_fd_close_entry(struct lx_fd *f)
{
	if (f->host >= 0)
		close(f->host);
	free(f->path);
	memset(f, 0, sizeof(*f));
	f->host = -1;
}

void lx_fd_release(struct lx_proc *p)
{
	for (unsigned i = 0; p->fds && i < p->nfds; i++)
		lx_fd_close_entry(&p->fds[i]);
	free(p->fds);
	p->fds = NULL;
	p->nfds = 0;
}

struct lx_fd *lx_fd_get(struct lx_proc *p, int64_t fd)
{
	if (fd < 0 || fd >= (int64_t)p->nfds || p->fds[fd].kind == LX_FD_FREE)
		return NULL;
	return &p->fds[fd];
}

static int lx_fd_grow(struct lx_proc *p, unsigned want)
{
	unsigned n = p->nfds;
	struct lx_fd *f;

	while (n < want)
		n *= 2;
	if (n > LX_FD_LIMIT)
		n = LX_FD_LIMIT;
	if (want > n)
		return -EMFILE;
	f = realloc(p->fds, n * sizeof(*f));
	if (!f)
		return -ENOMEM;
	memset(f + p->nfds, 0, (n - p->nfds) * sizeof(*f));
	for (unsigned i = p->nfds; i < n; i++)
		f[i].host = -1;
	p->fds = f;
	p->nfds = n;
	return 0;
}

int lx_fd_alloc(struct lx_proc *p, int min)
{
	unsigned i;
	int r;

	if (min < 0 || min >= LX_FD_LIMIT)
		return -EINVAL;
	for (i = (unsigned)min; i < p->nfds; i++)
		if (p->fds[i].kind == LX_FD_FREE)
			return (int)i;
	r = lx_fd_grow(p, i + 1);
	return r < 0 ? r : (int)i;
}

/* Whether a blocked host call should give up: the deadline passed or the host stops the VM. */
static int lx_interrupted(struct vm *vm)
{
	return vm_deadline_passed(vm) || __atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST);
}

static int stream_fd(const struct vm *vm, int stream)
{
	return stream == 0 ? vm->in_fd : stream == 1 ? vm->out_fd : vm->err_fd;
}

int64_t lx_stream_write(struct lx_call *c, int stream, const void *buf, uint64_t len)
{
	struct vm *vm = c->vm;
	uint64_t done = 0;
	int fd;

	if (vm->hooks && vm->hooks->output) {
		int64_t n = vm->hooks->output(vm->hooks_ctx, vm, stream, buf, len);

		return n < 0 ? -EIO : n;
	}
	fd = stream_fd(vm, stream);
	if (fd < 0)
		return -EBADF;
	vlog_before_output(fd); /* a progress line on that terminal goes first */
	while (done < len) {
		ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);

		if (n < 0 && errno == EINTR && !lx_interrupted(vm))
			continue;
		if (n < 0 && errno == EPIPE && !done) {
			lx_signal_raise(c->p, 13); /* SIGPIPE */
			return -EPIPE;
		}
		if (n < 0)
			return done ? (int64_t)done : -errno;
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

/* Whether a read of the guest's stdin would block now (no input hook, nothing to read yet). */
static int lx_stdin_empty(const struct vm *vm)
{
	struct pollfd pf = {.fd = vm->in_fd, .events = POLLIN};

	if (vm->hooks && vm->hooks->input)
		return 0;
	return vm->in_fd < 0 || poll(&pf, 1, 0) == 0;
}

/*
 * A Linux program's MVMM_HC_WAIT: the first time it would block reading an
 * empty stdin (or, a clone, has read all of its request), `mvmm run --hold`
 * holds it there (the fleet's wait hook); released, it reads on. -1 when
 * the deadline passed while it was held.
 */
static int lx_hold_on_stdin(struct lx_call *c, int empty)
{
	struct vm *vm = c->vm;
	int r;

	if (c->p->held || !vm->hooks || !vm->hooks->wait || !empty)
		return 0;
	c->p->held = 1;
	vm_block_begin(vm); /* held counts as paused; the hook touches no guest memory */
	r = vm->hooks->wait(vm->hooks_ctx, vm);
	vm_block_end(vm);
	return r;
}

/* A clone's request as its stdin: the strings, each ended by a newline, then end of file. */
static int64_t lx_read_request(struct lx_call *c, uint8_t *buf, uint64_t len)
{
	const struct vm_request *r = c->vm->request;
	uint64_t n = 0;

	while (n < len && c->p->request_off < r->len) {
		char ch = r->data[c->p->request_off++];

		buf[n++] = ch ? (uint8_t)ch : '\n';
	}
	return (int64_t)n;
}

int64_t lx_stream_read(struct lx_call *c, void *buf, uint64_t len)
{
	struct vm *vm = c->vm;
	ssize_t n;
	int fd;

	if (vm->template_mode && c->p->ready_on_stdin)
		return lx_freeze_at_read(c);
	if (c->p->stdin_request && vm->request) {
		if (lx_hold_on_stdin(c, c->p->request_off >= vm->request->len) < 0) {
			vm->res->end = VM_END_TIMEOUT;
			return LX_STOP;
		}
		return lx_read_request(c, buf, len);
	}
	if (lx_hold_on_stdin(c, lx_stdin_empty(vm)) < 0) {
		vm->res->end = VM_END_TIMEOUT;
		return LX_STOP;
	}
	if (vm->hooks && vm->hooks->input) {
		int64_t got = vm->hooks->input(vm->hooks_ctx, vm, buf, len);

		return got < 0 ? -EIO : got;
	}
	fd = stream_fd(vm, 0);
	if (fd < 0)
		return 0; /* no input: end of file */
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR && !lx_interrupted(vm));
	if (n < 0 && errno == EINTR) {
		if (vm_deadline_passed(vm)) {
			vm->res->end = VM_END_TIMEOUT;
			return LX_STOP;
		}
		exit_host_error(vm, "stopped by the host");
		return LX_STOP;
	}
	return n < 0 ? -errno : n;
}

/* Whether this guest holds a write end of the pipe whose read end is host_rd (ends share an inode). */
static int lx_pipe_writer_open(struct lx_proc *p, int host_rd)
{
	struct stat rd, wr;

	if (fstat(host_rd, &rd) < 0)
		return 0;
	for (unsigned i = 0; i < p->nfds; i++)
		if (p->fds[i].kind == LX_FD_PIPE && (p->fds[i].flags & O_ACCMODE) == O_WRONLY &&
		    fstat(p->fds[i].host, &wr) == 0 && wr.st_ino == rd.st_ino &&
		    wr.st_dev == rd.st_dev)
			return 1;
	return 0;
}

/* I/O on a host fd (a file or a pipe end); off < 0: at the file position. */
static int64_t lx_host_io(struct lx_call *c, struct lx_fd *f, void *buf, uint64_t len,
			  int64_t off, int out)
{
	ssize_t n;

	if (len > LX_IO_CHUNK * 64ull)
		len = LX_IO_CHUNK * 64ull;
	if (out && (f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (!out && (f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (off >= 0)
		n = out ? pwrite(f->host, buf, len, off) : pread(f->host, buf, len, off);
	else
		n = out ? write(f->host, buf, len) : read(f->host, buf, len);
	if (n >= 0)
		return n;
	if (errno == EAGAIN && f->kind == LX_FD_PIPE && !(f->flags & O_NONBLOCK)) {
		/* No other thread or process could ever fill or drain it. */
		if (!out && !lx_pipe_writer_open(c->p, f->host))
			return 0;
		exit_guest_error(c->vm, "%s on an %s pipe would block forever: the guest has "
					"one thread and holds the other end",
				 out ? "write" : "read", out ? "full" : "empty");
		return LX_STOP;
	}
	if (errno == EPIPE && out) {
		lx_signal_raise(c->p, 13);
		return -EPIPE;
	}
	return -errno;
}

/* read, write, pread64, pwrite64 on one descriptor; off < 0: at the file position. */
static int64_t lx_io(struct lx_call *c, int64_t fd, uint64_t gva, uint64_t len, int64_t off,
		     int write)
{
	struct lx_fd *f = lx_fd_get(c->p, fd);
	void *buf;

	if (!f)
		return -EBADF;
	if (f->kind == LX_FD_DIR)
		return write ? -EBADF : -EISDIR;
	if (len > INT64_MAX)
		return -EINVAL;
	buf = lx_uptr(c, gva, len, !write);
	if (!buf)
		return -EFAULT;
	if (f->kind == LX_FD_STREAM) {
		if (off >= 0)
			return -ESPIPE;
		if (write)
			return f->stream == 0 ? -EBADF : lx_stream_write(c, f->stream, buf, len);
		return f->stream != 0 ? -EBADF : lx_stream_read(c, buf, len);
	}
	return lx_host_io(c, f, buf, len, off, write);
}

LX_HANDLER(read)
{
	return lx_io(c, (int)c->a[0], c->a[1], c->a[2], -1, 0);
}

LX_HANDLER(write)
{
	return lx_io(c, (int)c->a[0], c->a[1], c->a[2], -1, 1);
}

LX_HANDLER(pread64)
{
	if ((int64_t)c->a[3] < 0)
		return -EINVAL;
	return lx_io(c, (int)c->a[0], c->a[1], c->a[2], (int64_t)c->a[3], 0);
}

LX_HANDLER(pwrite64)
{
	if ((int64_t)c->a[3] < 0)
		return -EINVAL;
	return lx_io(c, (int)c->a[0], c->a[1], c->a[2], (int64_t)c->a[3], 1);
}

/* writev to an output hook (a server's frames, the API's buffers): one call, so one frame. */
static int64_t lx_writev_hook(struct lx_call *c, int stream, const struct iovec *v, uint64_t n,
			      uint64_t total)
{
	uint8_t *buf;
	int64_t r;

	if (total > LX_IO_CHUNK || !(buf = malloc(total ? total : 1)))
		return -ENOSYS;
	for (uint64_t i = 0, at = 0; i < n; at += v[i].iov_len, i++)
		if (v[i].iov_len)
			memcpy(buf + at, v[i].iov_base, v[i].iov_len);
	r = lx_stream_write(c, stream, buf, total);
	free(buf);
	return r;
}

/*
 * writev to the guest's stdout or stderr in one host writev (or one hook
 * call): stdio hands over its buffer and the rest of a line together, and
 * they should reach a pipe as one write, not two. NULL entries in host[]
 * mean the guest's vector was not all valid: the element by element path
 * then gives Linux's partial result.
 */
static int64_t lx_writev_stream(struct lx_call *c, const struct lx_fd *f, uint64_t n)
{
	struct iovec host[64], iov;
	uint64_t total = 0, done = 0;
	int fd = stream_fd(c->vm, f->stream);
	ssize_t w;

	int hook = c->vm->hooks && c->vm->hooks->output;

	if (n > 64 || (fd < 0 && !hook) || f->stream == 0)
		return -ENOSYS;
	for (uint64_t i = 0; i < n; i++) {
		if (lx_get(c, c->a[1] + i * sizeof(iov), &iov, sizeof(iov)) < 0 ||
		    iov.iov_len > INT32_MAX)
			return -ENOSYS;
		host[i].iov_base = iov.iov_len ? lx_uptr(c, (uint64_t)(uintptr_t)iov.iov_base,
							 iov.iov_len, 0)
					       : NULL;
		host[i].iov_len = iov.iov_len;
		if (iov.iov_len && !host[i].iov_base)
			return -ENOSYS;
		total += iov.iov_len;
	}
	if (hook)
		return lx_writev_hook(c, f->stream, host, n, total);
	vlog_before_output(fd);
	do
		w = writev(fd, host, (int)n);
	while (w < 0 && errno == EINTR && !lx_interrupted(c->vm));
	if (w < 0 && errno == EPIPE) {
		lx_signal_raise(c->p, 13); /* SIGPIPE */
		return -EPIPE;
	}
	if (w < 0)
		return -errno;
	done = (uint64_t)w;
	/* A short write (a full pipe): the rest goes out as write sends it, all of it. */
	for (uint64_t i = 0, at = 0; i < n && done < total; at += host[i].iov_len, i++) {
		uint64_t end = at + host[i].iov_len, from;
		int64_t r;

		if (done >= end)
			continue;
		from = done - at;
		r = lx_stream_write(c, f->stream, (const uint8_t *)host[i].iov_base + from,
				    host[i].iov_len - from);
		if (r < 0)
			return (int64_t)done;
		done += (uint64_t)r;
	}
	return (int64_t)done;
}

/* readv and writev: element by element, stopping at a short transfer as the kernel's result shows. */
static int64_t lx_iov(struct lx_call *c, int write)
{
	int64_t fd = (int)c->a[0], total = 0, r;
	uint64_t n = c->a[2];
	struct lx_fd *f = lx_fd_get(c->p, fd);
	struct iovec iov;

	if (n > LX_IOV_MAX)
		return -EINVAL;
	if (!f)
		return -EBADF;
	if (write && f->kind == LX_FD_STREAM && (r = lx_writev_stream(c, f, n)) != -ENOSYS)
		return r;
	for (uint64_t i = 0; i < n; i++) {
		if (lx_get(c, c->a[1] + i * sizeof(iov), &iov, sizeof(iov)) < 0)
			return total ? total : -EFAULT;
		if (iov.iov_len == 0)
			continue;
		r = lx_io(c, fd, (uint64_t)(uintptr_t)iov.iov_base, iov.iov_len, -1, write);
		if (r == LX_STOP)
			return r;
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((uint64_t)r < iov.iov_len)
			break;
	}
	return total;
}

/*
 * sendfile(out, in, offset, count): through a bounce buffer, at most
 * LX_IO_CHUNK per call (callers loop on a short count, as Linux allows).
 */
LX_HANDLER(sendfile)
{
	struct lx_fd *out = lx_fd_get(c->p, (int)c->a[0]), *in = lx_fd_get(c->p, (int)c->a[1]);
	uint64_t count = c->a[3] < LX_IO_CHUNK ? c->a[3] : LX_IO_CHUNK;
	int64_t off = -1, n, w;
	uint8_t *buf;

	if (!out || !in)
		return -EBADF;
	if (in->kind != LX_FD_FILE || (in->flags & O_ACCMODE) == O_WRONLY ||
	    (out->flags & O_ACCMODE) == O_RDONLY)
		return in->kind == LX_FD_FILE ? -EBADF : -EINVAL;
	if (c->a[2] && (lx_get(c, c->a[2], &off, sizeof(off)) < 0))
		return -EFAULT;
	if (c->a[2] && off < 0)
		return -EINVAL;
	if (!count)
		return 0;
	buf = malloc(count);
	if (!buf)
		return -ENOMEM;
	n = off >= 0 ? pread(in->host, buf, count, off) : read(in->host, buf, count);
	if (n <= 0) {
		free(buf);
		return n < 0 ? -errno : 0;
	}
	if (out->kind == LX_FD_STREAM)
		w = out->stream ? lx_stream_write(c, out->stream, buf, (uint64_t)n) : -EBADF;
	else if (out->kind == LX_FD_DIR)
		w = -EBADF;
	else
		w = lx_host_io(c, out, buf, (uint64_t)n, -1, 1);
	free(buf);
	if (w < 0 || w == LX_STOP)
		return w;
	/* What was read but not written goes back, as the kernel consumes only what it sent. */
	if (off >= 0) {
		off += w;
		if (lx_put(c, c->a[2], &off, sizeof(off)) < 0)
			return -EFAULT;
	} else if (w < n) {
		lseek(in->host, w - n, SEEK_CUR);
	}
	return w;
}

LX_HANDLER(readv)
{
	return lx_iov(c, 0);
}

LX_HANDLER(writev)
{
	return lx_iov(c, 1);
}

LX_HANDLER(close)
{
	struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);

	if (!f)
		return -EBADF;
	lx_fd_close_entry(f);
	return 0;
}

LX_HANDLER(lseek)
{
	struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);
	off_t r;

	if (!f)
		return -EBADF;
	if (f->kind == LX_FD_STREAM || f->kind == LX_FD_PIPE)
		return -ESPIPE;
	if (f->host < 0) { /* a virtual directory: rewinddir and seekdir to what telldir gave */
		if ((int)c->a[2] != SEEK_SET || c->a[1] > UINT32_MAX)
			return -EINVAL;
		f->vpos = (uint32_t)c->a[1];
		return (int64_t)f->vpos;
	}
	r = lseek(f->host, (off_t)c->a[1], (int)c->a[2]);
	return r < 0 ? -errno : r;
}

/* Copies entry from into slot to (free), sharing the open file as Linux's dup does. */
static int64_t lx_dup_into(struct lx_proc *p, const struct lx_fd *from, int to, int cloexec)
{
	struct lx_fd *f = &p->fds[to];
	int host = -1;
	char *path = NULL;

	if (from->host >= 0) {
		host = fcntl(from->host, F_DUPFD_CLOEXEC, 3);
		if (host < 0)
			return -errno;
	}
	if (from->path) {
		path = strdup(from->path);
		if (!path) {
			if (host >= 0)
				close(host);
			return -ENOMEM;
		}
	}
	*f = *from;
	f->host = host;
	f->path = path;
	f->cloexec = (uint8_t)cloexec;
	return to;
}

static int64_t lx_dup_to(struct lx_proc *p, int64_t oldfd, int64_t newfd, int cloexec)
{
	struct lx_fd *from = lx_fd_get(p, oldfd), saved;
	int r;

	if (!from)
		return -EBADF;
	if (newfd < 0 || newfd >= LX_FD_LIMIT)
		return -EBADF;
	if (newfd >= (int64_t)p->nfds && (r = lx_fd_grow(p, (unsigned)newfd + 1)) < 0)
		return r;
	from = &p->fds[oldfd]; /* the table may have moved */
	saved = *from;
	if (p->fds[newfd].kind != LX_FD_FREE)
		lx_fd_close_entry(&p->fds[newfd]);
	return lx_dup_into(p, &saved, (int)newfd, cloexec);
}

LX_HANDLER(dup)
{
	struct lx_fd *from = lx_fd_get(c->p, (int)c->a[0]);
	int to;

	if (!from)
		return -EBADF;
	to = lx_fd_alloc(c->p, 0);
	if (to < 0)
		return to;
	from = &c->p->fds[(int)c->a[0]];
	return lx_dup_into(c->p, from, to, 0);
}

LX_HANDLER(dup2)
{
	int64_t oldfd = (int)c->a[0], newfd = (int)c->a[1];

	if (oldfd == newfd)
		return lx_fd_get(c->p, oldfd) ? newfd : -EBADF;
	return lx_dup_to(c->p, oldfd, newfd, 0);
}

LX_HANDLER(dup3)
{
	int64_t oldfd = (int)c->a[0], newfd = (int)c->a[1];

	if (c->a[2] & ~(uint64_t)O_CLOEXEC)
		return -EINVAL;
	if (oldfd == newfd)
		return -EINVAL;
	return lx_dup_to(c->p, oldfd, newfd, !!(c->a[2] & O_CLOEXEC));
}

/* The status flags F_SETFL may change; the access mode and creation flags stay. */
#define LX_SETFL_MASK (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)

LX_HANDLER(fcntl)
{
	struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);
	int to;

	if (!f)
		return -EBADF;
	switch ((int)c->a[1]) {
	case F_GETFD:
		return f->cloexec ? FD_CLOEXEC : 0;
	case F_SETFD:
		f->cloexec = (c->a[2] & FD_CLOEXEC) != 0;
		return 0;
	case F_GETFL:
		return f->flags;
	case F_SETFL:
		f->flags = (f->flags & ~LX_SETFL_MASK) | ((int)c->a[2] & LX_SETFL_MASK);
		if (f->host >= 0 && f->kind == LX_FD_FILE)
			fcntl(f->host, F_SETFL, (f->flags & O_APPEND));
		return 0;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if ((int64_t)c->a[2] < 0 || c->a[2] >= LX_FD_LIMIT)
			return -EINVAL;
		to = lx_fd_alloc(c->p, (int)c->a[2]);
		if (to < 0)
			return to;
		f = &c->p->fds[(int)c->a[0]];
		return lx_dup_into(c->p, f, to, (int)c->a[1] == F_DUPFD_CLOEXEC);
	default:
		return -EINVAL;
	}
}

/* TCGETS and TIOCGWINSZ answer for the host fd behind the guest's stdio, as Linux would. */
LX_HANDLER(ioctl)
{
	struct lx_fd *f = lx_fd_get(c->p, (int)c->a[0]);
	unsigned long req = (unsigned long)c->a[1];
	int host;

	if (!f)
		return -EBADF;
	if (req != TCGETS && req != TIOCGWINSZ)
		return -ENOTTY;
	if (f->kind != LX_FD_STREAM || c->vm->hooks)
		return -ENOTTY;
	host = stream_fd(c->vm, f->stream);
	if (host < 0)
		return -ENOTTY;
	if (req == TCGETS) {
		struct termios t = {0};

		if (ioctl(host, TCGETS, &t) < 0)
			return -errno;
		/* The kernel's struct termios, not libc's longer one: a guest's 36-byte buffer. */
		return lx_put(c, c->a[2], &t, LX_KERNEL_TERMIOS_SIZE);
	} else {
		struct winsize w;

		if (ioctl(host, TIOCGWINSZ, &w) < 0)
			return -errno;
		return lx_put(c, c->a[2], &w, sizeof(w));
	}
}
