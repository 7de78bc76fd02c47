/*
 * lx_clone.c: a program as a template. Its ready point is the ready
 * hypercall (mvmm_ready()), or with --ready-on=stdin its first read of
 * stdin: the guest is frozen with RIP back on its `syscall`, so every
 * clone re-issues that read and gets its own input. The process state
 * (descriptors, trees, break, mappings, signal dispositions) is copied into
 * each clone; host fds are duplicated.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error.h"
#include "core/vcpu_regs.h"

static int dup_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static int lx_dup_fds(struct lx_proc *d, const struct lx_proc *s)
{
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
		if (s->fds[i].host >= 0 && (d->fds[i].host = dup_fd(s->fds[i].host)) < 0)
			return -1;
		if (s->fds[i].path && !(d->fds[i].path = strdup(s->fds[i].path)))
			return -1;
	}
	return 0;
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
		if (!d->mounts[i].guest || d->mounts[i].dirfd < 0) {
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

	if (!insn || insn[0] != 0x0f || insn[1] != 0x05)
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
	/* A template restored from a file has no trees of its own: the clone's run names them. */
	if (p->trees_from_clone) {
		p->trees_from_clone = 0;
		if (cfg->lx && lx_fs_mount_all(p, cfg->lx) < 0)
			return -1;
	}
	/* AT_RANDOM's 16 bytes are the clone's own, as if it had been exec'd. */
	if (p->at_random) {
		uint8_t *rnd = gmem_ptr(&vm->mem, p->at_random, 16);

		if (rnd && getrandom(rnd, 16, 0) != 16)
			return err_sys("getrandom (AT_RANDOM)");
	}
	return 0;
}
