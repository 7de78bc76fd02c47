/* lx_signal.c: placeholder handlers (ENOSYS) until the family is written. */
#include <errno.h>

#include "lx_int.h"

LX_HANDLER(rt_sigaction)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(rt_sigprocmask)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(rt_sigreturn)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(sigaltstack)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(kill)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(tkill)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(tgkill)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(rt_sigsuspend)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(pause)
{
	(void)c;
	return -ENOSYS;
}

void lx_signal_raise(struct lx_proc *p, int sig)
{
	p->pending |= 1ull << (sig - 1);
}

int64_t lx_signal_deliver(struct lx_call *c)
{
	c->p->pending = 0;
	return 0;
}

int64_t lx_signal_kill(struct lx_call *c, int sig)
{
	c->vm->res->end = VM_END_EXIT;
	c->vm->res->status = 128 + sig;
	return LX_STOP;
}
