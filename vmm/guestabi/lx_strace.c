/* lx_strace.c: placeholder. */
#include "lx_int.h"

void lx_strace(struct lx_call *c, const struct lx_syscall *sc, int64_t ret)
{
	(void)c;
	(void)sc;
	(void)ret;
}
