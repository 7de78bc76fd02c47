/*
 * cpu.c: the CPUID table and XCR0 each vCPU is given, from what KVM supports
 * and what the host itself enables (the state a guest at CPL3 really has).
 */
#define _GNU_SOURCE
#include "cpu.h"

#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "error.h"
#include "kvm.h"

#define CPUID_1_ECX_XSAVE   (1u << 26)
#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define CPUID_1_ECX_AVX	    (1u << 28)
#define CPUID_ENTRIES_MAX   512

static struct kvm_cpuid2 *cpu_supported(int kvm_fd)
{
	unsigned n = 64;
	struct kvm_cpuid2 *c;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c) {
			err_set("out of memory");
			return NULL;
		}
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || n >= CPUID_ENTRIES_MAX) {
			err_sys("KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
		n *= 2;
	}
}

static struct kvm_cpuid_entry2 *cpu_entry(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/* The XCR0 the host runs its own user code with, or 0 when it has no XSAVE. */
static uint64_t cpu_host_xcr0(unsigned leaf1_ecx)
{
	uint32_t lo, hi;

	if (!(leaf1_ecx & CPUID_1_ECX_OSXSAVE))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

int cpu_probe(struct kvm_sys *kvm)
{
	struct kvm_cpuid_entry2 *e;
	unsigned a, b, c, d;
	uint64_t supported = 0x3; /* x87 and SSE: every x86-64 has them */

	kvm->cpuid = cpu_supported(kvm->fd);
	if (!kvm->cpuid)
		return -1;
	__cpuid(1, a, b, c, d);
	e = cpu_entry(kvm->cpuid, 1, 0);
	if (e)
		e->ecx |= c & (CPUID_1_ECX_XSAVE | CPUID_1_ECX_AVX);
	e = cpu_entry(kvm->cpuid, 0xd, 0);
	if (e)
		supported = (uint64_t)e->edx << 32 | e->eax;
	kvm->xcr0 = supported & cpu_host_xcr0(c) & CPU_XFEATURES_USER;
	return 0;
}

void cpu_free(struct kvm_sys *kvm)
{
	free(kvm->cpuid);
	kvm->cpuid = NULL;
}

int cpu_setup_vcpu(const struct kvm_sys *kvm, int vcpu_fd)
{
	if (kvm->cpuid && ioctl(vcpu_fd, KVM_SET_CPUID2, kvm->cpuid) < 0)
		return err_sys("KVM_SET_CPUID2");
	return 0;
}

int cpu_set_xcr0(const struct kvm_sys *kvm, int vcpu_fd)
{
	struct kvm_xcrs x = { .nr_xcrs = 1 };

	if (!kvm->xcr0)
		return 0;
	x.xcrs[0].xcr = 0;
	x.xcrs[0].value = kvm->xcr0;
	if (ioctl(vcpu_fd, KVM_SET_XCRS, &x) < 0)
		return err_sys("KVM_SET_XCRS");
	return 0;
}
