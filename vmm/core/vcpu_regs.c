/*
 * vcpu_regs.c: registers at an exit through kvm_run's synced copy (one
 * system call is one exit and no register ioctl), and the MSRs that send
 * a guest's `syscall` to the VMM's entry page.
 */
#define _GNU_SOURCE
#include "vcpu_regs.h"

#include <string.h>
#include <sys/ioctl.h>

#include "error.h"
#include "mvmm_abi.h"
#include "vm.h"

#define MSR_STAR  0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u

/* RFLAGS bits a syscall clears: TF, IF, DF (only the entry's two instructions run with them). */
#define SYSCALL_FMASK 0x700u

int vcpu_regs_setup(struct vm *vm)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 3;
	m.e[0].index = MSR_LSTAR;
	m.e[0].data = MVMM_SYSCALL_GPA;
	/* sysret's selectors, for a CPU that really enters ring 0 at LSTAR. */
	m.e[1].index = MSR_STAR;
	m.e[1].data = ((uint64_t)(MVMM_SEL_UDATA - 8) << 48) | ((uint64_t)MVMM_SEL_KCODE << 32);
	m.e[2].index = MSR_FMASK;
	m.e[2].data = SYSCALL_FMASK;
	if (ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) != 3)
		return err_sys("KVM_SET_MSRS (system-call entry)");
	if (vm->kvm->sync_regs)
		vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	return 0;
}

struct kvm_regs *vcpu_regs_get(struct vm *vm)
{
	if (vm->kvm->sync_regs)
		return &vm->run->s.regs.regs;
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &vm->regs) < 0) {
		err_sys("KVM_GET_REGS");
		return NULL;
	}
	return &vm->regs;
}

int vcpu_regs_put(struct vm *vm)
{
	if (vm->kvm->sync_regs) {
		vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &vm->regs) < 0)
		return err_sys("KVM_SET_REGS");
	return 0;
}
