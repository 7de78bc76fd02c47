/*
 * fakevm.h: a VM with no KVM behind it, over plain host memory, so that the
 * exit dispatcher and the hypercall handlers can be driven directly (the
 * dispatch tests and the hypercall fuzzer).
 */
#ifndef MVMM_TEST_FAKEVM_H
#define MVMM_TEST_FAKEVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "core/vm.h"
#include "guestabi/lx.h"
#include "load/image.h"
#include "mvmm_abi.h"

/*
 * Sets up vm and img (both zeroed by the caller): the guest ABI over mem
 * (mem_size bytes), an image whose heap starts at heap_start, kvm_run at
 * run, guest stdin/stdout/stderr on in[0], out[1], err[1]. The caller sets
 * what its tests vary (result, request).
 */
static inline void fake_vm_init(struct vm *vm, struct image *img, uint8_t *mem, uint64_t mem_size,
				struct kvm_run *run, const int in[2], const int out[2],
				const int err[2], uint64_t heap_start, char *name)
{
	img->memfd = -1;
	img->huge.fd = -1;
	img->mem_size = mem_size;
	img->heap_start = heap_start;
	img->heap_end = mem_size - MVMM_STACK_SIZE - MVMM_PAGE_SIZE;
	img->name = name;
	img->refs = 1;
	vm->img = img;
	vm->up = &lx_upcalls;
	vm->mem.host = mem;
	vm->mem.size = mem_size;
	vm->fd = vm->vcpu_fd = vm->mapped_memfd = -1;
	vm->run = run;
	vm->in_fd = in[0];
	vm->out_fd = out[1];
	vm->err_fd = err[1];
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
}

#endif
