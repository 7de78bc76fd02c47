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
#include "backtrace.h"
#include "guest.h"
#include "hypercall.h"
#include "load/elfload.h"
#include "load/image.h"

/* The flags a program may set in RFLAGS (CF PF AF ZF SF TF IF DF OF AC ID), as sysret keeps them. */
#define LX_RFLAGS_USER 0x240fd5ull

/*
 * A `syscall` site that trapped this many times is rewritten, in this
 * guest's own copy of the page, into `out %al,$MVMM_SYSCALL_PORT` (the same
 * two bytes long): under PVM the syscall instruction itself costs ~3 us more
 * than an `out` exit. Cold sites are left alone, so a short-lived or held
 * guest copies no code page. Only a proven site is touched: the instruction
 * that just trapped (its bytes checked) inside the program's executable
 * segments, outside the read-only 2 MiB pages, in the guest's private copy:
 * no other guest sees it (gVisor's systrap patches the same way).
 */
#define LX_HOT_HITS 16
#define LX_SYSCALL_INSN 0x050fu /* 0f 05, little-endian */
#define LX_OUT_INSN ((uint16_t)(0xe6u | MVMM_SYSCALL_PORT << 8))

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

/* Whether the two bytes at site lie in one of the program's executable segments. */
static int lx_in_text(const struct vm *vm, uint64_t site)
{
	const struct elfload_program *prog = &vm->img->prog;

	for (size_t i = 0; i < prog->nsegs; i++) {
		const struct elfload_segment *s = &prog->segs[i];

		if ((s->flags & 1) && site >= s->gpa && site + 2 <= s->gpa + s->filesz) /* PF_X */
			return 1;
	}
	return 0;
}

/* Counts a trap at site (a `syscall` instruction); the LX_HOT_HITS-th rewrites it. */
static void lx_count_site(struct vm *vm, struct lx_proc *p, uint64_t site)
{
	unsigned slot = (unsigned)((site * 0x9e3779b97f4a7c15ull) >> 58);
	uint16_t insn, out = LX_OUT_INSN;
	uint8_t *at;

	if (p->hot[slot].site != site) {
		p->hot[slot].site = site;
		p->hot[slot].hits = 0;
	}
	if (++p->hot[slot].hits != LX_HOT_HITS || site < 2 || !lx_in_text(vm, site) ||
	    huge_map_overlaps(vm->mem.huge, site, 2))
		return;
	at = gmem_ptr(&vm->mem, site, 2);
	if (!at)
		return;
	memcpy(&insn, at, 2);
	if (insn != LX_SYSCALL_INSN)
		return;
	memcpy(at, &out, 2);
	p->patched++;
}

LX_HANDLER(nosys)
{
	(void)c;
	return -ENOSYS;
}

/* A guest has no network and no host sockets: socket and socketpair fail as with no such family. */
LX_HANDLER(nonet)
{
	(void)c;
	return -EAFNOSUPPORT;
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
	/*
	 * From the entry page, RCX and R11 are what `syscall` left; from a
	 * rewritten site RIP is already past it: give RCX and R11 their
	 * syscall values, so the rest (and the program) cannot tell.
	 */
	if (r->rip == MVMM_SYSCALL_GPA + 2) {
		lx_count_site(vm, vm->lx, r->rcx - 2);
	} else {
		r->rcx = r->rip;
		r->r11 = r->rflags;
	}
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
	.backtrace = backtrace_format,
};
