/*
 * lx_signal.c: signals a Linux program raises by its own actions (kill or
 * tgkill of itself, abort(), a write on a broken pipe): dispositions, the
 * blocked mask, the alternate stack, and delivery as Linux x86-64 does it
 * on the way back from a system call: the default action (ignore, or end
 * the run as killed: status 128 + sig, as a shell reports it), or a handler
 * entered on an rt_sigframe that rt_sigreturn takes apart again.
 *
 * The guest is the only process in its VM and has one thread: nothing else
 * can send it a signal, so a wait for one (pause, rt_sigsuspend) can never
 * end and stops the run as a guest error instead of hanging.
 *
 * The frame is the guest's: rt_sigreturn trusts none of it. Every address
 * goes through lx_get, RIP and RSP must be user addresses, RFLAGS keeps
 * only the flags a program may set, the extended state goes through KVM's
 * own checks (lx_fpu.c); a frame that fails ends the run as Linux would (SIGSEGV).
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/exit.h"
#include "mvmm_abi.h"

/* The kernel's ABI for x86-64 (asm/signal.h, asm/sigcontext.h, asm/ucontext.h), not glibc's. */
#define LX_SIG_DFL	     0
#define LX_SIG_IGN	     1
/* The sigaction flags: lx_int.h. */

#define LX_SS_ONSTACK	 1u
#define LX_SS_DISABLE	 2u
#define LX_SS_AUTODISARM (1u << 31)
#define LX_MINSIGSTKSZ	 2048u

#define LX_SI_USER  0
#define LX_SI_TKILL (-6)

#define LX_UC_FP_XSTATE		0x1ull
#define LX_UC_SIGCONTEXT_SS	0x2ull
#define LX_UC_STRICT_RESTORE_SS 0x4ull

#define LX_FXSAVE_SIZE 512u /* the legacy area: x87, MXCSR, XMM0-15 */

#define LX_RED_ZONE   128u
#define LX_USER_TOP   (1ull << 47) /* canonical user addresses lie below */
#define LX_RFLAGS_SET 0x240fd5ull  /* CF PF AF ZF SF TF IF DF OF AC ID, as lx_entry.c keeps them */
#define LX_RFLAGS_IF  0x200ull
#define LX_RFLAGS_TF  0x100ull
#define LX_RFLAGS_DF  0x400ull
#define LX_RFLAGS_RF  0x10000ull

#define LX_SIGBIT(sig) (1ull << ((sig)-1))
#define LX_UNBLOCKABLE (LX_SIGBIT(SIGKILL) | LX_SIGBIT(SIGSTOP))

struct lx_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate; /* guest address of the saved extended state, or 0 */
	uint64_t reserved1[8];
};

struct lx_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

struct lx_ucontext {
	uint64_t flags;
	uint64_t link;
	struct lx_stack stack;
	struct lx_sigcontext mcontext;
	uint64_t sigmask;
};

struct lx_siginfo {
	int32_t signo, err, code, pad;
	int32_t pid;
	uint32_t uid;
	uint8_t rest[104];
};

/* What the handler finds at its RSP: the return address (the restorer), then the rest. */
struct lx_rt_sigframe {
	uint64_t pretcode;
	struct lx_ucontext uc;
	struct lx_siginfo info;
};

_Static_assert(sizeof(struct lx_sigcontext) == 256, "struct sigcontext is 256 bytes");
_Static_assert(offsetof(struct lx_sigcontext, rip) == 128, "sigcontext.rip");
_Static_assert(offsetof(struct lx_sigcontext, cs) == 144, "sigcontext.cs");
_Static_assert(offsetof(struct lx_sigcontext, fpstate) == 184, "sigcontext.fpstate");
_Static_assert(sizeof(struct lx_stack) == 24, "stack_t");
_Static_assert(offsetof(struct lx_ucontext, mcontext) == 40, "ucontext.uc_mcontext");
_Static_assert(offsetof(struct lx_ucontext, sigmask) == 296, "ucontext.uc_sigmask");
_Static_assert(sizeof(struct lx_siginfo) == 128, "siginfo");
_Static_assert(offsetof(struct lx_rt_sigframe, uc) == 8, "rt_sigframe.uc");
_Static_assert(offsetof(struct lx_rt_sigframe, info) == 312, "rt_sigframe.info");
_Static_assert(sizeof(struct lx_rt_sigframe) == 440, "rt_sigframe");

