/*
 * cpu.h: the CPU a guest is given: its CPUID table and the extended state (XCR0)
 * its CR4 and XCR0 declare, so that KVM saves and restores all of its registers.
 */
#ifndef MVMM_CPU_H
#define MVMM_CPU_H

#include <stdint.h>

struct kvm_sys;

/* The user-mode extended-state components a guest may have: x87, SSE, AVX, AVX-512, PKRU. */
#define CPU_XFEATURES_USER 0x2e7ull

/*
 * Builds kvm->cpuid (what KVM supports, with the XSAVE and AVX bits of the
 * host's own CPUID) and kvm->xcr0 (the user components both KVM and the
 * host enable). Under PVM a guest at CPL3 runs with the host's XCR0 and sees
 * the host's CPUID whatever the table says; the table is what makes KVM
 * keep the guest's whole extended state, and the guest's declared XCR0
 * matches what the hardware really enables.
 */
int cpu_probe(struct kvm_sys *kvm);
void cpu_free(struct kvm_sys *kvm);

/* Gives a new vCPU the table (KVM_SET_CPUID2); CR4.OSXSAVE and XCR0 need it first. */
int cpu_setup_vcpu(const struct kvm_sys *kvm, int vcpu_fd);

/* Sets the vCPU's XCR0 to kvm->xcr0 (a program's start; clones restore theirs). */
int cpu_set_xcr0(const struct kvm_sys *kvm, int vcpu_fd);

#endif
