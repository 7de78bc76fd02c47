/*
 * vcpu_regs.h: the general registers at an exit, read and written without
 * an ioctl where KVM offers KVM_CAP_SYNC_REGS; the system-call MSRs.
 */
#ifndef MVMM_VCPU_REGS_H
#define MVMM_VCPU_REGS_H

#include <linux/kvm.h>

struct vm;

/*
 * Points a new vCPU's `syscall` at MVMM_SYSCALL_GPA (MSR_LSTAR, STAR,
 * FMASK) and asks KVM to copy the registers into kvm_run at every exit.
 */
int vcpu_regs_setup(struct vm *vm);

/*
 * The guest's registers at the exit being handled: kvm_run's copy, or
 * (without KVM_CAP_SYNC_REGS) vm's own copy filled by KVM_GET_REGS.
 * NULL on failure (message set).
 */
struct kvm_regs *vcpu_regs_get(struct vm *vm);

/* Hands the registers vcpu_regs_get returned, changed, back to the vCPU for its next run. */
int vcpu_regs_put(struct vm *vm);

#endif