static const char *const lx_signame[32] = {
	[SIGHUP] = "SIGHUP",	   [SIGINT] = "SIGINT",	      [SIGQUIT] = "SIGQUIT",
	[SIGILL] = "SIGILL",	   [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
	[SIGBUS] = "SIGBUS",	   [SIGFPE] = "SIGFPE",	      [SIGKILL] = "SIGKILL",
	[SIGUSR1] = "SIGUSR1",	   [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
	[SIGPIPE] = "SIGPIPE",	   [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
	[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",
	[SIGSTOP] = "SIGSTOP",	   [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
	[SIGTTOU] = "SIGTTOU",	   [SIGURG] = "SIGURG",	      [SIGXCPU] = "SIGXCPU",
	[SIGXFSZ] = "SIGXFSZ",	   [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
	[SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",	      [SIGPWR] = "SIGPWR",
	[SIGSYS] = "SIGSYS",
};

static void lx_sig_format(char *buf, size_t cap, int sig)
{
	if (sig > 0 && sig < 32 && lx_signame[sig])
		snprintf(buf, cap, "%s", lx_signame[sig]);
	else
		snprintf(buf, cap, "signal %d", sig);
}

/* ---- dispositions and the pending set ---- */

/* Ignored by default; SIGTSTP, SIGTTIN, SIGTTOU too, as in an orphaned process group. */
static int lx_sig_default_ignores(int sig)
{
	return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT ||
	       sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static int lx_sig_ignored(const struct lx_proc *p, int sig)
{
	uint64_t h = p->sig[sig].handler;

	return h == LX_SIG_IGN || (h == LX_SIG_DFL && lx_sig_default_ignores(sig));
}

static void lx_raise_code(struct lx_proc *p, int sig, int code)
{
	if (sig < 1 || sig > LX_NSIG)
		return;
	/* Linux drops an ignored signal at once, unless blocked (the disposition may change). */
	if (!(p->sigmask & LX_SIGBIT(sig)) && lx_sig_ignored(p, sig))
		return;
	p->pending |= LX_SIGBIT(sig);
	p->si_code[sig] = code;
}

void lx_signal_raise(struct lx_proc *p, int sig)
{
	lx_raise_code(p, sig, LX_SI_USER);
}

/* Drops the pending signals in set that would be ignored on delivery. */
static void lx_drop_ignored(struct lx_proc *p, uint64_t set)
{
	for (int sig = 1; sig <= LX_NSIG; sig++)
		if ((set & p->pending & LX_SIGBIT(sig)) && lx_sig_ignored(p, sig))
			p->pending &= ~LX_SIGBIT(sig);
}

int64_t lx_signal_kill(struct lx_call *c, int sig)
{
	char name[24];

	lx_sig_format(name, sizeof(name), sig);
	/* abort() (assert() too) is how a guest gives up: the run ends as an abort, status 134. */
	c->vm->res->end = sig == SIGABRT ? VM_END_ABORT : VM_END_EXIT;
	c->vm->res->status = 128 + sig;
	snprintf(c->vm->res->message, sizeof(c->vm->res->message), "killed by %s", name);
	return LX_STOP;
}

/*
 * Ends the run with SIGSEGV, as Linux forces it when a signal frame cannot
 * be built or taken apart; the reason goes to the guest's stderr as well,
 * since a status of 139 alone would not say that mvmm chose it.
 */
__attribute__((format(printf, 2, 3))) static int64_t lx_segv(struct lx_call *c, const char *fmt,
							     ...)
{
	char why[200], line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	n = snprintf(line, sizeof(line), "mvmm: %s: killed by SIGSEGV\n", why);
	if (n > 0)
		lx_stream_write(c, 2, line,
				(size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	lx_signal_kill(c, SIGSEGV);
	snprintf(c->vm->res->message, sizeof(c->vm->res->message), "killed by SIGSEGV (%s)", why);
	return LX_STOP;
}

/* ---- the alternate stack ---- */

/* Whether sp lies on the alternate stack (Linux's __on_sig_stack: its top counts, its base not). */
static int lx_in_altstack(const struct lx_proc *p, uint64_t sp)
{
	return sp > p->altstack_sp && sp - p->altstack_sp <= p->altstack_size;
}

/* on_sig_stack: with SS_AUTODISARM the stack is off while in use, so never "on" it. */
static int lx_on_altstack(const struct lx_proc *p, uint64_t sp)
{
	if ((uint32_t)p->altstack_flags & LX_SS_AUTODISARM)
		return 0;
	return lx_in_altstack(p, sp);
}

static uint32_t lx_ss_flags(const struct lx_proc *p, uint64_t sp)
{
	if (!p->altstack_size)
		return LX_SS_DISABLE;
	return lx_on_altstack(p, sp) ? LX_SS_ONSTACK : 0;
}

/* do_sigaltstack's checks and change; sp is the program's stack pointer now. 0 or -errno. */
static int lx_altstack_set(struct lx_proc *p, const struct lx_stack *ss, uint64_t sp)
{
	uint32_t flags = (uint32_t)ss->flags, mode = flags & ~LX_SS_AUTODISARM;
	uint64_t base = ss->sp, size = ss->size;

	if (lx_on_altstack(p, sp))
		return -EPERM;
	if (mode != LX_SS_DISABLE && mode != LX_SS_ONSTACK && mode != 0)
		return -EINVAL;
	if (mode == LX_SS_DISABLE) {
		base = 0;
		size = 0;
	} else if (size < LX_MINSIGSTKSZ) {
		return -ENOMEM;
	}
	p->altstack_sp = base;
	p->altstack_size = size;
	p->altstack_flags = (int)flags;
	return 0;
}

static struct lx_stack lx_altstack_get(const struct lx_proc *p, uint64_t sp)
{
	return (struct lx_stack){
		.sp = p->altstack_sp,
		.flags = (int32_t)(lx_ss_flags(p, sp) |
				   ((uint32_t)p->altstack_flags & LX_SS_AUTODISARM)),
		.size = p->altstack_size,
	};
}

LX_HANDLER(sigaltstack)
{
	struct lx_stack ss, old = lx_altstack_get(c->p, c->regs->rsp);
	int r;

	if (c->a[0] && lx_get(c, c->a[0], &ss, sizeof(ss)) < 0)
		return -EFAULT;
	if (c->a[1] && !lx_uptr(c, c->a[1], sizeof(old), 1))
		return -EFAULT;
	if (c->a[0] && (r = lx_altstack_set(c->p, &ss, c->regs->rsp)) < 0)
		return r;
	return c->a[1] ? lx_put(c, c->a[1], &old, sizeof(old)) : 0;
}

/* ---- dispositions and the mask ---- */

LX_HANDLER(rt_sigaction)
{
	int64_t sig = (int)c->a[0];
	uint64_t act_gva = c->a[1], old_gva = c->a[2];
	struct lx_sigaction act, old;

	if (c->a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (act_gva && lx_get(c, act_gva, &act, sizeof(act)) < 0)
		return -EFAULT;
	if (sig < 1 || sig > LX_NSIG || (act_gva && (sig == SIGKILL || sig == SIGSTOP)))
		return -EINVAL;
	/* Checked before the change, so that an EFAULT leaves the disposition as it was. */
	if (old_gva && !lx_uptr(c, old_gva, sizeof(old), 1))
		return -EFAULT;
	old = c->p->sig[sig];
	if (act_gva) {
		act.flags &= LX_SA_KNOWN;
		act.mask &= ~LX_UNBLOCKABLE;
		c->p->sig[sig] = act;
		/* POSIX: setting a disposition that ignores discards the signal if pending. */
		lx_drop_ignored(c->p, LX_SIGBIT(sig));
	}
	return old_gva ? lx_put(c, old_gva, &old, sizeof(old)) : 0;
}

LX_HANDLER(rt_sigprocmask)
{
	struct lx_proc *p = c->p;
	uint64_t set, old = p->sigmask, mask = p->sigmask;

	if (c->a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (c->a[1]) {
		if (lx_get(c, c->a[1], &set, sizeof(set)) < 0)
			return -EFAULT;
		switch ((int)c->a[0]) {
		case SIG_BLOCK:
			mask |= set;
			break;
		case SIG_UNBLOCK:
			mask &= ~set;
			break;
		case SIG_SETMASK:
			mask = set;
			break;
		default:
			return -EINVAL;
		}
	}
	if (c->a[2] && !lx_uptr(c, c->a[2], sizeof(old), 1))
		return -EFAULT;
	p->sigmask = mask & ~LX_UNBLOCKABLE;
	return c->a[2] ? lx_put(c, c->a[2], &old, sizeof(old)) : 0;
}

/* ---- sending (only to itself) ---- */

static int64_t lx_send(struct lx_call *c, int64_t sig, int code)
{
	if (sig < 0 || sig > LX_NSIG)
		return -EINVAL;
	if (sig)
		lx_raise_code(c->p, (int)sig, code); /* lx_entry.c delivers it after the result */
	return 0;
}

/*
 * The guest is pid 1 and the only process, but not init as Linux protects
 * it: a default action applies to it as to any process (abort() ends it).
 * kill(-1) reaches every process but the caller: none, so ESRCH.
 */
LX_HANDLER(kill)
{
	int64_t pid = (int)c->a[0];

	if (pid != 0 && pid != 1)
		return -ESRCH;
	return lx_send(c, (int)c->a[1], LX_SI_USER);
}

LX_HANDLER(tkill)
{
	int64_t tid = (int)c->a[0];

	if (tid <= 0)
		return -EINVAL;
	if (tid != 1)
		return -ESRCH;
	return lx_send(c, (int)c->a[1], LX_SI_TKILL);
}

LX_HANDLER(tgkill)
{
	int64_t tgid = (int)c->a[0], tid = (int)c->a[1];

	if (tgid <= 0 || tid <= 0)
		return -EINVAL;
	if (tgid != 1 || tid != 1)
		return -ESRCH;
	return lx_send(c, (int)c->a[2], LX_SI_TKILL);
}

/* ---- waiting for one: nothing else can send it ---- */

static int64_t lx_wait_signal(struct lx_call *c, uint64_t mask, const char *call)
{
	lx_drop_ignored(c->p, ~mask);
	if (c->p->pending & ~mask)
		return -EINTR; /* lx_entry.c delivers it now */
	exit_guest_error(c->vm,
			 "%s waits for a signal that nothing can send (the guest is the "
			 "only process and has one thread)",
			 call);
	return LX_STOP;
}

LX_HANDLER(pause)
{
	return lx_wait_signal(c, c->p->sigmask, "pause");
}

/* The handler runs with the temporary mask; its frame keeps the old one for sigreturn. */
LX_HANDLER(rt_sigsuspend)
{
	struct lx_proc *p = c->p;
	uint64_t mask;
	int64_t r;

	if (c->a[1] != sizeof(uint64_t))
		return -EINVAL;
	if (lx_get(c, c->a[0], &mask, sizeof(mask)) < 0)
		return -EFAULT;
	mask &= ~LX_UNBLOCKABLE;
	r = lx_wait_signal(c, mask, "rt_sigsuspend");
	if (r == -EINTR) {
		p->saved_mask = p->sigmask;
		p->saved_mask_set = 1;
		p->sigmask = mask;
	}
	return r;
}

/* The pending signals that are blocked: an unblocked one would have been delivered already. */
LX_HANDLER(rt_sigpending)
{
	uint64_t set = c->p->pending & c->p->sigmask;

	if (c->a[1] > sizeof(set))
		return -EINVAL;
	return c->a[1] ? lx_put(c, c->a[0], &set, c->a[1]) : 0;
}

/*
 * sigwaitinfo / sigtimedwait: takes a pending signal of the set (one the
 * program raised while blocking it), else sleeps out the timeout; with no
 * timeout nothing could ever come.
 */
LX_HANDLER(rt_sigtimedwait)
{
	struct lx_proc *p = c->p;
	struct {
		int64_t sec, nsec;
	} ts = {0, 0};
	struct lx_siginfo si;
	uint64_t set, ready;
	int64_t r;
	int sig;

	if (c->a[3] != sizeof(set))
		return -EINVAL;
	if (lx_get(c, c->a[0], &set, sizeof(set)) < 0)
		return -EFAULT;
	if (c->a[2] && lx_get(c, c->a[2], &ts, sizeof(ts)) < 0)
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
		return -EINVAL;
	if (c->a[1] && !lx_uptr(c, c->a[1], sizeof(si), 1))
		return -EFAULT; /* checked first, so that the signal is not lost */
	ready = p->pending & set & ~LX_UNBLOCKABLE;
	if (ready) {
		sig = __builtin_ctzll(ready) + 1;
		p->pending &= ~LX_SIGBIT(sig);
		memset(&si, 0, sizeof(si));
		si.signo = sig;
		si.code = p->si_code[sig];
		si.pid = 1;
		si.uid = (uint32_t)lx_sys_getuid(c);
		return c->a[1] && lx_put(c, c->a[1], &si, sizeof(si)) < 0 ? -EFAULT : sig;
	}
	if (!c->a[2]) {
		exit_guest_error(c->vm, "rt_sigtimedwait waits for a signal that nothing can send "
					"(the guest is the only process and has one thread)");
		return LX_STOP;
	}
	if ((uint64_t)ts.sec >= UINT64_MAX / 1000000000ull - 1)
		r = lx_sleep_ns(c, UINT64_MAX);
	else
		r = lx_sleep_ns(c, (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec);
	return r == LX_STOP ? r : -EAGAIN;
}

/* ---- delivery ---- */

static void lx_regs_to_sc(const struct kvm_regs *r, struct lx_sigcontext *sc)
{
	sc->r8 = r->r8;
	sc->r9 = r->r9;
	sc->r10 = r->r10;
	sc->r11 = r->r11;
	sc->r12 = r->r12;
	sc->r13 = r->r13;
	sc->r14 = r->r14;
	sc->r15 = r->r15;
	sc->rdi = r->rdi;
	sc->rsi = r->rsi;
	sc->rbp = r->rbp;
	sc->rbx = r->rbx;
	sc->rdx = r->rdx;
	sc->rax = r->rax;
	sc->rcx = r->rcx;
	sc->rsp = r->rsp;
	sc->rip = r->rip;
	sc->eflags = r->rflags;
	sc->cs = MVMM_SEL_UCODE;
	sc->ss = MVMM_SEL_UDATA;
}

static void lx_sc_to_regs(const struct lx_sigcontext *sc, struct kvm_regs *r)
{
	r->r8 = sc->r8;
	r->r9 = sc->r9;
	r->r10 = sc->r10;
	r->r11 = sc->r11;
	r->r12 = sc->r12;
	r->r13 = sc->r13;
	r->r14 = sc->r14;
	r->r15 = sc->r15;
	r->rdi = sc->rdi;
	r->rsi = sc->rsi;
	r->rbp = sc->rbp;
	r->rbx = sc->rbx;
	r->rdx = sc->rdx;
	r->rax = sc->rax;
	r->rcx = sc->rcx;
	r->rsp = sc->rsp;
	r->rip = sc->rip;
	/* Only what a program may set; IF stays on (the guest could never be interrupted without
	 * it). */
	r->rflags = (sc->eflags & LX_RFLAGS_SET) | LX_RFLAGS_IF | 0x2;
}

/*
 * Where the frame goes (Linux's get_sigframe): below the red zone, or at
 * the top of the alternate stack for SA_ONSTACK when one is set and not in
 * use; the extended state 64-byte aligned above the frame; the frame so
 * that the handler starts as if called ((RSP + 8) % 16 == 0). 0: it would
 * overflow the alternate stack.
 */
static uint64_t lx_frame_place(const struct lx_proc *p, const struct lx_sigaction *act,
			       uint64_t rsp, uint32_t fpsize, uint64_t *fp_gva)
{
	uint64_t sp = rsp - LX_RED_ZONE, frame;
	int nested = lx_on_altstack(p, rsp), entering = 0;

	if ((act->flags & LX_SA_ONSTACK) && lx_ss_flags(p, sp) == 0) {
		sp = p->altstack_sp + p->altstack_size;
		entering = 1;
	}
	if (fpsize)
		sp = (sp - fpsize) & ~63ull;
	*fp_gva = fpsize ? sp : 0;
	frame = ((sp - sizeof(struct lx_rt_sigframe)) & ~15ull) - 8;
	if ((nested || entering) && !lx_in_altstack(p, frame))
		return 0;
	return frame;
}

/* Builds sig's frame and points the registers at the handler. 0, or LX_STOP. */
static int64_t lx_enter_handler(struct lx_call *c, int sig, const struct lx_sigaction *act)
{
	struct lx_proc *p = c->p;
	struct kvm_regs *r = c->regs;
	uint64_t oldmask = p->saved_mask_set ? p->saved_mask : p->sigmask, frame, fp_gva;
	struct lx_rt_sigframe f;
	struct kvm_xsave xs;
	uint32_t fpsize;
	char name[24];

	lx_sig_format(name, sizeof(name), sig);
	/* Linux x86-64 has no default return path: without a restorer the frame cannot be built. */
	if (!(act->flags & LX_SA_RESTORER))
		return lx_segv(c, "the handler of %s has no restorer (SA_RESTORER)", name);
	if (act->handler >= LX_USER_TOP)
		return lx_segv(c, "the handler of %s is at a kernel address", name);
	fpsize = lx_fpu_save(c, &xs);
	frame = lx_frame_place(p, act, r->rsp, fpsize, &fp_gva);
	if (!frame)
		return lx_segv(c, "the frame of %s overflows the alternate signal stack", name);

	memset(&f, 0, sizeof(f));
	f.pretcode = act->restorer;
	f.uc.flags = LX_UC_SIGCONTEXT_SS | LX_UC_STRICT_RESTORE_SS |
		     (fpsize > LX_FXSAVE_SIZE ? LX_UC_FP_XSTATE : 0);
	f.uc.stack = lx_altstack_get(p, r->rsp);
	lx_regs_to_sc(r, &f.uc.mcontext);
	f.uc.mcontext.oldmask = oldmask;
	f.uc.mcontext.fpstate = fp_gva;
	f.uc.sigmask = oldmask;
	f.info.signo = sig;
	f.info.code = p->si_code[sig];
	f.info.pid = 1;
	f.info.uid = (uint32_t)lx_sys_getuid(c);
	if (lx_put(c, frame, &f, sizeof(f)) < 0 ||
	    (fpsize && lx_put(c, fp_gva, xs.region, fpsize) < 0))
		return lx_segv(c, "no room for the frame of %s at 0x%llx (stack pointer 0x%llx)",
			       name, (unsigned long long)frame, (unsigned long long)r->rsp);

	/* SS_AUTODISARM: off while a handler runs (any handler, as Linux); the frame keeps it. */
	if ((uint32_t)p->altstack_flags & LX_SS_AUTODISARM) {
		p->altstack_sp = p->altstack_size = 0;
		p->altstack_flags = 0;
	}
	p->saved_mask_set = 0;
	p->sigmask |= act->mask | (act->flags & LX_SA_NODEFER ? 0 : LX_SIGBIT(sig));
	p->sigmask &= ~LX_UNBLOCKABLE;
	if (act->flags & LX_SA_RESETHAND)
		p->sig[sig].handler = LX_SIG_DFL;

	r->rdi = (uint64_t)sig;
	r->rsi = frame + offsetof(struct lx_rt_sigframe, info);
	r->rdx = frame + offsetof(struct lx_rt_sigframe, uc);
	r->rax = 0; /* for a handler declared without a prototype (varargs) */
	r->rsp = frame;
	r->rip = act->handler;
	r->rflags &= ~(LX_RFLAGS_DF | LX_RFLAGS_TF | LX_RFLAGS_RF);
	return 0;
}

/* The default action: nothing, or the end of the run. 0, or LX_STOP. */
static int64_t lx_default_action(struct lx_call *c, int sig)
{
	if (lx_sig_default_ignores(sig))
		return 0;
	if (sig == SIGSTOP) {
		exit_guest_error(c->vm, "stopped by SIGSTOP, and nothing can send the SIGCONT that "
					"would continue it (the guest is the only process)");
		return LX_STOP;
	}
	return lx_signal_kill(c, sig);
}

/*
 * Like Linux on the way back to user mode: every pending unblocked signal,
 * lowest first; each handler's frame goes on top of the last, so the last
 * one taken runs first, and its mask keeps later ones pending.
 */
int64_t lx_signal_deliver(struct lx_call *c)
{
	struct lx_proc *p = c->p;
	uint64_t ready;

	while ((ready = p->pending & ~p->sigmask) != 0) {
		int sig = __builtin_ctzll(ready) + 1;
		struct lx_sigaction act = p->sig[sig];
		int64_t r = 0;

		p->pending &= ~LX_SIGBIT(sig);
		if (act.handler == LX_SIG_IGN)
			continue;
		if (act.handler == LX_SIG_DFL)
			r = lx_default_action(c, sig);
		else
			r = lx_enter_handler(c, sig, &act);
		if (r == LX_STOP)
			return r;
	}
	/* rt_sigsuspend's signal was ignored or taken by no handler: its mask ends here. */
	if (p->saved_mask_set) {
		p->sigmask = p->saved_mask;
		p->saved_mask_set = 0;
	}
	return 0;
}

/*
 * The handler returned to its restorer, which calls this: the frame's
 * ucontext sits at RSP (its `ret` popped pretcode). Everything is put back
 * from it: registers, extended state, mask, alternate stack.
 */
LX_HANDLER(rt_sigreturn)
{
	struct kvm_regs *r = c->regs;
	uint64_t uc_gva = r->rsp, frame = r->rsp - 8;
	const struct lx_sigcontext *sc;
	struct lx_ucontext uc;
	int64_t ret;

	if (lx_get(c, uc_gva, &uc, sizeof(uc)) < 0)
		return lx_segv(c, "rt_sigreturn: no signal frame at 0x%llx",
			       (unsigned long long)frame);
	sc = &uc.mcontext;
	if (sc->rip >= LX_USER_TOP || sc->rsp >= LX_USER_TOP)
		return lx_segv(c,
			       "rt_sigreturn: the frame at 0x%llx returns to 0x%llx with stack "
			       "0x%llx, not user addresses",
			       (unsigned long long)frame, (unsigned long long)sc->rip,
			       (unsigned long long)sc->rsp);
	if (sc->fpstate &&
	    (ret = lx_fpu_restore(c, sc->fpstate, !!(uc.flags & LX_UC_FP_XSTATE))) != 0) {
		if (ret == LX_STOP)
			return ret;
		return lx_segv(c,
			       "rt_sigreturn: bad extended state at 0x%llx in the frame at 0x%llx",
			       (unsigned long long)sc->fpstate, (unsigned long long)frame);
	}
	c->p->sigmask = uc.sigmask & ~LX_UNBLOCKABLE;
	lx_sc_to_regs(sc, r);
	/* As Linux's restore_altstack: errors other than EFAULT are not the frame's fault. */
	(void)lx_altstack_set(c->p, &uc.stack, r->rsp);
	return LX_JUMPED;
}
