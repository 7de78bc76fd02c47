/* hypercall.c: the hypercall handlers and the table that routes to them. */
#define _GNU_SOURCE
#include "hypercall.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "mem/shm.h"

#include "mvmm_abi.h"

#define HC_BLOCK_MAX 64 /* largest argument block */

typedef enum exit_action (*hc_fn)(struct vm *vm, void *blk);

struct hc_entry {
	const char *name;
	hc_fn fn;
	size_t size;
};

static int fd_for_stream(const struct vm *vm, uint32_t fd)
{
	switch (fd) {
	case 0:
		return vm->in_fd;
	case 1:
		return vm->out_fd;
	case 2:
		return vm->err_fd;
	default:
		return -1;
	}
}

/* Writes all of buf unless the host fd fails; a timeout stops early. */
static int64_t write_all(struct vm *vm, int fd, const uint8_t *buf, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR && !vm_deadline_passed(vm))
			continue;
		if (n < 0)
			return done ? (int64_t)done : -MVMM_EIO;
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

/*
 * Host pointer for a range a guest hands to hypercall `name` (its `what`:
 * buffer, message, path), or NULL after ending the run with a guest error.
 * A range the VMM writes (`out`) must also miss the guest's read-only 2 MiB pages.
 */
static void *hc_user_range_as(struct vm *vm, const char *name, const char *what, mvmm_gpa_t gpa,
			      uint64_t len, int out)
{
	void *p = gmem_user_ptr(&vm->mem, gpa, len);

	if (!p) {
		exit_guest_error(vm, "hypercall %s: %s 0x%lx+%lu outside the guest's user memory",
				 name, what, (unsigned long)gpa, (unsigned long)len);
		return NULL;
	}
	if (out && !gmem_user_ptr_rw(&vm->mem, gpa, len)) {
		exit_guest_error(vm, "hypercall %s: %s 0x%lx+%lu in the guest's read-only memory",
				 name, what, (unsigned long)gpa, (unsigned long)len);
		return NULL;
	}
	return p;
}

static void *hc_user_range(struct vm *vm, const char *name, const char *what, mvmm_gpa_t gpa,
			   uint64_t len)
{
	return hc_user_range_as(vm, name, what, gpa, len, 0);
}

static void *hc_user_out(struct vm *vm, const char *name, const char *what, mvmm_gpa_t gpa,
			 uint64_t len)
{
	return hc_user_range_as(vm, name, what, gpa, len, 1);
}

static enum exit_action hc_write(struct vm *vm, void *blk)
{
	struct mvmm_hc_write *a = blk;
	const uint8_t *buf;
	int fd;

	if (a->fd != 1 && a->fd != 2) {
		a->ret = -MVMM_EINVAL;
		return EXIT_CONTINUE;
	}
	buf = hc_user_range(vm, "write", "buffer", a->buf, a->len);
	if (!buf)
		return EXIT_STOP;
	if (vm->hooks && vm->hooks->output) {
		int64_t n = vm->hooks->output(vm->hooks_ctx, vm, (int)a->fd, buf, a->len);

		a->ret = n < 0 ? -MVMM_EIO : n;
		return EXIT_CONTINUE;
	}
	fd = fd_for_stream(vm, a->fd);
	a->ret = fd < 0 ? -MVMM_EIO : write_all(vm, fd, buf, a->len);
	return EXIT_CONTINUE;
}

static enum exit_action hc_read(struct vm *vm, void *blk)
{
	struct mvmm_hc_read *a = blk;
	uint8_t *buf;
	ssize_t n;
	int fd;

