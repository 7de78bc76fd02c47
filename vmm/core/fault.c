/* fault.c: turn an exception frame into a crash report with symbols and disassembly. */
#define _GNU_SOURCE
#include "fault.h"

#include <capstone/capstone.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gwalk.h"
#include "layout.h"
#include "gdbvm.h"
#include "mvmm_abi.h"
#include "x86.h"

#define DISASM_BEFORE	6 /* instructions shown before the faulting one */
#define DISASM_AFTER	3
#define DISASM_MAX_BACK 2048 /* from a symbol's start, at most this far back */
#define DISASM_AHEAD	64

/* A growing string; on allocation failure it stops growing and reports NULL at the end. */
struct sbuf {
	char *s;
	size_t len, cap;
	int failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->failed = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* The symbol containing gpa, from the guest's program (vm->up), and gpa's offset into it. */
static const char *symbol_at(const struct vm *vm, uint64_t gpa, uint64_t *off)
{
	const char *name;
	uint64_t start = 0;

	if (!vm->up || !vm->up->symbol_at)
		return NULL;
	name = vm->up->symbol_at(vm, gpa, &start);
	if (name && off)
		*off = gpa - start;
	return name;
}

static void sb_symbol(struct sbuf *b, const struct vm *vm, uint64_t gpa)
{
	uint64_t off = 0;
	const char *name = symbol_at(vm, gpa, &off);

	if (name)
		sb_printf(b, "<%s+0x%lx>", name, (unsigned long)off);
	else
		sb_printf(b, "<?>");
}

static void describe_error_code(struct sbuf *b, const struct vm_fault *f)
{
	uint64_t e = f->error_code;

	sb_printf(b, "  error code 0x%lx", (unsigned long)e);
	if (f->vector == 14)
		sb_printf(b, " (%s %s, %s%s)", e & 4 ? "user" : "supervisor",
			  e & 16  ? "instruction fetch"
			  : e & 2 ? "write"
				  : "read",
			  e & 1 ? "protection violation" : "page not present",
			  e & 8 ? ", reserved bit set" : "");
	else if (e && f->vector != 8)
		sb_printf(b, " (selector index 0x%lx%s%s)", (unsigned long)(e >> 3),
			  e & 2 ? ", IDT" : "", e & 1 ? ", external" : "");
	sb_printf(b, "\n");
	if (f->vector == 14)
		sb_printf(b, "  faulting address (cr2) 0x%016lx\n", (unsigned long)f->cr2);
}

static void describe_registers(struct sbuf *b, const struct vm_fault *f)
{
	const struct kvm_regs *r = &f->regs;
	const struct {
		const char *name;
		uint64_t v;
	} regs[] = {
		{"rax", r->rax}, {"rbx", r->rbx},	{"rcx", r->rcx}, {"rdx", r->rdx},
		{"rsi", r->rsi}, {"rdi", r->rdi},	{"rbp", r->rbp}, {"rsp", f->rsp},
		{"r8", r->r8},	 {"r9", r->r9},		{"r10", r->r10}, {"r11", r->r11},
		{"r12", r->r12}, {"r13", r->r13},	{"r14", r->r14}, {"r15", r->r15},
		{"rip", f->rip}, {"rflags", f->rflags},
	};
	size_t i;

	sb_printf(b, "registers:\n");
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		sb_printf(b, "  %-6s 0x%016lx%s", regs[i].name, (unsigned long)regs[i].v,
			  i % 3 == 2 || i + 1 == sizeof(regs) / sizeof(regs[0]) ? "\n" : "");
}

/* Prints the instructions in insn[0..n) near rip, marking the one at rip. */
static int print_insns(struct sbuf *b, const struct vm *vm, const cs_insn *insn, size_t n,
		       uint64_t rip)
{
	size_t i, at = n, from, to;

	for (i = 0; i < n; i++)
		if (insn[i].address == rip)
			at = i;
	if (at == n)
		return -1;
	from = at > DISASM_BEFORE ? at - DISASM_BEFORE : 0;
	to = at + DISASM_AFTER + 1 < n ? at + DISASM_AFTER + 1 : n;
	for (i = from; i < to; i++) {
		sb_printf(b, "  %s 0x%lx ", i == at ? "=>" : "  ", (unsigned long)insn[i].address);
		sb_symbol(b, vm, insn[i].address);
		sb_printf(b, ":  %s %s\n", insn[i].mnemonic, insn[i].op_str);
	}
	return 0;
}

static size_t disasm_at(csh h, const struct gmem *mem, uint64_t start, uint64_t rip, cs_insn **insn)
{
	uint64_t len = rip - start + DISASM_AHEAD;
	const uint8_t *code;

	while (len > 0 && !(code = gmem_ptr(mem, start, len)))
		len--;
	if (len == 0)
		return 0;
	return cs_disasm(h, code, len, start, 0, insn);
}

/*
 * Disassembles from the start of RIP's symbol (so instruction boundaries
 * are right) when it is near, else from RIP itself.
 */
static void describe_code(struct sbuf *b, const struct vm *vm, uint64_t rip)
{
	const struct gmem *mem = &vm->mem;
	uint64_t off = 0, start = rip;
	cs_insn *insn = NULL;
	size_t n;
	csh h;

	sb_printf(b, "code:\n");
	if (!(gwalk_user(mem, rip) & GWALK_X)) {
		sb_printf(b, "  (nothing to show: rip 0x%lx is not in the guest's code)\n",
			  (unsigned long)rip);
		return;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		sb_printf(b, "  (disassembler unavailable)\n");
		return;
	}
	if (symbol_at(vm, rip, &off) && off <= DISASM_MAX_BACK)
		start = rip - off;
	n = disasm_at(h, mem, start, rip, &insn);
	if (print_insns(b, vm, insn, n, rip) < 0 && start != rip) {
		cs_free(insn, n);
		n = disasm_at(h, mem, rip, rip, &insn);
		if (print_insns(b, vm, insn, n, rip) < 0)
			sb_printf(b, "  (no valid instruction at rip)\n");
	} else if (n == 0) {
		sb_printf(b, "  (no valid instruction at rip)\n");
	}
	cs_free(insn, n);
	cs_close(&h);
}

/*
 * Why RIP itself may be the problem: 0 (a call through a null function
 * pointer, most often), or an address the guest has no code at.
 */
static void describe_rip(struct sbuf *b, const struct vm *vm, const struct vm_fault *f)
{
	unsigned acc = gwalk_user(&vm->mem, f->rip);

	if (f->rip == 0)
		sb_printf(b, "  rip 0: a call through a null function pointer?\n");
	else if (!acc)
		sb_printf(b, "  rip is not in mapped memory\n");
	else if (!(acc & GWALK_X))
		sb_printf(b, "  rip is in memory that is not executable (data or stack)\n");
}

/* A #PF in the guard page under the stack, or RSP already in it: the stack ran out. */
static void describe_stack(struct sbuf *b, const struct vm *vm, const struct vm_fault *f)
{
	uint64_t guard = layout_guard_page(vm->mem.size);
	int in_guard = f->vector == 14 && !f->triple && f->cr2 >= guard &&
		       f->cr2 < guard + MVMM_PAGE_SIZE;

	if (in_guard || (f->rsp >= guard && f->rsp < guard + MVMM_PAGE_SIZE))
		sb_printf(b,
			  "  stack overflow: %s the guard page below the %u KiB stack "
			  "(0x%lx-0x%lx)\n",
			  in_guard ? "the faulting address is in" : "rsp is in",
			  MVMM_STACK_SIZE >> 10, (unsigned long)guard,
			  (unsigned long)(guard + MVMM_PAGE_SIZE));
}

/*
 * The backtrace, from the layer that knows the program's files (vm->up).
 * When RIP is not code, the call that went there left its return address
 * at [rsp]: the walk starts from the caller.
 */
static void describe_backtrace(struct sbuf *b, const struct vm *vm, const struct vm_fault *f)
{
	uint64_t rip = f->rip, rsp = f->rsp;
	const uint64_t *ret;
	char *text;

	if (!vm->up || !vm->up->backtrace)
		return;
	if (!(gwalk_user(&vm->mem, rip) & GWALK_X)) {
		ret = gwalk_user_ptr(&vm->mem, rsp, sizeof(*ret));
		if (!ret || !(gwalk_user(&vm->mem, *ret) & GWALK_X)) {
			sb_printf(b, "backtrace:\n  (none: rip is not code and [rsp] holds no "
				     "return address)\n");
			return;
		}
		rip = *ret;
		rsp += sizeof(*ret);
		sb_printf(b, "backtrace (from the return address at [rsp]):\n");
	} else {
		sb_printf(b, "backtrace:\n");
	}
	text = vm->up->backtrace(vm, f, rip, rsp);
	if (text)
		sb_printf(b, "%s", text);
	else
		sb_printf(b, "  (unavailable)\n");
	free(text);
}

char *fault_format(const struct vm *vm, const struct vm_fault *f)
{
	struct sbuf b = {0};
	const char *name = x86_vector_name(f->vector);

	if (f->triple) {
		sb_printf(&b,
			  "guest fault: triple fault (the CPU shut the guest down) at rip 0x%lx ",
			  (unsigned long)f->rip);
	} else {
		sb_printf(&b, "guest fault: %s (%s, vector %u) at rip 0x%lx ",
			  name ? name : "unknown exception", x86_vector_mnemonic(f->vector),
			  f->vector, (unsigned long)f->rip);
	}
	sb_symbol(&b, vm, f->rip);
	sb_printf(&b, "\n");
	describe_rip(&b, vm, f);
	describe_stack(&b, vm, f);
	if (!f->triple)
		describe_error_code(&b, f);
	describe_registers(&b, f);
	describe_backtrace(&b, vm, f);
	describe_code(&b, vm, f->rip);
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static int read_frame(struct vm *vm, const struct kvm_regs *regs, struct vm_fault *f)
{
	const struct mvmm_fault_frame *fr;

	/* The frame must sit on the ring-0 stack, where only the CPU and the stubs write. */
	if (regs->rsp < MVMM_STUBS_GPA + MVMM_PAGE_SIZE ||
	    regs->rsp > MVMM_R0STACK_TOP - sizeof(*fr))
		return -1;
	fr = gmem_ptr(&vm->mem, regs->rsp, sizeof(*fr));
	if (!fr || fr->vector > 255)
		return -1;
	f->vector = (unsigned)fr->vector;
	f->error_code = fr->error_code;
	f->rip = fr->rip;
	f->rsp = fr->rsp;
	f->rflags = fr->rflags;
	return 0;
}

enum exit_action fault_capture(struct vm *vm, int triple)
{
	struct vm_fault *f = &vm->res->fault;
	struct kvm_sregs sregs;

	memset(f, 0, sizeof(*f));
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &f->regs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return exit_host_error(vm, "reading registers after a guest fault failed");
	f->triple = triple;
	f->cr2 = sregs.cr2;
	if (triple) {
		f->rip = f->regs.rip;
		f->rsp = f->regs.rsp;
		f->rflags = f->regs.rflags;
	} else if (read_frame(vm, &f->regs, f) < 0) {
		return exit_guest_error(vm, "malformed exception frame at 0x%llx",
					(unsigned long long)f->regs.rsp);
	}
	if (!triple && gdbvm_traps(vm, f->vector))
		return gdbvm_trap(vm, f); /* a breakpoint or a step, not a fault */
	vm->res->end = VM_END_FAULT;
	snprintf(vm->res->message, sizeof(vm->res->message), "%s at rip 0x%lx",
		 triple ? "triple fault" : x86_vector_mnemonic(f->vector), (unsigned long)f->rip);
	vm->res->report = fault_format(vm, f);
	return vm->gdb ? gdbvm_fault(vm, f) : EXIT_STOP;
}
