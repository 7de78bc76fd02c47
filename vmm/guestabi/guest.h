/*
 * guest.h: put a guest (an image's static Linux program) into a VM shell,
 * or create a VM with one.
 */
#ifndef MVMM_GUEST_H
#define MVMM_GUEST_H

#include "core/vm.h"

struct image;

/* The function of vm's program that contains addr (for crash reports), or NULL. */
const char *guest_symbol_at(const struct vm *vm, uint64_t addr, uint64_t *start);

/*
 * Puts img's program into shell vm (of img's memory size): the image
 * mapped copy-on-write (or copied, with cfg->no_share), the process and
 * its stack (argv, envp, auxiliary vector) set up, the vCPU at the entry
 * point. vm holds a reference on img.
 */
int vm_load_image(struct vm *vm, struct image *img, const struct vm_config *cfg);

/*
 * Creates a VM over a private (copy-on-write) mapping of img, with one
 * vCPU set to enter the program at CPL3 as execve leaves it. The VM
 * holds a reference on img. NULL on failure (see mvmm_errmsg()).
 */
struct vm *vm_create(struct kvm_sys *kvm, struct image *img, const struct vm_config *cfg);

#endif
