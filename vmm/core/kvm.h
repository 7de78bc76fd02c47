/* kvm.h: the process's handle on /dev/kvm, opened once and checked. */
#ifndef MVMM_KVM_H
#define MVMM_KVM_H

#include <stddef.h>
#include <stdint.h>

struct kvm_cpuid2;

struct kvm_sys {
	int fd;		 /* /dev/kvm */
	size_t run_size; /* bytes to mmap for a vCPU's struct kvm_run */
	int max_memslots;
	struct kvm_cpuid2 *cpuid; /* every vCPU's CPUID table (cpu.h) */
	uint64_t xcr0;		  /* every guest's XCR0 (cpu.h); 0 without XSAVE */
	int sync_regs;		  /* KVM_CAP_SYNC_REGS offers the general registers in kvm_run */
};

/*
 * Opens /dev/kvm and checks the API version and every capability mvmm
 * relies on. On failure the message is one line saying what is wrong and
 * what to do about it.
 */
int kvm_sys_open(struct kvm_sys *kvm);
void kvm_sys_close(struct kvm_sys *kvm);

/* Exposed for tests: the advice for an errno from open("/dev/kvm"). */
const char *kvm_open_advice(int err);

#endif
