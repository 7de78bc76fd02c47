/* vcpu_state.h: the complete architectural state of a vCPU, saved and restored. */
#ifndef MVMM_VCPU_STATE_H
#define MVMM_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#define VCPU_STATE_MSRS 8

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave; /* x87, MXCSR and every vector register: XMM, YMM, ZMM, opmask */
	struct kvm_xcrs xcrs;	/* XCR0: which of them the guest has */
	struct kvm_vcpu_events events;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[VCPU_STATE_MSRS];
};

/*
 * Reads the state of the vCPU behind fd. The caller must first complete a
 * pending I/O exit (KVM_RUN with immediate_exit set): until then RIP still
 * points at the `out` instruction.
 */
int vcpu_state_save(int fd, struct vcpu_state *st);
/* Puts every register of st back: a clone starts from exactly its template's state. */
int vcpu_state_restore(int fd, const struct vcpu_state *st);

/*
 * Checks a state that came from a file (a snapshot, a cache entry) as if
 * it were hostile: CPL3 on the VMM's own descriptor tables and control
 * registers, no pending event, only the MSRs mvmm saves, an XCR0 of user
 * state only (KVM refuses one this host does not give guests at restore).
 * -1 with the reason in the message.
 */
int vcpu_state_check(const struct vcpu_state *st);

/* Completes the I/O exit the vCPU stopped on, without running guest code. */
int vcpu_complete_io(int fd, struct kvm_run *run);

#endif
