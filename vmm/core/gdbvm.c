/*
 * gdbvm.c: the VM side of the gdb stub. A stop freezes the guest's user
 * registers here (from KVM at entry or on an interrupt, from the stub's
 * exception frame on a trap or fault); gdb reads and changes them and the
 * guest's memory; on resume they go back to the vCPU, at CPL3.
 *
 * Breakpoint bytes are written through this instance's own mapping of guest
 * memory: the image, a template and a file the guest mapped are all
 * MAP_PRIVATE there, so the write copies the page for this process and
 * never reaches the shared memfd or a host file; KVM's MMU notifier drops
 * the shadow entry of the old page, so a guest that already ran the code
 * sees the 0xCC (tests/cli/test_gdb.c sets a breakpoint in a page that ran
 * before and checks it hits). The guest's read-only 2 MiB pages
 * (--huge-pages) are refused: under hugetlbfs they are shared read-only.
 *
 * Cost (measured 2026-12-03 here, PVM, 1,000 stepi): from resume to the
 * next stop (segments and registers set, KVM_RUN, one instruction, #DB into
 * the ring-0 stub, its exit, registers read) ~56 us; a whole stepi with
 * gdb's packets ~0.33 ms, so gdb's own round trips dominate.
 */
#define _GNU_SOURCE
#include "gdbvm.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "exit.h"
#include "vcpu_regs.h"
#include "x86.h"

#define RFLAGS_TF 0x100ull
/* Flags gdb may change: CF PF AF ZF SF TF DF OF RF AC; bit 1 is always set, IF stays. */
#define RFLAGS_USER 0x40dd5ull

static int gv_get_regs(void *ctx, struct gdb_regs *r)
{
	struct gdb_link *l = ctx;
	const struct kvm_regs *k = &l->regs;
	struct kvm_sregs s;

	memset(r, 0, sizeof(*r));
	r->gpr[0] = k->rax, r->gpr[1] = k->rbx, r->gpr[2] = k->rcx, r->gpr[3] = k->rdx;
	r->gpr[4] = k->rsi, r->gpr[5] = k->rdi, r->gpr[6] = k->rbp, r->gpr[7] = k->rsp;
	r->gpr[8] = k->r8, r->gpr[9] = k->r9, r->gpr[10] = k->r10, r->gpr[11] = k->r11;
	r->gpr[12] = k->r12, r->gpr[13] = k->r13, r->gpr[14] = k->r14, r->gpr[15] = k->r15;
	r->rip = k->rip;
	r->eflags = k->rflags & 0xffffffffu;
	r->seg[0] = MVMM_SEL_UCODE;
	r->seg[1] = MVMM_SEL_UDATA;
	if (ioctl(l->vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	r->seg[2] = s.ds.selector, r->seg[3] = s.es.selector;
	r->seg[4] = s.fs.selector, r->seg[5] = s.gs.selector;
	r->fs_base = s.fs.base;
	r->gs_base = s.gs.base;
	return 0;
}

static int gv_set_regs(void *ctx, const struct gdb_regs *r)
{
	struct gdb_link *l = ctx;
	struct kvm_regs *k = &l->regs;

	k->rax = r->gpr[0], k->rbx = r->gpr[1], k->rcx = r->gpr[2], k->rdx = r->gpr[3];
	k->rsi = r->gpr[4], k->rdi = r->gpr[5], k->rbp = r->gpr[6], k->rsp = r->gpr[7];
	k->r8 = r->gpr[8], k->r9 = r->gpr[9], k->r10 = r->gpr[10], k->r11 = r->gpr[11];
	k->r12 = r->gpr[12], k->r13 = r->gpr[13], k->r14 = r->gpr[14], k->r15 = r->gpr[15];
	k->rip = r->rip;
	k->rflags = (k->rflags & ~RFLAGS_USER) | (r->eflags & RFLAGS_USER) | 0x2;
	return 0;
}

/*
 * The host pointer for [addr, addr + len) if every page of it is mapped
 * present and user in the guest's page tables (guest virtual addresses are
 * guest-physical ones in mvmm's layout); write: not a read-only 2 MiB page.
 */
static uint8_t *gv_ptr(const struct vm *vm, uint64_t addr, size_t len, int write)
{
	uint8_t *p = write ? gmem_user_ptr_rw(&vm->mem, addr, len) : gmem_user_ptr(&vm->mem, addr, len);
	uint64_t pg;

	if (!p || len == 0)
		return p;
	for (pg = addr / MVMM_PAGE_SIZE; pg <= (addr + len - 1) / MVMM_PAGE_SIZE; pg++)
		if (!vm_user_readable(vm, pg))
			return NULL;
	return p;
}

static int gv_read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct gdb_link *l = ctx;
	const uint8_t *p = gv_ptr(l->vm, addr, len, 0);

	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

static int gv_write_mem(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	struct gdb_link *l = ctx;
	uint8_t *p = gv_ptr(l->vm, addr, len, 1);

	if (!p)
		return -1;
	memcpy(p, buf, len); /* a private copy-on-write mapping: this instance only */
	return 0;
}

static const struct gdb_target_ops gv_ops = {
	.get_regs = gv_get_regs,
	.set_regs = gv_set_regs,
	.read_mem = gv_read_mem,
	.write_mem = gv_write_mem,
};

/*
 * Waits (bounded by the run's deadline) for gdb to connect. Data from gdb
 * then raises VM_KICK_SIGNAL on this thread, so a Ctrl-C interrupts
 * KVM_RUN (gdbvm_kicked). 0, or -1 with the run's end set.
 */
static int gv_accept(struct vm *vm)
{
	struct gdb_link *l = vm->gdb;
	struct pollfd p = {.fd = l->listen_fd, .events = POLLIN};
	struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid)};
	int one = 1, fd, r;

	fprintf(stderr, "mvmm: gdb: waiting on %s\n", l->where);
	for (;;) {
		int ms = -1;

		if (vm->deadline_ns) {
			uint64_t now = vm_now_ns();

			if (now >= vm->deadline_ns) {
				vm->res->end = VM_END_TIMEOUT;
				return -1;
			}
			ms = (int)((vm->deadline_ns - now) / 1000000 + 1);
		}
		r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR) {
			exit_host_error(vm, "gdb: waiting for a connection: %s", strerror(errno));
			return -1;
		}
		if (r <= 0)
			continue;
		fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
			exit_host_error(vm, "gdb: accept: %s", strerror(errno));
			return -1;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on unix sockets */
	if (fcntl(fd, F_SETOWN_EX, &owner) < 0 || fcntl(fd, F_SETSIG, VM_KICK_SIGNAL) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK | O_ASYNC) < 0) {
		close(fd);
		exit_host_error(vm, "gdb: setting up the connection: %s", strerror(errno));
		return -1;
	}
	l->conn = fd;
	gdb_stub_init(&l->stub, fd, &gv_ops, l);
	l->stub.has_offset = l->has_bias;
	l->stub.offset = l->load_bias;
	l->stub.deadline_ns = vm->deadline_ns;
	fprintf(stderr, "mvmm: gdb: connected\n");
	return 0;
}

