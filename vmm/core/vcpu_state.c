/* vcpu_state.c: save and restore registers, FPU, events and the MSRs a guest can change. */
#define _GNU_SOURCE
#include "vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "error.h"

/* The MSRs whose values survive a freeze; a guest at CPL3 changes none today. */
static const uint32_t vcpu_msr_list[] = {
	0xc0000100, /* FS_BASE */
	0xc0000101, /* GS_BASE */
	0xc0000102, /* KERNEL_GS_BASE */
	0x00000277, /* PAT */
};

/* A fresh vCPU's values: an MSR still at its reset value needs no restore (one ioctl less per clone). */
static const uint64_t vcpu_msr_reset[] = { 0, 0, 0, 0x0007040600070406ull };

_Static_assert(sizeof(vcpu_msr_list) / sizeof(vcpu_msr_list[0]) <= VCPU_STATE_MSRS,
	       "vcpu_state.msrs too small");

struct msr_block {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[VCPU_STATE_MSRS];
};

int vcpu_complete_io(int fd, struct kvm_run *run)
{
	int r;

	run->immediate_exit = 1;
	r = ioctl(fd, KVM_RUN, 0);
	run->immediate_exit = 0;
	if (r == 0 || errno != EINTR)
		return err_set("completing the vCPU's I/O exit failed");
	return 0;
}

int vcpu_state_save(int fd, struct vcpu_state *st)
{
	struct msr_block m;
	size_t i, n = sizeof(vcpu_msr_list) / sizeof(vcpu_msr_list[0]);
	int got;

	memset(st, 0, sizeof(*st));
	if (ioctl(fd, KVM_GET_REGS, &st->regs) < 0 || ioctl(fd, KVM_GET_SREGS, &st->sregs) < 0 ||
	    ioctl(fd, KVM_GET_FPU, &st->fpu) < 0 || ioctl(fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
		return err_sys("saving vCPU state");
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = (uint32_t)n;
	for (i = 0; i < n; i++)
		m.e[i].index = vcpu_msr_list[i];
	/* KVM_GET_MSRS stops at the first MSR it does not know: keep those it read. */
	got = ioctl(fd, KVM_GET_MSRS, &m);
	if (got < 0)
		return err_sys("KVM_GET_MSRS");
	for (i = 0; i < (size_t)got; i++)
		if (m.e[i].data != vcpu_msr_reset[i])
			st->msrs[st->nmsrs++] = m.e[i];
	return 0;
}

int vcpu_state_restore(int fd, const struct vcpu_state *st)
{
	struct msr_block m;

	if (ioctl(fd, KVM_SET_SREGS, &st->sregs) < 0 || ioctl(fd, KVM_SET_REGS, &st->regs) < 0 ||
	    ioctl(fd, KVM_SET_FPU, &st->fpu) < 0)
		return err_sys("restoring vCPU state");
	if (st->events.exception.injected || st->events.exception.pending ||
	    st->events.nmi.injected || st->events.interrupt.injected) {
		if (ioctl(fd, KVM_SET_VCPU_EVENTS, &st->events) < 0)
			return err_sys("KVM_SET_VCPU_EVENTS");
	}
	if (st->nmsrs) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = st->nmsrs;
		memcpy(m.e, st->msrs, st->nmsrs * sizeof(m.e[0]));
		if (ioctl(fd, KVM_SET_MSRS, &m) != (int)st->nmsrs)
			return err_sys("KVM_SET_MSRS");
	}
	return 0;
}
