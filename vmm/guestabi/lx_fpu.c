/*
 * lx_fpu.c: the extended state (x87, SSE, AVX, PKRU...) in a signal frame,
 * as Linux x86-64 lays it out: a handler may use any register, and the
 * interrupted code gets its own back at rt_sigreturn. The state comes from
 * and goes to KVM (KVM_GET_XSAVE / KVM_SET_XSAVE, the standard format).
 *
 * What rt_sigreturn finds is the guest's, forged or not: it is read only
 * through lx_get, cut to the components the guest has, its header and MXCSR
 * made valid, and KVM checks it once more before the vCPU gets it.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/exit.h"
#include "core/kvm.h"

/* The kernel's ABI (asm/sigcontext.h): struct _fpx_sw_bytes and the magics around the area. */
#define LX_FP_XSTATE_MAGIC1 0x46505853u
#define LX_FP_XSTATE_MAGIC2 0x46505845u
#define LX_FXSAVE_SIZE	    512u /* the legacy area: x87, MXCSR, XMM0-15 */
#define LX_XSAVE_MIN	    576u /* legacy area and XSAVE header */
#define LX_FX_SW_OFF	    464u /* struct _fpx_sw_bytes, in the legacy area's free bytes */
#define LX_MXCSR_OFF	    24u
#define LX_MXCSR_MASK_OFF   28u
#define LX_XSTATE_BV_OFF    512u
#define LX_XFEATURES_FPSSE  0x3ull /* x87 and SSE */

struct lx_fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size; /* xstate_size + the trailing MAGIC2 */
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

_Static_assert(sizeof(struct lx_fpx_sw_bytes) == 48, "struct _fpx_sw_bytes");
_Static_assert(sizeof(struct kvm_xsave) >= 4096, "KVM_GET_XSAVE's region");

/* The guest's XCR0 (core/cpu.c sets it; a guest cannot change it at CPL3), or 0 without XSAVE. */
static uint64_t lx_xcr0(const struct vm *vm)
{
	return vm->kvm ? vm->kvm->xcr0 : 0;
}

/* Bytes of the standard-format XSAVE area for the components in xcr0 (CPUID leaf 0xd). */
static uint32_t lx_xstate_size(uint64_t xcr0)
{
	uint32_t size = LX_XSAVE_MIN;

	for (unsigned i = 2; i < 63; i++) {
		unsigned a, b, cx, d;

		if (!(xcr0 & (1ull << i)) || !__get_cpuid_count(0xd, i, &a, &b, &cx, &d))
			continue;
		if (a + b > size)
			size = a + b;
	}
	return size;
}

/*
 * With XSAVE: the area, the software bytes that say so, MAGIC2 after it.
 * Without: the legacy area alone. 0 when KVM cannot give the state (the
 * frame's fpstate is then 0 and sigreturn leaves the registers as the
 * handler left them).
 */
uint32_t lx_fpu_save(struct lx_call *c, struct kvm_xsave *xs)
{
	uint8_t *x = (uint8_t *)xs->region;
	uint64_t xcr0 = lx_xcr0(c->vm);
	uint32_t size = xcr0 ? lx_xstate_size(xcr0) : LX_FXSAVE_SIZE;
	uint32_t magic2 = LX_FP_XSTATE_MAGIC2;
	struct lx_fpx_sw_bytes sw = {0};

	if (size + sizeof(magic2) > sizeof(*xs) || ioctl(c->vm->vcpu_fd, KVM_GET_XSAVE, xs) < 0)
		return 0;
	if (!xcr0) {
		memset(x + LX_FX_SW_OFF, 0, sizeof(sw));
		return size;
	}
	sw.magic1 = LX_FP_XSTATE_MAGIC1;
	sw.extended_size = size + sizeof(magic2);
	sw.xfeatures = xcr0;
	sw.xstate_size = size;
	memcpy(x + LX_FX_SW_OFF, &sw, sizeof(sw));
	memcpy(x + size, &magic2, sizeof(magic2));
	return size + sizeof(magic2);
}

/*
 * Whether the frame's area at gva is a full XSAVE area (Linux's
 * check_xstate_in_sigframe): both magics, a size this guest can have.
 * Reads it into x past the legacy area if so.
 */
static int lx_fpu_full(struct lx_call *c, uint64_t gva, uint8_t *x, uint64_t xcr0, int xstate)
{
	uint32_t size = xcr0 ? lx_xstate_size(xcr0) : 0, magic2 = 0;
	struct lx_fpx_sw_bytes sw;

	memcpy(&sw, x + LX_FX_SW_OFF, sizeof(sw));
	if (!xcr0 || !xstate || sw.magic1 != LX_FP_XSTATE_MAGIC1 || sw.xstate_size < LX_XSAVE_MIN ||
	    sw.xstate_size > size || sw.extended_size != sw.xstate_size + sizeof(magic2))
		return 0;
	if (lx_get(c, gva + sw.xstate_size, &magic2, sizeof(magic2)) < 0 ||
	    magic2 != LX_FP_XSTATE_MAGIC2)
		return 0;
	if (lx_get(c, gva + LX_FXSAVE_SIZE, x + LX_FXSAVE_SIZE, sw.xstate_size - LX_FXSAVE_SIZE) <
	    0)
		return -EFAULT;
	return 1;
}

/*
 * As Linux's sigreturn: the full XSAVE area when the frame has one, else
 * the legacy area with every other component at its initial state. 0,
 * -EFAULT / -EINVAL for a bad frame, or LX_STOP (host error).
 */
int64_t lx_fpu_restore(struct lx_call *c, uint64_t gva, int xstate)
{
	struct kvm_xsave xs;
	uint8_t *x = (uint8_t *)xs.region;
	uint64_t xcr0 = lx_xcr0(c->vm), bv = LX_XFEATURES_FPSSE;
	struct lx_fpx_sw_bytes sw;
	uint32_t mxcsr, mask;
	int full;

	if (ioctl(c->vm->vcpu_fd, KVM_GET_XSAVE, &xs) < 0) {
		exit_host_error(c->vm, "KVM_GET_XSAVE: %s", strerror(errno));
		return LX_STOP;
	}
	memcpy(&mask, x + LX_MXCSR_MASK_OFF, sizeof(mask));
	if (!mask)
		mask = 0xffbf; /* the architectural default when the CPU reports none */
	if (lx_get(c, gva, x, LX_FXSAVE_SIZE) < 0)
		return -EFAULT;
	full = lx_fpu_full(c, gva, x, xcr0, xstate);
	if (full < 0)
		return full;
	if (full) {
		memcpy(&sw, x + LX_FX_SW_OFF, sizeof(sw));
		memcpy(&bv, x + LX_XSTATE_BV_OFF, sizeof(bv));
		bv &= sw.xfeatures & xcr0;
	}
	/* The header: only components the guest has, standard format, reserved bytes zero. */
	memset(x + LX_XSTATE_BV_OFF, 0, LX_XSAVE_MIN - LX_XSTATE_BV_OFF);
	memcpy(x + LX_XSTATE_BV_OFF, &bv, sizeof(bv));
	memset(x + LX_FX_SW_OFF, 0, sizeof(sw));
	memcpy(&mxcsr, x + LX_MXCSR_OFF, sizeof(mxcsr));
	mxcsr &= mask;
	memcpy(x + LX_MXCSR_OFF, &mxcsr, sizeof(mxcsr));
	memcpy(x + LX_MXCSR_MASK_OFF, &mask, sizeof(mask));
	if (ioctl(c->vm->vcpu_fd, KVM_SET_XSAVE, &xs) < 0)
		return -EINVAL;
	return 0;
}
