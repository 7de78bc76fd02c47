/* lx_sys.c: placeholder handlers (ENOSYS) until the family is written. */
#include <asm/prctl.h>
#include <errno.h>
#include <sys/ioctl.h>

#include "lx_int.h"

LX_HANDLER(exit)
{
	c->vm->res->end = VM_END_EXIT;
	c->vm->res->status = (int)(c->a[0] & 0xff);
	return LX_STOP;
}

LX_HANDLER(exit_group)
{
	return lx_sys_exit(c);
}

/* ARCH_SET_FS / ARCH_GET_FS (thread-local storage) and the GS pair, through the segment registers. */
LX_HANDLER(arch_prctl)
{
	struct kvm_sregs s;
	int code = (int)c->a[0];

	if (code != ARCH_SET_FS && code != ARCH_GET_FS && code != ARCH_SET_GS &&
	    code != ARCH_GET_GS)
		return -EINVAL;
	if (ioctl(c->vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -EIO;
	switch (code) {
	case ARCH_GET_FS:
		return lx_put(c, c->a[1], &s.fs.base, sizeof(s.fs.base));
	case ARCH_GET_GS:
		return lx_put(c, c->a[1], &s.gs.base, sizeof(s.gs.base));
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (c->a[1] >> 47)
			return -EPERM; /* not a canonical user address */
		if (code == ARCH_SET_FS)
			s.fs.base = c->a[1];
		else
			s.gs.base = c->a[1];
		return ioctl(c->vm->vcpu_fd, KVM_SET_SREGS, &s) < 0 ? -EIO : 0;
	}
	return -EINVAL;
}

LX_HANDLER(set_tid_address)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(set_robust_list)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(get_robust_list)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(rseq)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(prlimit64)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getrlimit)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(setrlimit)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getrandom)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(clock_gettime)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(clock_getres)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(gettimeofday)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(time)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(nanosleep)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(clock_nanosleep)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(uname)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getpid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getppid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(gettid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getuid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(geteuid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getgid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getegid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getgroups)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getpgrp)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getpgid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getsid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(setpgid)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(sysinfo)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(getrusage)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(times)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(sched_yield)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(sched_getaffinity)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(futex)
{
	(void)c;
	return -ENOSYS;
}

LX_HANDLER(prctl)
{
	(void)c;
	return -ENOSYS;
}
