/*
 * hypercall.c: the hypercall handlers and the table that routes to them:
 * only what Linux has no system call for (ready, request, wait, checkpoint
 * here, the shared-memory calls in mem/shm.c).
 */
#include "hypercall.h"

#include <string.h>

#include "core/error.h"
#include "mem/shm.h"

#include "mvmm_abi.h"

#define HC_BLOCK_MAX 64 /* largest argument block */

typedef enum exit_action (*hc_fn)(struct vm *vm, void *blk);

struct hc_entry {
	const char *name;
	hc_fn fn;
	size_t size;
};

/*
 * Host pointer for a range the VMM writes for hypercall `name` (its `what`),
 * or NULL after ending the run with a guest error. The range must be the
 * guest's user memory and miss its read-only 2 MiB pages.
 */
static void *hc_user_out(struct vm *vm, const char *name, const char *what, mvmm_gpa_t gpa,
			 uint64_t len)
{
	void *p = gmem_user_ptr(&vm->mem, gpa, len);

	if (!p) {
		exit_guest_error(vm, "hypercall %s: %s 0x%lx+%lu outside the guest's user memory",
				 name, what, (unsigned long)gpa, (unsigned long)len);
		return NULL;
	}
	if (!gmem_user_ptr_rw(&vm->mem, gpa, len)) {
		exit_guest_error(vm, "hypercall %s: %s 0x%lx+%lu in the guest's read-only memory",
				 name, what, (unsigned long)gpa, (unsigned long)len);
		return NULL;
	}
	return p;
}

static enum exit_action hc_wait(struct vm *vm, void *blk)
{
	struct mvmm_hc_wait *a = blk;
	int r = 0;

	a->ret = 0;
	if (vm->hooks && vm->hooks->wait) {
		/* A waiting guest counts as paused (vm_pause); the hook touches no guest memory. */
		vm_block_begin(vm);
		r = vm->hooks->wait(vm->hooks_ctx, vm);
		vm_block_end(vm);
	}
	if (r < 0) {
		vm->res->end = VM_END_TIMEOUT;
		return EXIT_STOP;
	}
	return EXIT_CONTINUE;
}

static enum exit_action hc_ready(struct vm *vm, void *blk)
{
	struct mvmm_hc_ready *a = blk;

	a->ret = (int64_t)vm->clone_no;
	if (!vm->template_mode)
		return EXIT_CONTINUE;
	/* Freeze: the template is taken from this state; each clone gets its number here. */
	vm->ready_block = vm->hc_arg;
	vm->res->end = VM_END_READY;
	return EXIT_STOP;
}

static enum exit_action hc_request(struct vm *vm, void *blk)
{
	struct mvmm_hc_request *a = blk;
	const struct vm_request *r = vm->request;
	uint64_t n;
	uint8_t *buf;

	if (!r) {
		a->ret = 0;
		a->argc = 0;
		return EXIT_CONTINUE;
	}
	/* The whole range the guest claims must be its own, not only what gets copied. */
	buf = hc_user_out(vm, "request", "buffer", a->buf, a->len);
	if (!buf)
		return EXIT_STOP;
	n = a->len < r->len ? a->len : r->len;
	memcpy(buf, r->data, n);
	a->ret = (int64_t)r->len;
	a->argc = r->argc;
	return EXIT_CONTINUE;
}

static enum exit_action hc_checkpoint(struct vm *vm, void *blk)
{
	struct mvmm_hc_checkpoint *a = blk;

	if (!vm->hooks || !vm->hooks->checkpoint) {
		a->ret = 0;
		return EXIT_CONTINUE;
	}
	a->ret = vm->hooks->checkpoint(vm->hooks_ctx, vm);
	if (a->ret < 0)
		return exit_host_error(vm, "checkpoint: %s", mvmm_errmsg());
	return EXIT_CONTINUE;
}

static const struct hc_entry hc_table[MVMM_HC_COUNT] = {
	[MVMM_HC_READY] = {"ready", hc_ready, sizeof(struct mvmm_hc_ready)},
	[MVMM_HC_REQUEST] = {"request", hc_request, sizeof(struct mvmm_hc_request)},
	[MVMM_HC_WAIT] = {"wait", hc_wait, sizeof(struct mvmm_hc_wait)},
	[MVMM_HC_CHECKPOINT] = {"checkpoint", hc_checkpoint, sizeof(struct mvmm_hc_checkpoint)},
	[MVMM_HC_SHM_LOOKUP] = {"shm_lookup", shm_hc_lookup, sizeof(struct mvmm_hc_shm_lookup)},
	[MVMM_HC_SHM_ATTACH] = {"shm_attach", shm_hc_attach, sizeof(struct mvmm_hc_shm_attach)},
	[MVMM_HC_SHM_DETACH] = {"shm_detach", shm_hc_detach, sizeof(struct mvmm_hc_shm_detach)},
	[MVMM_HC_SHM_INFO] = {"shm_info", shm_hc_info, sizeof(struct mvmm_hc_shm_info)},
	[MVMM_HC_SHM_NOTIFY] = {"shm_notify", shm_hc_notify, sizeof(struct mvmm_hc_shm_notify)},
	[MVMM_HC_SHM_WAIT] = {"shm_wait", shm_hc_wait, sizeof(struct mvmm_hc_shm_wait)},
};

const char *hypercall_name(unsigned nr)
{
	return nr < MVMM_HC_COUNT ? hc_table[nr].name : NULL;
}

enum exit_action hypercall_dispatch(struct vm *vm, unsigned nr, mvmm_gpa_t arg)
{
	uint64_t copy[HC_BLOCK_MAX / 8];
	const struct hc_entry *hc;
	enum exit_action act;
	void *blk;

	if (nr >= MVMM_HC_COUNT || !hc_table[nr].fn)
		return exit_guest_error(vm, "unknown hypercall %u", nr);
	hc = &hc_table[nr];
	if (arg % 8)
		return exit_guest_error(vm, "hypercall %s: argument block 0x%lx not 8-byte aligned",
					hc->name, (unsigned long)arg);
	blk = gmem_user_ptr(&vm->mem, arg, hc->size);
	if (!blk)
		return exit_guest_error(
			vm, "hypercall %s: argument block 0x%lx outside the guest's user memory",
			hc->name, (unsigned long)arg);
	/* Written back below: it must lie in memory the guest may write. */
	if (!gmem_user_ptr_rw(&vm->mem, arg, hc->size))
		return exit_guest_error(
			vm, "hypercall %s: argument block 0x%lx in the guest's read-only memory",
			hc->name, (unsigned long)arg);
	/* Work on a copy: the handler never reads guest memory twice. */
	memcpy(copy, blk, hc->size);
	if (vm->res->hypercalls++ == 0)
		vm->res->first_hypercall_ns = vm_now_ns();
	vm->hc_arg = arg;
	act = hc->fn(vm, copy);
	memcpy(blk, copy, hc->size);
	return act;
}
