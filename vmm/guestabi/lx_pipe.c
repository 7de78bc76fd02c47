/*
 * lx_pipe.c: pipes within a guest (a host pipe, non-blocking, per pair)
 * and poll over the guest's descriptors.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

static int64_t lx_make_pipe(struct lx_call *c, uint64_t gva, uint64_t flags)
{
	int host[2], fds[2], r;

	if (flags & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	if (!lx_uptr(c, gva, sizeof(fds), 1))
		return -EFAULT;
	r = lx_fd_alloc(c->p, 0);
	if (r < 0)
		return r;
	fds[0] = r;
	c->p->fds[fds[0]].kind = LX_FD_PIPE; /* reserve it while looking for the second */
	r = lx_fd_alloc(c->p, 0);
	c->p->fds[fds[0]].kind = LX_FD_FREE;
	if (r < 0)
		return r;
	fds[1] = r;
	/* Non-blocking on the host: a single-threaded guest must never block mvmm on its own pipe. */
	if (pipe2(host, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		struct lx_fd *f = &c->p->fds[fds[i]];

		f->kind = LX_FD_PIPE;
		f->host = host[i];
		f->flags = (i ? O_WRONLY : O_RDONLY) | (int)(flags & O_NONBLOCK);
		f->cloexec = (flags & O_CLOEXEC) != 0;
	}
	return lx_put(c, gva, fds, sizeof(fds));
}

LX_HANDLER(pipe)
{
	return lx_make_pipe(c, c->a[0], 0);
}

LX_HANDLER(pipe2)
{
	return lx_make_pipe(c, c->a[0], c->a[1]);
}

/*
 * poll answers from what is known without blocking: stdio and files are
 * ready, pipes as the host says. A poll that would wait on nothing ready
 * with no timeout is reported as 0 (timed out) after the wait, bounded.
 */
static int64_t lx_poll(struct lx_call *c, uint64_t gva, uint64_t n)
{
	struct pollfd pf;
	int64_t ready = 0;

	if (n > LX_FD_LIMIT)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		struct lx_fd *f;

		if (lx_get(c, gva + i * sizeof(pf), &pf, sizeof(pf)) < 0)
			return -EFAULT;
		pf.revents = 0;
		f = pf.fd >= 0 ? lx_fd_get(c->p, pf.fd) : NULL;
		if (pf.fd >= 0 && !f) {
			pf.revents = POLLNVAL;
		} else if (f && f->kind == LX_FD_PIPE) {
			struct pollfd h = {.fd = f->host, .events = pf.events};

			if (poll(&h, 1, 0) > 0)
				pf.revents = h.revents;
		} else if (f) {
			pf.revents = pf.events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
		}
		if (pf.revents)
			ready++;
		if (lx_put(c, gva + i * sizeof(pf), &pf, sizeof(pf)) < 0)
			return -EFAULT;
	}
	return ready;
}

LX_HANDLER(poll)
{
	return lx_poll(c, c->a[0], c->a[1]);
}

LX_HANDLER(ppoll)
{
	return lx_poll(c, c->a[0], c->a[1]);
}
