/*
 * vcpu_state.c: save and restore registers, extended state (x87, SSE, AVX,
 * AVX-512), events and the MSRs a guest can change; check one read from a file.
 */
#define _GNU_SOURCE
#include "vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "error.h"
#include "cpu.h"
#include "x86.h"

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
	    ioctl(fd, KVM_GET_XSAVE, &st->xsave) < 0 || ioctl(fd, KVM_GET_XCRS, &st->xcrs) < 0 ||
	    ioctl(fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
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

	if (st->nmsrs > VCPU_STATE_MSRS || st->xcrs.nr_xcrs > KVM_MAX_XCRS)
		return err_set("vCPU state with %u MSRs and %u XCRs (at most %u and %u)", st->nmsrs,
			       st->xcrs.nr_xcrs, VCPU_STATE_MSRS, KVM_MAX_XCRS);
	/* XCR0 first: it says which parts of the xsave area are the guest's. */
	if (ioctl(fd, KVM_SET_SREGS, &st->sregs) < 0 || ioctl(fd, KVM_SET_REGS, &st->regs) < 0 ||
	    (st->xcrs.nr_xcrs && ioctl(fd, KVM_SET_XCRS, &st->xcrs) < 0) ||
	    ioctl(fd, KVM_SET_XSAVE, &st->xsave) < 0)
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

static int segment_is(const struct kvm_segment *a, const struct kvm_segment *b)
{
	return a->selector == b->selector && a->type == b->type && a->dpl == b->dpl &&
	       a->present == b->present && a->l == b->l && a->db == b->db && a->s == b->s;
}

static int msr_known(uint32_t index)
{
	for (size_t i = 0; i < sizeof(vcpu_msr_list) / sizeof(vcpu_msr_list[0]); i++)
		if (vcpu_msr_list[i] == index)
			return 1;
	return 0;
}

#define RFLAGS_IOPL (3ull << 12)
#define RFLAGS_VM   (1ull << 17)
#define RFLAGS_RES1 (1ull << 1)

/* A template runs at CPL3 over the VMM's own tables: anything else was not written by mvmm. */
static int vcpu_sregs_check(const struct kvm_sregs *s)
{
	struct kvm_sregs want;

	memset(&want, 0, sizeof(want));
	x86_user_sregs(&want, (s->cr4 & X86_CR4_OSXSAVE) != 0);
	if (!segment_is(&s->cs, &want.cs) || !segment_is(&s->ss, &want.ss))
		return err_set("vCPU state: code or stack segment is not the guest's CPL3 one");
	if (s->cr0 != want.cr0 || s->cr3 != want.cr3 || s->cr4 != want.cr4 || s->efer != want.efer)
		return err_set("vCPU state: control registers (cr0 0x%llx cr3 0x%llx cr4 0x%llx "
			       "efer 0x%llx) are not mvmm's",
			       (unsigned long long)s->cr0, (unsigned long long)s->cr3,
			       (unsigned long long)s->cr4, (unsigned long long)s->efer);
	if (s->gdt.base != want.gdt.base || s->gdt.limit != want.gdt.limit ||
	    s->idt.base != want.idt.base || s->idt.limit != want.idt.limit ||
	    s->tr.base != want.tr.base || s->tr.limit != want.tr.limit ||
	    s->tr.selector != want.tr.selector)
		return err_set("vCPU state: descriptor tables are not mvmm's");
	return 0;
}

int vcpu_state_check(const struct vcpu_state *st)
{
	int osxsave = (st->sregs.cr4 & X86_CR4_OSXSAVE) != 0;
	uint64_t xcr0 = st->xcrs.xcrs[0].value;
	uint32_t i;

	if (vcpu_sregs_check(&st->sregs) < 0)
		return -1;
	if ((st->regs.rflags & (RFLAGS_IOPL | RFLAGS_VM)) || !(st->regs.rflags & RFLAGS_RES1))
		return err_set("vCPU state: rflags 0x%llx", (unsigned long long)st->regs.rflags);
	if (st->events.exception.injected || st->events.exception.pending ||
	    st->events.nmi.injected || st->events.nmi.pending || st->events.interrupt.injected)
		return err_set("vCPU state: an event is pending");
	if (st->nmsrs > VCPU_STATE_MSRS)
		return err_set("vCPU state: %u MSRs, at most %u", st->nmsrs, VCPU_STATE_MSRS);
	for (i = 0; i < st->nmsrs; i++)
		if (!msr_known(st->msrs[i].index))
			return err_set("vCPU state: MSR 0x%x is not one mvmm saves",
				       st->msrs[i].index);
	/* KVM_SET_XCRS refuses an XCR0 this host does not give guests; the form is checked here. */
	if (st->xcrs.nr_xcrs != (osxsave ? 1u : 0u) ||
	    (osxsave && (st->xcrs.xcrs[0].xcr != 0 || !(xcr0 & 1) || (xcr0 & ~CPU_XFEATURES_USER))))
		return err_set("vCPU state: extended state (XCR0 0x%llx) is not one mvmm gives "
			       "guests",
			       (unsigned long long)xcr0);
	return 0;
}