static void gv_close(struct gdb_link *l)
{
	if (l->conn < 0)
		return;
	gdb_stub_clear_bps(&l->stub);
	close(l->conn);
	l->conn = -1;
	l->done = 1;
}

/* Puts the stop's registers back in the vCPU, at CPL3. */
static int gv_put_regs(struct vm *vm, int step)
{
	struct gdb_link *l = vm->gdb;
	struct kvm_sregs s, user;

	l->regs.rflags = step ? l->regs.rflags | RFLAGS_TF : l->regs.rflags & ~RFLAGS_TF;
	if (l->from_stub) {
		/* Leave the ring-0 stub: only CS and SS change; FS and GS keep their bases. */
		if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
			return -1;
		user = s;
		x86_user_sregs(&user, vm->kvm->xcr0 != 0);
		s.cs = user.cs;
		s.ss = user.ss;
		if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
			return -1;
		l->from_stub = 0;
	}
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &l->regs) < 0)
		return -1;
	/* These registers win over a system call's answer still pending in kvm_run's copy. */
	vm->run->kvm_dirty_regs &= ~(uint64_t)KVM_SYNC_X86_REGS;
	return 0;
}

/* Serves one stop; what the run does next. */
static enum exit_action gv_stop(struct vm *vm, int sig, int swbreak)
{
	struct gdb_link *l = vm->gdb;
	enum gdb_resume how = gdb_stub_serve(&l->stub, sig, swbreak);

	switch (how) {
	case GDB_KILL:
		gv_close(l);
		return exit_host_error(vm, "killed by gdb");
	case GDB_TIMEOUT:
		gv_close(l);
		vm->res->end = VM_END_TIMEOUT;
		return EXIT_STOP;
	case GDB_DETACH:
	case GDB_GONE:
		gv_close(l);
		break;
	default:
		break;
	}
	if (gv_put_regs(vm, how == GDB_STEP) < 0)
		return exit_host_error(vm, "gdb: resuming the guest: %s", strerror(errno));
	return EXIT_CONTINUE;
}

/* A stop where the vCPU itself holds the guest's registers (entry, an interrupt). */
static enum exit_action gv_stop_here(struct vm *vm, int sig)
{
	struct gdb_link *l = vm->gdb;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &l->regs) < 0)
		return exit_host_error(vm, "gdb: reading registers: %s", strerror(errno));
	l->from_stub = 0;
	return gv_stop(vm, sig, 0);
}

enum exit_action gdbvm_start(struct vm *vm)
{
	struct gdb_link *l = vm->gdb;

