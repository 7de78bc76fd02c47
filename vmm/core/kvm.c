/* kvm.c: open /dev/kvm, check the API version and the capabilities mvmm uses. */
#define _GNU_SOURCE
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpu.h"
#include "error.h"

#define KVM_PATH "/dev/kvm"

static const struct {
	int cap;
	const char *name;
} kvm_required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
	{KVM_CAP_XCRS, "KVM_CAP_XCRS"},
};

const char *kvm_open_advice(int err)
{
	switch (err) {
	case ENOENT:
		return "KVM is not available on this host; load the kvm module "
		       "(kvm_intel, kvm_amd or kvm_pvm) or run on a machine with virtualization";
	case EACCES:
	case EPERM:
		return "no permission; run as root or add your user to the 'kvm' group";
	case ENXIO:
	case ENODEV:
		return "the KVM device exists but has no driver behind it; load the kvm module";
	default:
		return "cannot use KVM on this host";
	}
}

static int kvm_check_caps(int fd)
{
	size_t i;

	for (i = 0; i < sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, kvm_required_caps[i].cap) <= 0)
			return err_set(KVM_PATH ": this KVM lacks %s, which mvmm needs; "
						"use a newer kernel",
				       kvm_required_caps[i].name);
	}
	return 0;
}

int kvm_sys_open(struct kvm_sys *kvm)
{
	int version, size;

	kvm->fd = open(KVM_PATH, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0)
		return err_set(KVM_PATH ": %s: %s", strerror(errno), kvm_open_advice(errno));

	version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		err_set(KVM_PATH ": KVM API version %d, mvmm needs %d", version, KVM_API_VERSION);
		goto fail;
	}
	if (kvm_check_caps(kvm->fd) < 0)
		goto fail;

	size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		err_set(KVM_PATH ": KVM_GET_VCPU_MMAP_SIZE returned %d", size);
		goto fail;
	}
	kvm->run_size = (size_t)size;
	kvm->max_memslots = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	kvm->sync_regs = (ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) &
			  KVM_SYNC_X86_REGS) != 0;
	if (kvm->max_memslots <= 0)
		kvm->max_memslots = 32;
	if (cpu_probe(kvm) < 0)
		goto fail;
	return 0;

fail:
	close(kvm->fd);
	kvm->fd = -1;
	return -1;
}

void kvm_sys_close(struct kvm_sys *kvm)
{
	cpu_free(kvm);
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