	if (a->fd != 0) {
		a->ret = -MVMM_EINVAL;
		return EXIT_CONTINUE;
	}
	buf = hc_user_out(vm, "read", "buffer", a->buf, a->len);
	if (!buf)
		return EXIT_STOP;
	if (vm->hooks && vm->hooks->input) {
		int64_t got = vm->hooks->input(vm->hooks_ctx, vm, buf, a->len);

		a->ret = got < 0 ? -MVMM_EIO : got;
		return EXIT_CONTINUE;
	}
	fd = fd_for_stream(vm, 0);
	if (fd < 0) {
		a->ret = 0; /* no input: end of file */
		return EXIT_CONTINUE;
	}
	do
		n = read(fd, buf, a->len);
	while (n < 0 && errno == EINTR && !vm_deadline_passed(vm));
	if (n < 0 && errno == EINTR) {
		vm->res->end = VM_END_TIMEOUT;
		return EXIT_STOP;
	}
	a->ret = n < 0 ? -MVMM_EIO : n;
	return EXIT_CONTINUE;
}

static enum exit_action hc_exit(struct vm *vm, void *blk)
{
	struct mvmm_hc_exit *a = blk;

	vm->res->end = VM_END_EXIT;
	vm->res->status = (int)(a->status & 0xff);
	return EXIT_STOP;
}

static enum exit_action hc_clock(struct vm *vm, void *blk)
{
	struct mvmm_hc_clock *a = blk;

	(void)vm;
	a->ns = vm_now_ns();
	a->ret = 0;
	return EXIT_CONTINUE;
}

static enum exit_action hc_bootinfo(struct vm *vm, void *blk)
{
	struct mvmm_hc_bootinfo *a = blk;

	a->bootinfo = MVMM_BOOTINFO_GPA;
	a->size = vm->bootinfo_size;
	a->ret = 0;
	return EXIT_CONTINUE;
}

/* Keeps the message printable: a guest must not send escape sequences to a terminal. */
static void copy_printable(char *dst, size_t cap, const uint8_t *src, uint64_t len)
{
	size_t i, n = len < cap - 1 ? (size_t)len : cap - 1;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) || src[i] == '\n' ? (char)src[i] : '?';
	dst[n] = '\0';
}

static enum exit_action hc_abort(struct vm *vm, void *blk)
{
	struct mvmm_hc_abort *a = blk;
	const uint8_t *msg;

	msg = hc_user_range(vm, "abort", "message", a->msg, a->len);
	if (!msg)
		return EXIT_STOP;
	vm->res->end = VM_END_ABORT;
	copy_printable(vm->res->message, sizeof(vm->res->message), msg, a->len);
	return EXIT_STOP;
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

static enum exit_action hc_random(struct vm *vm, void *blk)
{
	struct mvmm_hc_random *a = blk;
	uint8_t *buf;
	uint64_t done = 0;

	buf = hc_user_out(vm, "random", "buffer", a->buf, a->len);
	if (!buf)
		return EXIT_STOP;
	if (a->len > MVMM_RANDOM_MAX) {
		a->ret = -MVMM_EINVAL;
		return EXIT_CONTINUE;
	}
	while (done < a->len) {
		ssize_t n = getrandom(buf + done, a->len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			a->ret = -MVMM_EIO;
			return EXIT_CONTINUE;
		}
		done += (uint64_t)n;
	}
	a->ret = (int64_t)done;
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

/* The path must be one the host exposed, byte for byte: no normalization, no prefixes. */
static int path_exposed(const struct vm *vm, const uint8_t *path, uint64_t len)
{
	const char *const *e;

	for (e = vm->exposed; e && *e; e++)
		if (strlen(*e) == len && memcmp(*e, path, len) == 0)
			return 1;
	return 0;
}

static enum exit_action hc_open(struct vm *vm, void *blk)
{
	struct mvmm_hc_open *a = blk;
	char path[MVMM_PATH_MAX + 1];
	const uint8_t *p;
	unsigned h;

