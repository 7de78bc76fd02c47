/* exit.c: the vCPU exit dispatcher. */
#define _GNU_SOURCE
#include "exit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"
#include "gdbvm.h"
#include "mvmm_abi.h"
#include "x86.h"

static enum exit_action exit_end(struct vm *vm, enum vm_end end, const char *fmt, va_list ap)
{
	vm->res->end = end;
	vsnprintf(vm->res->message, sizeof(vm->res->message), fmt, ap);
	return EXIT_STOP;
}

enum exit_action exit_guest_error(struct vm *vm, const char *fmt, ...)
{
	enum exit_action act;
	va_list ap;

	va_start(ap, fmt);
	act = exit_end(vm, VM_END_GUEST_ERROR, fmt, ap);
	va_end(ap);
	return act;
}

enum exit_action exit_host_error(struct vm *vm, const char *fmt, ...)
{
	enum exit_action act;
	va_list ap;

	va_start(ap, fmt);
	act = exit_end(vm, VM_END_HOST_ERROR, fmt, ap);
	va_end(ap);
	return act;
}

static enum exit_action exit_io(struct vm *vm, const struct kvm_run *run)
{
	unsigned port = run->io.port;
	uint32_t value;

	if (run->io.direction == KVM_EXIT_IO_OUT && port == MVMM_FAULT_PORT && run->io.size == 1)
		return fault_capture(vm, 0);
	if (run->io.direction == KVM_EXIT_IO_OUT && port == MVMM_SYSCALL_PORT &&
	    run->io.size == 1 && run->io.count == 1) {
		if (!vm->up || !vm->up->syscall)
			return exit_guest_error(vm, "a Linux system call (the syscall instruction) "
						    "in a program built for the mvmm SDK");
		if (vm->up->syscall(vm) == EXIT_STOP)
			return EXIT_STOP;
		return vm->gdb ? gdbvm_after_syscall(vm) : EXIT_CONTINUE;
	}
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 || run->io.count != 1 ||
	    port < MVMM_HC_PORT_BASE || port >= MVMM_HC_PORT_BASE + X86_HC_PORT_SLOTS)
		return exit_guest_error(vm, "port I/O (%s port 0x%x, %u bytes) is not a hypercall",
					run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", port,
					run->io.size);
	if (!vm->up || !vm->up->hypercall)
		return exit_guest_error(vm, "hypercall on port 0x%x, but this VM has no guest ABI",
					port);
	memcpy(&value, (const uint8_t *)run + run->io.data_offset, sizeof(value));
	return vm->up->hypercall(vm, port - MVMM_HC_PORT_BASE, value);
}

enum exit_action exit_dispatch(struct vm *vm)
{
	const struct kvm_run *run = vm->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return exit_io(vm, run);
	case KVM_EXIT_SHUTDOWN:
		return fault_capture(vm, 1);
	case KVM_EXIT_HLT:
		return exit_guest_error(vm, "the guest halted");
	case KVM_EXIT_MMIO:
		return exit_guest_error(vm, "access to unbacked guest-physical address 0x%llx",
					(unsigned long long)run->mmio.phys_addr);
	case KVM_EXIT_FAIL_ENTRY:
		return exit_host_error(
			vm, "KVM could not enter the guest (reason 0x%llx)",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_host_error(vm, "KVM internal error (suberror %u)",
				       run->internal.suberror);
	default:
		return exit_host_error(vm, "unexpected KVM exit reason %u", run->exit_reason);
	}
}
