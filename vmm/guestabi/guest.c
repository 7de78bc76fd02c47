/*
 * guest.c: a guest in a VM: its image mapped (shared or copied), its Linux
 * process set up as execve leaves one (lx_exec), the upcalls that answer its
 * system calls and hypercalls set, and its vCPU at the entry.
 */
#define _GNU_SOURCE
#include "guest.h"

#include <sys/mman.h>

#include "core/error.h"
#include "core/exit.h"
#include "lx.h"
#include "load/image.h"
#include "mem/shm.h"

const char *guest_symbol_at(const struct vm *vm, uint64_t addr, uint64_t *start)
{
	const struct elfload_symbol *sym;

	if (!vm->img)
		return NULL;
	sym = elfload_symbol_at(&vm->img->prog, addr, NULL);
	if (!sym)
		return NULL;
	if (start)
		*start = sym->gpa;
	return sym->name;
}

/*
 * Guest memory is placed over the shell's reserved range with MAP_FIXED:
 * the memslot already points there, and KVM's MMU notifiers see the new
 * pages at the guest's next access, so no memslot change is needed.
 */
static int vm_map_image(struct vm *vm, struct image *img)
{
	void *mem;

	if (vm->no_share) {
		mem = mmap(vm->mem.host, vm->mem.size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
		if (mem == MAP_FAILED)
			return err_sys("allocating guest memory");
		vm->mapped_memfd = -1;
		return image_copy_to(img, mem);
	}
	return vm_map_memfd(vm, img->memfd);
}


int vm_load_image(struct vm *vm, struct image *img, const struct vm_config *cfg)
{
	if (img->mem_size != vm->mem.size)
		return err_set("image is for %lu MiB guests, this VM has %lu MiB",
			       (unsigned long)(img->mem_size >> 20),
			       (unsigned long)(vm->mem.size >> 20));
	vm_apply_config(vm, cfg);
	if (image_hold_in_vm(vm, img) < 0)
		return -1;
	vm->up = &lx_upcalls;
	vm->data_map = img->data_map;
	vm->mem.huge = &img->huge;
	if (shm_vm_granted(vm) < 0)
		return -1;
	/* A guest that is not a clone gets its own argv[1..] as its request. */
	if (!vm->request) {
		if (vm_request_init(&vm->argv_request,
				    cfg->argv && cfg->argv[0] ? cfg->argv + 1 : NULL) < 0)
			return -1;
		vm->request = &vm->argv_request;
	}
	if (vm_map_image(vm, img) < 0)
		return -1;
	return lx_exec(vm, img, cfg);
}

struct vm *vm_create(struct kvm_sys *kvm, struct image *img, const struct vm_config *cfg)
{
	struct vm *vm = vm_shell_create(kvm, img->mem_size);

	if (!vm)
		return NULL;
	if (vm_load_image(vm, img, cfg) < 0) {
		vm_destroy(vm);
		return NULL;
	}
	if (cfg->lean)
		vm_drop_vm_fd(vm);
	return vm;
}
