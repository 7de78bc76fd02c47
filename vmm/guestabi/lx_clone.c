/*
 * lx_clone.c: a program as a template. Its ready point is the ready
 * hypercall (mvmm_ready()), or with --ready-on=stdin its first read of
 * stdin: the guest is frozen with RIP back on its `syscall`, so every
 * clone re-issues that read and gets its own input. The process state
 * (descriptors, trees, break, mappings, signal dispositions) is copied into
 * each clone, with descriptors of its own: files reopened at the same
 * offset, pipes copied with what they hold, so no clone sees another's
 * reads and writes.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/vcpu_regs.h"

static int dup_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/*
 * A clone's own open file description of what host fd `fd` has open: the
 * file reopened through /proc/self/fd (the inode the template's open already
 * reached beneath its tree) at the same offset, so clones do not move each
 * other's file position. Without /proc, a dup (the offset is then shared).
 */
static int reopen_fd(const struct lx_fd *f)
{
	int flags = (f->flags & (O_ACCMODE | O_APPEND)) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	char path[32];
	off_t off;
	int fd;

	if (f->kind == LX_FD_DIR)
		flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->host);
	fd = open(path, flags);
	if (fd < 0)
		return dup_fd(f->host);
	off = lseek(f->host, 0, SEEK_CUR);
	if (off > 0 && lseek(fd, off, SEEK_SET) != off) {
		close(fd);
		return dup_fd(f->host);
	}
	if (f->kind == LX_FD_FILE && !(f->flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* Clones copy a template's pipes while other clones are being made from it: one at a time. */
static pthread_mutex_t lx_pipe_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Reads what a pipe holds and puts it back (its reader is frozen: nothing
 * else reads it). Where the template closed every write end, a write end
 * is opened through /proc/self/fd for the moment.
 */
static ssize_t pipe_peek(int rd, int wr, uint8_t *buf, size_t cap)
{
	ssize_t n = 0, r;
	char path[32];
	int own = -1;

	while ((size_t)n < cap && (r = read(rd, buf + n, cap - (size_t)n)) > 0)
		n += r;
	if (n > 0 && wr < 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", rd);
		wr = own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	}
	if (n > 0 && (wr < 0 || write(wr, buf, (size_t)n) != n))
		n = -1;
	if (own >= 0)
		close(own);
	return n;
}

/*
 * A clone's own copy of one template pipe (the entries of s whose host fds
 * share inode `ino`): a new host pipe holding the same bytes, its ends given
 * to the same guest descriptors; an end no descriptor holds is closed, so
 * the clone sees EOF or EPIPE where the template would have.
 */
static int lx_copy_pipe(struct lx_proc *d, const struct lx_proc *s, ino_t ino, uint8_t *buf)
{
	int src[2] = {-1, -1}, np[2], ret = -1;
	ssize_t n = 0;
	struct stat st;

	for (unsigned i = 0; i < s->nfds; i++)
		if (s->fds[i].kind == LX_FD_PIPE && fstat(s->fds[i].host, &st) == 0 &&
		    st.st_ino == ino)
			src[(s->fds[i].flags & O_ACCMODE) == O_WRONLY] = s->fds[i].host;
	if (pipe2(np, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	if (src[0] >= 0) {
		pthread_mutex_lock(&lx_pipe_lock);
		n = pipe_peek(src[0], src[1], buf, 1u << 16);
		pthread_mutex_unlock(&lx_pipe_lock);
	}
	if (n < 0 || (n > 0 && write(np[1], buf, (size_t)n) != n))
		goto out;
	for (unsigned i = 0; i < s->nfds; i++) {
		int end;

		if (s->fds[i].kind != LX_FD_PIPE || d->fds[i].host >= 0 ||
		    fstat(s->fds[i].host, &st) < 0 || st.st_ino != ino)
			continue;
		end = (s->fds[i].flags & O_ACCMODE) == O_WRONLY;
		if ((d->fds[i].host = dup_fd(np[end])) < 0)
			goto out;
	}
	ret = 0;
out:
	close(np[0]);
	close(np[1]);
	return ret;
}

static int lx_dup_fds(struct lx_proc *d, const struct lx_proc *s)
{
	uint8_t *buf = NULL;
	struct stat st;

	d->fds = calloc(s->nfds, sizeof(*d->fds));
	if (!d->fds)
		return -1;
	d->nfds = s->nfds;
	for (unsigned i = 0; i < s->nfds; i++) {
		d->fds[i] = s->fds[i];
		d->fds[i].host = -1;
		d->fds[i].path = NULL;
	}
	for (unsigned i = 0; i < s->nfds; i++) {
		const struct lx_fd *f = &s->fds[i];

		if (f->path && !(d->fds[i].path = strdup(f->path)))
			goto fail;
		if (f->host < 0 || d->fds[i].host >= 0)
			continue;
		if (f->kind != LX_FD_PIPE) {
			if ((d->fds[i].host = reopen_fd(f)) < 0)
				goto fail;
			continue;
		}
		if ((!buf && !(buf = malloc(1u << 16))) || fstat(f->host, &st) < 0 ||
		    lx_copy_pipe(d, s, st.st_ino, buf) < 0)
			goto fail;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

static int lx_dup_mounts(struct lx_proc *d, const struct lx_proc *s)
{
	d->mounts = NULL;
	d->nmounts = 0;
	if (!s->nmounts)
		return 0;
	d->mounts = calloc(s->nmounts, sizeof(*d->mounts));
	if (!d->mounts)
		return -1;
	for (size_t i = 0; i < s->nmounts; i++, d->nmounts++) {
		d->mounts[i] = s->mounts[i];
		d->mounts[i].guest = strdup(s->mounts[i].guest);
		d->mounts[i].dirfd = dup_fd(s->mounts[i].dirfd);
		d->mounts[i].leaf = s->mounts[i].leaf ? strdup(s->mounts[i].leaf) : NULL;
		if (!d->mounts[i].guest || d->mounts[i].dirfd < 0 ||
		    (s->mounts[i].leaf && !d->mounts[i].leaf)) {
			d->nmounts++; /* so that lx_fs_release frees what this entry got */
			return -1;
		}
	}
	return 0;
}

struct lx_proc *lx_proc_dup(const struct lx_proc *s)
{
	struct lx_proc *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	*d = *s;
	d->fds = NULL;
	d->nfds = 0;
	d->cwd = NULL;
	d->vmas = NULL;
	d->nvmas = d->capvmas = 0;
	if (lx_dup_fds(d, s) < 0 || lx_dup_mounts(d, s) < 0 ||
	    (s->cwd && !(d->cwd = strdup(s->cwd))))
		goto fail;
	if (s->nvmas) {
		d->vmas = malloc(s->nvmas * sizeof(*d->vmas));
		if (!d->vmas)
			goto fail;
		memcpy(d->vmas, s->vmas, s->nvmas * sizeof(*d->vmas));
		d->nvmas = d->capvmas = s->nvmas;
	}
	return d;
fail:
	lx_proc_free(d);
	return NULL;
}

void lx_proc_free(struct lx_proc *p)
{
	if (!p)
		return;
	lx_fd_release(p);
	lx_fs_release(p);
	lx_mem_release(p);
	free(p);
}

/* The ready point: the read is undone (RIP back on the syscall), the run ends as ready. */
int64_t lx_freeze_at_read(struct lx_call *c)
{
	struct kvm_regs *r = c->regs;
	const uint8_t *insn = lx_uptr(c, r->rcx - 2, 2, 0);

	/* A syscall instruction, or the `out` a hot one was rewritten into (lx_entry.c). */
	if (!insn || !((insn[0] == 0x0f && insn[1] == 0x05) ||
		       (insn[0] == 0xe6 && insn[1] == MVMM_SYSCALL_PORT)))
		return -EINVAL; /* not reached by a syscall instruction: no point to resume at */
	r->rip = r->rcx - 2;
	r->rflags = (r->r11 & 0x240fd5ull) | 0x2;
	if (vcpu_regs_put(c->vm) < 0)
		return -EIO;
	c->vm->res->end = VM_END_READY;
	return LX_STOP;
}

int lx_clone_into(struct vm *vm, const struct lx_proc *tpl, const struct vm_config *cfg)
{
	struct lx_proc *p = lx_proc_dup(tpl);

	if (!p)
		return err_set("copying the template's Linux process: %s", strerror(errno));
	lx_proc_free(vm->lx);
	vm->lx = p;
	p->held = 0;
	p->ready_on_stdin = 0;
	p->strace = cfg->lx && cfg->lx->strace;
	p->strace_fd = cfg->lx ? cfg->lx->strace_fd : 2;
	p->strace_numbered = cfg->lx && cfg->lx->strace_numbered;
	/* Without stdin of its own or an input hook (the API's buffer), it reads its request. */
	p->stdin_request = cfg->request && cfg->in_fd < 0 && !(cfg->hooks && cfg->hooks->input);
	p->request_off = 0;
	if (lx_attach(vm) < 0)
		return -1;
	/* AT_RANDOM's 16 bytes are the clone's own, as if it had been exec'd. */
	if (p->at_random) {
		uint8_t *rnd = gmem_ptr(&vm->mem, p->at_random, 16);

		if (rnd && getrandom(rnd, 16, 0) != 16)
			return err_sys("getrandom (AT_RANDOM)");
	}
	return 0;
}
