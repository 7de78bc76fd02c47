/*
 * lx_entry.c: a Linux system call, from the exit at the system-call entry
 * to the resumed guest: the registers read (kvm_run's copy, no ioctl), the
 * handler looked up in the table, the result in RAX, RIP at RCX and RFLAGS
 * from R11 (as sysret does), a pending signal delivered, --strace told.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/exit.h"
#include "core/vcpu_regs.h"
#include "guest.h"
#include "hypercall.h"
#include "load/image.h"

/* The flags a program may set in RFLAGS (CF PF AF ZF SF TF IF DF OF AC ID), as sysret keeps them. */
#define LX_RFLAGS_USER 0x240fd5ull

struct lx_proc *lx_proc_of(struct vm *vm)
{
	return vm->lx;
}

const char *lx_syscall_name(uint64_t nr)
{
	static _Thread_local char name[64];
	char *s;

	if (nr < LX_NR_LIMIT && lx_table[nr].name)
		return lx_table[nr].name;
	if (nr > INT32_MAX)
		return NULL;
	s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, (int)nr);
	if (!s)
		return NULL;
	snprintf(name, sizeof(name), "%s", s);
	free(s);
	return name;
}

/* An unknown call answers ENOSYS; the first of each number is named on stderr. */
static void lx_note_unknown(struct lx_call *c)
{
	struct lx_proc *p = c->p;
	const char *name = lx_syscall_name(c->nr);
	char line[160];
	int n;

	if (c->nr < LX_NR_LIMIT) {
		if (p->enosys_said[c->nr / 8] & (1u << (c->nr % 8)))
			return;
		p->enosys_said[c->nr / 8] |= (uint8_t)(1u << (c->nr % 8));
	}
	if (name)
		n = snprintf(line, sizeof(line),
			     "mvmm: system call %s is not supported; it answers ENOSYS\n", name);
	else
		n = snprintf(line, sizeof(line),
			     "mvmm: system call %llu is not a known Linux system call; "
			     "it answers ENOSYS\n",
			     (unsigned long long)c->nr);
	if (n > 0)
		lx_stream_write(c, 2, line, (uint64_t)n < sizeof(line) ? (uint64_t)n : sizeof(line) - 1);
}

LX_HANDLER(nosys)
{
	(void)c;
	return -ENOSYS;
}

static enum exit_action lx_syscall_entry(struct vm *vm)
{
	const struct lx_syscall *sc = NULL;
	struct kvm_regs *r = vcpu_regs_get(vm);
	struct lx_call c;
	int64_t ret;

	if (!r)
		return exit_host_error(vm, "%s", mvmm_errmsg());
	if (!vm->lx)
		return exit_guest_error(vm, "a Linux system call, but no Linux process");
	if (vm->res->hypercalls++ == 0)
		vm->res->first_hypercall_ns = vm_now_ns();
	c = (struct lx_call){
		.vm = vm,
		.p = vm->lx,
		.regs = r,
		.nr = r->rax,
		.a = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9},
	};
	if (c.nr < LX_NR_LIMIT && lx_table[c.nr].fn) {
		sc = &lx_table[c.nr];
		ret = sc->fn(&c);
	} else {
		ret = -ENOSYS;
		lx_note_unknown(&c);
	}
	if (c.p->strace)
		lx_strace(&c, sc, ret);
	if (ret == LX_STOP)
		return EXIT_STOP;
	if (ret != LX_JUMPED) {
		r->rax = (uint64_t)ret;
		r->rip = r->rcx;
		r->rflags = (r->r11 & LX_RFLAGS_USER) | 0x2;
	}
	if (c.p->pending && lx_signal_deliver(&c) == LX_STOP)
		return EXIT_STOP;
	if (vcpu_regs_put(vm) < 0)
		return exit_host_error(vm, "%s", mvmm_errmsg());
	return EXIT_CONTINUE;
}

/* Hypercalls are what Linux has no call for: the mvmm guest library makes them beside libc. */
const struct vm_upcalls lx_upcalls = {
	.hypercall = hypercall_dispatch,
	.syscall = lx_syscall_entry,
	.symbol_at = guest_symbol_at,
};