	l->vm = vm;
	if (l->on_fault || l->done || l->conn >= 0)
		return EXIT_CONTINUE;
	if (gv_accept(vm) < 0)
		return EXIT_STOP;
	return gv_stop_here(vm, GDB_SIGTRAP);
}

int gdbvm_traps(const struct vm *vm, unsigned vector)
{
	return vm->gdb && vm->gdb->conn >= 0 && (vector == 1 || vector == 3);
}

/* The registers of a stop inside a ring-0 stub: the guest's, with the frame's RIP, RSP, RFLAGS. */
static void gv_from_frame(struct gdb_link *l, const struct vm_fault *f)
{
	l->regs = f->regs;
	l->regs.rip = f->rip;
	l->regs.rsp = f->rsp;
	l->regs.rflags = f->rflags & ~RFLAGS_TF;
	l->from_stub = 1;
}

enum exit_action gdbvm_trap(struct vm *vm, const struct vm_fault *f)
{
	struct gdb_link *l = vm->gdb;
	int swbreak = 0;

	gv_from_frame(l, f);
	/* int3 traps after itself: at one of gdb's breakpoints, RIP goes back onto it. */
	if (f->vector == 3 && gdb_stub_is_bp(&l->stub, f->rip - 1)) {
		l->regs.rip = f->rip - 1;
		swbreak = 1;
	}
	return gv_stop(vm, GDB_SIGTRAP, swbreak);
}

static int gv_signal_of(unsigned vector)
{
	switch (vector) {
	case 0:
	case 16:
	case 19:
		return GDB_SIGFPE;
	case 1:
	case 3:
		return GDB_SIGTRAP;
	case 6:
		return GDB_SIGILL;
	case 17:
		return GDB_SIGBUS;
	default:
		return GDB_SIGSEGV;
	}
}

enum exit_action gdbvm_fault(struct vm *vm, const struct vm_fault *f)
{
	struct gdb_link *l = vm->gdb;
	struct vm_result *res = vm->res;
	enum exit_action act;

	if (f->triple || l->done || (l->conn < 0 && !l->on_fault))
		return EXIT_STOP;
	/* The report first, so that whoever attaches knows what happened. */
	if (res->report)
		fprintf(stderr, "mvmm: %s", res->report);
	else
		fprintf(stderr, "mvmm: guest fault: %s\n", res->message);
	free(res->report);
	res->report = NULL;
	if (l->conn < 0 && gv_accept(vm) < 0)
		return EXIT_STOP;
	gv_from_frame(l, f);
	l->regs.rflags = f->rflags; /* as it was: gdb sees the guest's own TF */
	act = gv_stop(vm, gv_signal_of(f->vector), 0);
	if (act == EXIT_STOP)
		return act;
	if (l->conn < 0)
		return EXIT_STOP; /* detached at the fault: the run ends with it */
	res->end = VM_END_NONE; /* gdb continues (after changing RIP, one hopes) */
	res->message[0] = '\0';
	return EXIT_CONTINUE;
}

enum exit_action gdbvm_after_syscall(struct vm *vm)
{
	struct gdb_link *l = vm->gdb;
	const struct kvm_regs *r;

	if (l->conn < 0)
		return EXIT_CONTINUE;
	r = vcpu_regs_get(vm);
	if (!r)
		return exit_host_error(vm, "%s", mvmm_errmsg());
	if (!(r->rflags & RFLAGS_TF))
		return EXIT_CONTINUE;
	l->regs = *r;
	l->regs.rflags &= ~RFLAGS_TF;
	l->from_stub = 0;
	return gv_stop(vm, GDB_SIGTRAP, 0);
}

enum exit_action gdbvm_kicked(struct vm *vm)
{
	struct gdb_link *l = vm->gdb;
	struct kvm_sregs s;
	int r;

	if (l->conn < 0)
		return EXIT_CONTINUE;
	r = gdb_stub_poll_interrupt(&l->stub);
	if (r < 0) {
		gv_close(l); /* gdb went away while the guest ran: it runs on */
		return EXIT_CONTINUE;
	}
	if (r == 0)
		return EXIT_CONTINUE;
	/* Only at CPL3; in a ring-0 stub the next exit is its report anyway. */
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return exit_host_error(vm, "gdb: reading segments: %s", strerror(errno));
	if ((s.cs.selector & 3) != 3)
		return EXIT_CONTINUE;
	return gv_stop_here(vm, GDB_SIGINT);
}

void gdbvm_end(struct vm *vm)
{
	struct gdb_link *l = vm->gdb;
	const struct vm_result *res = vm->res;

	if (l->conn < 0)
		return;
	if (res->end == VM_END_EXIT)
		gdb_stub_exited(&l->stub, 1, res->status);
	else
		gdb_stub_exited(&l->stub, 0,
				res->end == VM_END_FAULT && !res->fault.triple
					? gv_signal_of(res->fault.vector)
					: 9 /* SIGKILL: ended by the host, a timeout, a triple fault */);
	gv_close(l);
}
