/*
 * gdbvm.h: a gdb attached to one VM: the listening socket the command
 * opened, the connection, and the stops the run loop and the fault path
 * hand to the protocol (gdbstub.h).
 *
 * How the debugger reaches the VMM under PVM (measured 2026-12-03 with a
 * probe of KVM_SET_GUEST_DEBUG): KVM_GUESTDBG_USE_SW_BP and SINGLESTEP do
 * not catch a CPL3 guest's int3 or its trap flag, since PVM runs CPL3
 * natively: #BP and #DB go through the guest's own IDT to the ring-0 stubs
 * (only the stubs' emulated ring-0 instructions gave KVM_EXIT_DEBUG). So
 * breakpoints are int3 bytes and single steps RFLAGS.TF, both arriving as
 * the stubs' fault report (vector 3 or 1); while gdb is attached those are
 * stops, not faults, and the guest resumes at the frame's RIP at CPL3.
 */
#ifndef MVMM_GDBVM_H
#define MVMM_GDBVM_H

#include <stdint.h>

#include "gdbstub.h"
#include "vm.h"

struct gdb_link {
	int listen_fd;	   /* owned by whoever opened it (cli_gdb.c) */
	int on_fault;	   /* wait for gdb at the first fault, not at entry */
	uint64_t instance; /* the one instance gdb gets (vm_config.instance) */
	int has_bias;
	uint64_t load_bias; /* qOffsets: where a PIE was placed */
	char where[200];    /* "127.0.0.1:1234 (target remote :1234)", for the waiting line */
	/* Set by the VM that claims the link: */
	int claimed;
	int conn; /* the connection, or -1 */
	int done; /* gdb came and went: no second session */
	struct vm *vm;
	struct kvm_regs regs; /* the guest's registers at this stop */
	int from_stub;	      /* stopped in a ring-0 stub: CS and SS go back to CPL3 on resume */
	struct gdb_stub stub;
};

/* Before the first guest instruction: waits for gdb unless on_fault. */
enum exit_action gdbvm_start(struct vm *vm);

/* Whether a fault report of this vector is a debugger stop (a connected gdb, #DB or #BP). */
int gdbvm_traps(const struct vm *vm, unsigned vector);

/* A #DB or #BP that gdbvm_traps took: a stop; resumes as gdb says. */
enum exit_action gdbvm_trap(struct vm *vm, const struct vm_fault *f);

/*
 * Any other fault (vm->res holds it and its report): prints the report,
 * waits for gdb if it is not there yet (on_fault), and lets it look. A
 * continue resumes the guest (the end is taken back); otherwise the run
 * ends with the fault.
 */
enum exit_action gdbvm_fault(struct vm *vm, const struct vm_fault *f);

/*
 * A system call was answered (the guest resumes after its `syscall`). The
 * CPU masked the trap flag on the way in (MSR_FMASK), so a single step over
 * `syscall` would otherwise stop one instruction late: the step ends here.
 */
enum exit_action gdbvm_after_syscall(struct vm *vm);

/* KVM_RUN came back interrupted: a Ctrl-C from gdb stops the guest. */
enum exit_action gdbvm_kicked(struct vm *vm);

/* The run ended: breakpoints out, gdb told the guest's end, connection closed. */
void gdbvm_end(struct vm *vm);

#endif