	p = hc_user_range(vm, "open", "path", a->path, a->path_len);
	if (!p)
		return EXIT_STOP;
	if (a->path_len > MVMM_PATH_MAX || !path_exposed(vm, p, a->path_len)) {
		a->ret = -MVMM_ENOENT;
		return EXIT_CONTINUE;
	}
	for (h = 0; h < MVMM_OPEN_MAX && vm->files[h] >= 0; h++)
		;
	if (h == MVMM_OPEN_MAX) {
		a->ret = -MVMM_EMFILE;
		return EXIT_CONTINUE;
	}
	memcpy(path, p, a->path_len);
	path[a->path_len] = '\0';
	/* a FIFO or device behind an exposed path must not block the vCPU's thread */
	vm->files[h] = fd_open_regular(path, 0);
	a->ret = vm->files[h] >= 0 ? (int64_t)h : -MVMM_ENOENT;
	return EXIT_CONTINUE;
}

static int file_of(const struct vm *vm, int64_t handle)
{
	return handle >= 0 && handle < (int64_t)MVMM_OPEN_MAX ? vm->files[handle] : -1;
}

static enum exit_action hc_pread(struct vm *vm, void *blk)
{
	struct mvmm_hc_pread *a = blk;
	int fd = file_of(vm, a->handle);
	uint8_t *buf;
	ssize_t n;

	buf = hc_user_out(vm, "pread", "buffer", a->buf, a->len);
	if (!buf)
		return EXIT_STOP;
	if (fd < 0) {
		a->ret = -MVMM_EBADF;
		return EXIT_CONTINUE;
	}
	if (a->offset > (uint64_t)INT64_MAX) {
		a->ret = 0;
		return EXIT_CONTINUE;
	}
	do
		n = pread(fd, buf, a->len, (off_t)a->offset);
	while (n < 0 && errno == EINTR);
	a->ret = n < 0 ? -MVMM_EIO : n;
	return EXIT_CONTINUE;
}

static enum exit_action hc_close(struct vm *vm, void *blk)
{
	struct mvmm_hc_close *a = blk;
	int fd = file_of(vm, a->handle);

	if (fd < 0) {
		a->ret = -MVMM_EBADF;
		return EXIT_CONTINUE;
	}
	close(fd);
	vm->files[a->handle] = -1;
	a->ret = 0;
	return EXIT_CONTINUE;
}

static const struct hc_entry hc_table[MVMM_HC_COUNT] = {
	[MVMM_HC_WRITE] = {"write", hc_write, sizeof(struct mvmm_hc_write)},
	[MVMM_HC_READ] = {"read", hc_read, sizeof(struct mvmm_hc_read)},
	[MVMM_HC_EXIT] = {"exit", hc_exit, sizeof(struct mvmm_hc_exit)},
	[MVMM_HC_CLOCK] = {"clock", hc_clock, sizeof(struct mvmm_hc_clock)},
	[MVMM_HC_BOOTINFO] = {"bootinfo", hc_bootinfo, sizeof(struct mvmm_hc_bootinfo)},
	[MVMM_HC_ABORT] = {"abort", hc_abort, sizeof(struct mvmm_hc_abort)},
	[MVMM_HC_WAIT] = {"wait", hc_wait, sizeof(struct mvmm_hc_wait)},
	[MVMM_HC_READY] = {"ready", hc_ready, sizeof(struct mvmm_hc_ready)},
	[MVMM_HC_REQUEST] = {"request", hc_request, sizeof(struct mvmm_hc_request)},
	[MVMM_HC_RANDOM] = {"random", hc_random, sizeof(struct mvmm_hc_random)},
	[MVMM_HC_CHECKPOINT] = {"checkpoint", hc_checkpoint, sizeof(struct mvmm_hc_checkpoint)},
	[MVMM_HC_OPEN] = {"open", hc_open, sizeof(struct mvmm_hc_open)},
	[MVMM_HC_PREAD] = {"pread", hc_pread, sizeof(struct mvmm_hc_pread)},
	[MVMM_HC_CLOSE] = {"close", hc_close, sizeof(struct mvmm_hc_close)},
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
