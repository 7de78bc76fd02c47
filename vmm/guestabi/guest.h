/*
 * guest.h: put an mvmm guest (an image's program under the mvmm ABI) into
 * a VM shell, or create a VM with one.
 */
#ifndef MVMM_GUEST_H
#define MVMM_GUEST_H

#include "core/vm.h"

struct image;

/* The mvmm ABI's answers to the core: hypercalls and the program's symbols. */
extern const struct vm_upcalls guest_upcalls;

/*
 * Puts img's program into shell vm (of img's memory size): the image
 * mapped copy-on-write (or copied, with cfg->no_share), the boot info
 * written, the vCPU at the entry point. vm holds a reference on img.
 */
int vm_load_image(struct vm *vm, struct image *img, const struct vm_config *cfg);

/*
 * Creates a VM over a private (copy-on-write) mapping of img, with one
 * vCPU set to enter the program at CPL3 and the boot info written. The VM
 * holds a reference on img. NULL on failure (see mvmm_errmsg()).
 */
struct vm *vm_create(struct kvm_sys *kvm, struct image *img, const struct vm_config *cfg);

#endif
