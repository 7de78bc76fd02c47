/* template.c: freeze a guest at MVMM_HC_READY into a sealed memfd plus vCPU state; clone it. */
#define _GNU_SOURCE
#include "template.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/log.h"
#include "core/x86.h"
#include "guestabi/guest.h"
#include "guestabi/lx.h"
#include "mem/memstat.h"
#include "shellpool.h"

#define TEMPLATE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static int page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[MVMM_PAGE_SIZE];

	return memcmp(p, zero, MVMM_PAGE_SIZE) == 0;
}

static int write_page(int fd, const uint8_t *src, uint64_t off)
{
	if (fd_pwrite_all(fd, src, MVMM_PAGE_SIZE, off) < 0)
		return err_sys("writing template memory");
	return 0;
}

/* Copies the pages of [first, first + n) that hold data, given their pagemap entries. */
static int capture_pages(const struct vm *vm, int fd, uint64_t first, uint64_t n,
			 const uint64_t *entries, const uint8_t *mapped, uint64_t *data_pages)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		uint64_t page = first + i;
		const uint8_t *src = vm->mem.host + page * MVMM_PAGE_SIZE;

		/*
		 * An untouched hole stays a hole. A page mapped from a host file
		 * (a library: lx_mem.c) is neither private nor the image's, and
		 * may not be touched yet: it is kept when it holds data.
		 */
		if (!memstat_entry_present(entries[i]) && !image_page_has_data(vm->img, page) &&
		    !(mapped && data_map_test(mapped, page)))
			continue;
		if (page_is_zero(src))
			continue;
		if (write_page(fd, src, page * MVMM_PAGE_SIZE) < 0)
			return -1;
		(*data_pages)++;
	}
	return 0;
}

int template_capture_memory(const struct vm *vm, uint64_t *data_pages)
{
	uint64_t npages = vm->mem.size / MVMM_PAGE_SIZE, *entries;
	uint8_t *mapped = NULL;
	int fd, r;

	*data_pages = 0;
	fd = memfd_create("mvmm-template", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return err_sys("memfd_create");
	if (ftruncate(fd, (off_t)vm->mem.size) < 0) {
		err_sys("sizing the template memfd");
		goto fail;
	}
	entries = memstat_pagemap(vm);
	if (!entries)
		goto fail;
	if (vm->lx) {
		mapped = calloc((npages + 7) / 8, 1);
		if (!mapped) {
			free(entries);
			err_set("out of memory");
			goto fail;
		}
		lx_mark_mapped(vm->lx, mapped, npages);
	}
	r = capture_pages(vm, fd, 0, npages, entries, mapped, data_pages);
	free(mapped);
	free(entries);
	if (r < 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, TEMPLATE_SEALS) < 0) {
		err_sys("sealing the template memfd");
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

struct template *template_from_parts(struct image *img, int memfd, const struct vcpu_state *st,
				     uint64_t ready_block)
{
	struct template *tpl = calloc(1, sizeof(*tpl));

	if (!tpl) {
		close(memfd);
		err_set("out of memory");
		return NULL;
	}
	tpl->refs = 1;
	tpl->img = image_get(img);
	tpl->memfd = memfd;
	/* From a snapshot or the cache, the memory came from a file: the stubs must be mvmm's. */
	if (!x86_system_is_ours(memfd)) {
		err_set("the template's system area (descriptor tables, exception stubs) is not "
			"the one mvmm builds");
		template_put(tpl);
		return NULL;
	}
	if (data_map_of_fd(memfd, img->mem_size, &tpl->data_map, &tpl->data_pages) < 0) {
		template_put(tpl);
		return NULL;
	}
	tpl->mem_size = img->mem_size;
	tpl->state = *st;
	tpl->ready_block = ready_block;
	tpl->next_clone = 1;
	return tpl;
}

struct template *template_from_file(struct image *img, int fd, uint64_t mem_off, int ovl_fd,
				    uint64_t (*ovl)[2], uint32_t ovl_n, uint8_t *data_map,
				    const struct vcpu_state *st, uint64_t ready_block)
{
	struct template *tpl = calloc(1, sizeof(*tpl));
	uint64_t p;

	if (!tpl) {
		close(fd);
		if (ovl_n)
			close(ovl_fd);
		free(ovl);
		free(data_map);
		err_set("out of memory");
		return NULL;
	}
	tpl->refs = 1;
	tpl->img = image_get(img);
	tpl->memfd = fd;
	tpl->mem_off = mem_off;
	tpl->ovl_fd = ovl_fd;
	tpl->ovl_n = ovl_n;
	tpl->ovl = ovl;
	tpl->data_map = data_map;
	tpl->mem_size = img->mem_size;
	/* The caller refuses overlays over the system area: the file's stubs are what runs. */
	if (!x86_system_is_ours_at(fd, mem_off)) {
		err_set("the template's system area (descriptor tables, exception stubs) is not "
			"the one mvmm builds");
		template_put(tpl);
		return NULL;
	}
	for (p = 0; p < tpl->mem_size / MVMM_PAGE_SIZE; p++)
		tpl->data_pages += data_map_test(data_map, p);
	tpl->state = *st;
	tpl->ready_block = ready_block;
	tpl->next_clone = 1;
	return tpl;
}

static int template_map_overlay(struct vm *vm, const struct template *tpl)
{
	uint32_t i;

	for (i = 0; i < tpl->ovl_n; i++)
		if (mmap(vm->mem.host + tpl->ovl[i][0] * MVMM_PAGE_SIZE,
			 tpl->ovl[i][1] * MVMM_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, tpl->ovl_fd,
			 (off_t)(tpl->ovl[i][0] * MVMM_PAGE_SIZE)) == MAP_FAILED)
			return err_sys("mapping a snapshot diff's pages");
	return 0;
}

int template_map(struct vm *vm, const struct template *tpl)
{
	if (vm_map_memfd_at(vm, tpl->memfd, tpl->mem_off) < 0)
		return -1;
	return template_map_overlay(vm, tpl);
}

uint8_t *template_view(const struct template *tpl)
{
	uint8_t *m = mmap(NULL, tpl->mem_size, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, tpl->memfd,
			  (off_t)tpl->mem_off);
	uint32_t i;

	if (m == MAP_FAILED) {
		err_sys("mapping the template's memory");
		return NULL;
	}
	for (i = 0; i < tpl->ovl_n; i++)
		if (mmap(m + tpl->ovl[i][0] * MVMM_PAGE_SIZE, tpl->ovl[i][1] * MVMM_PAGE_SIZE,
			 PROT_READ, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, tpl->ovl_fd,
			 (off_t)(tpl->ovl[i][0] * MVMM_PAGE_SIZE)) == MAP_FAILED) {
			err_sys("mapping the template's memory");
			munmap(m, tpl->mem_size);
			return NULL;
		}
	return m;
}

/* The frozen guest's state, with its pending `out` completed (RIP past it). */
static struct template *template_freeze(struct vm *vm)
{
	struct template *tpl;
	struct vcpu_state st;
	uint64_t pages;
	int fd;

	if (vcpu_complete_io(vm->vcpu_fd, vm->run) < 0 || vcpu_state_save(vm->vcpu_fd, &st) < 0)
		return NULL;
	fd = template_capture_memory(vm, &pages);
	if (fd < 0)
		return NULL;
	tpl = template_from_parts(vm->img, fd, &st, vm->ready_block);
	if (tpl && vm->lx && !(tpl->lx = lx_proc_dup(vm->lx))) {
		err_set("copying the template's Linux process state: out of memory");
		template_put(tpl);
		return NULL;
	}
	return tpl;
}

struct template *template_create(struct kvm_sys *kvm, struct image *img,
				 const struct vm_config *cfg, struct vm_result *res)
{
	struct vm_config c = *cfg;
	struct template *tpl = NULL;
	uint64_t t0 = vm_now_ns();
	struct vm *vm;

	c.template_mode = 1;
	memset(res, 0, sizeof(*res));
	vm = vm_create(kvm, img, &c);
	if (!vm)
		return NULL;
	if (vm_run(vm, res) == 0 && res->end == VM_END_READY) {
		tpl = template_freeze(vm);
		if (tpl) {
			tpl->boot_ns = vm_now_ns() - t0;
			vlog_info("template: booted to its ready call in %.1f ms; %lu pages of "
				  "%lu MiB captured", (double)tpl->boot_ns / 1e6,
				  (unsigned long)tpl->data_pages,
				  (unsigned long)(tpl->mem_size >> 20));
		}
	} else if (res->end != VM_END_HOST_ERROR) {
		err_set("the template guest ended before calling ready");
	}
	vm_destroy(vm);
	return tpl;
}

static void template_put_opaque(void *tpl)
{
	template_put(tpl);
}

/*
 * A clone's own number in the ready block (or the resume value), then the
 * template's vCPU state. MVMM_HC_READY returns it, like fork().
 */
static int template_resume(struct vm *vm, struct template *tpl)
{
	int64_t *ret;

	vm->clone_no = __atomic_fetch_add(&tpl->next_clone, tpl->clone_step ? tpl->clone_step : 1,
					  __ATOMIC_RELAXED);
	/* Frozen at its first stdin read (--ready-on=stdin), it resumes on that `syscall`. */
	if (!tpl->ready_block)
		return vcpu_state_restore(vm->vcpu_fd, &tpl->state);
	/*
	 * From a snapshot or cache file the block's address is the file's word:
	 * it must lie where a guest may write, not in read-only 2 MiB pages,
	 * which hugetlbfs and the overlay map read-only on the host too.
	 */
	ret = gmem_user_ptr_rw(&vm->mem, tpl->ready_block, sizeof(*ret));
	if (!ret)
		return err_set("template's ready block 0x%lx is outside the guest's writable memory",
			       (unsigned long)tpl->ready_block);
	*ret = tpl->resume_ret ? tpl->resume_ret : (int64_t)vm->clone_no;
	return vcpu_state_restore(vm->vcpu_fd, &tpl->state);
}

/* Resumes a clone in a fresh shell: the template's memory, state, and its own number. */
static int template_load_clone(struct vm *vm, struct template *tpl, const struct vm_config *cfg)
{
	vm_apply_config(vm, cfg);
	vm->template_mode = 0;
	if (image_hold_in_vm(vm, tpl->img) < 0)
		return -1;
	vm->up = &lx_upcalls;
	vm->data_map = tpl->data_map;
	/* The image's 2 MiB pages: read-only to guests, so the template's are the image's. */
	vm->mem.huge = &tpl->img->huge;
	vm->tpl = template_get(tpl);
	vm->tpl_put = template_put_opaque;
	/*
	 * A shell warmed over this template's memory already maps it: only the
	 * ring-0 stack page was written (by the warm-up's stub), and the
	 * shadow MMU keeps what the warm-up built. Remapping would throw that away.
	 */
	if ((vm->mapped_memfd != tpl->memfd || vm->mapped_off != tpl->mem_off) &&
	    vm_map_memfd_at(vm, tpl->memfd, tpl->mem_off) < 0)
		return -1;
	/* A warmed shell maps the file alone: a restored chain's diffs go over it. */
	if (template_map_overlay(vm, tpl) < 0)
		return -1;
	/* After the mapping: the clone's AT_RANDOM bytes are written into its memory. */
	if (tpl->lx && lx_clone_into(vm, tpl->lx, cfg) < 0)
		return -1;
	return template_resume(vm, tpl);
}

int template_reuse_clone(struct vm *vm, struct template *tpl, const struct vm_config *cfg)
{
	vm_apply_config(vm, cfg);
	vm->template_mode = 0;
	vm->deadline_ns = 0;
	vm->stop = 0;
	/* Mapping the template again drops every page the last guest wrote. */
	if (template_map(vm, tpl) < 0)
		return -1;
	if (tpl->lx && lx_clone_into(vm, tpl->lx, cfg) < 0)
		return -1;
	/* Clears whatever the last run left pending (an exception, an interrupt). */
	if (ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &tpl->state.events) < 0)
		return err_sys("KVM_SET_VCPU_EVENTS");
	return template_resume(vm, tpl);
}

struct vm *template_clone_touched(struct template *tpl, struct shell_pool *pool,
				  const struct vm_config *cfg)
{
	struct vm *vm;

	if (!__atomic_load_n(&tpl->ws, __ATOMIC_ACQUIRE) || !(vm = shell_pool_try_get(pool)))
		return NULL;
	/* One filled before the working set was known is a warmed shell all the same. */
	if (template_load_clone(vm, tpl, cfg) < 0) {
		shell_pool_reap(pool, vm);
		return NULL;
	}
	if (cfg->lean)
		vm_drop_vm_fd(vm);
	return vm;
}

struct vm *template_clone(struct template *tpl, struct kvm_sys *kvm, struct shell_pool *pool,
			  const struct vm_config *cfg)
{
	struct vm *vm = pool ? shell_pool_get(pool) : vm_shell_create(kvm, tpl->mem_size);

	if (!vm)
		return NULL;
	if (template_load_clone(vm, tpl, cfg) < 0) {
		vm_destroy(vm);
		return NULL;
	}
	if (cfg->lean)
		vm_drop_vm_fd(vm);
	return vm;
}

int template_ws_prepare(struct template *tpl)
{
	if (tpl->ws_buf)
		return 0;
	tpl->ws_buf = malloc(sizeof(*tpl->ws_buf) + TEMPLATE_WS_MAX * sizeof(tpl->ws_buf->pages[0]));
	return tpl->ws_buf ? 0 : err_set("out of memory");
}

void template_learn(struct template *tpl, const struct vm *vm)
{
	uint64_t npages = vm->mem.size / MVMM_PAGE_SIZE, e[MEMSTAT_BATCH], p, k, n;
	struct template_ws *ws = tpl->ws_buf;
	int unclaimed = 0;

	if (!ws || __atomic_load_n(&tpl->ws_claimed, __ATOMIC_ACQUIRE) ||
	    !__atomic_compare_exchange_n(&tpl->ws_claimed, &unclaimed, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return;
	ws->n = 0;
	for (p = MVMM_IMAGE_BASE / MVMM_PAGE_SIZE; p < npages && ws->n < TEMPLATE_WS_MAX; p += n) {
		n = npages - p < MEMSTAT_BATCH ? npages - p : MEMSTAT_BATCH;
		if (memstat_pagemap_read(vm, p, n, e) < 0)
			return; /* claimed, never published: shells go untouched */
		for (k = 0; k < n && ws->n < TEMPLATE_WS_MAX; k++)
			if (memstat_entry_present(e[k]))
				ws->pages[ws->n++] = (uint32_t)(p + k);
	}
	__atomic_store_n(&tpl->ws, ws, __ATOMIC_RELEASE);
}

struct template *template_get(struct template *tpl)
{
	__atomic_add_fetch(&tpl->refs, 1, __ATOMIC_RELAXED);
	return tpl;
}

void template_put(struct template *tpl)
{
	if (!tpl || __atomic_sub_fetch(&tpl->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	close(tpl->memfd);
	if (tpl->ovl_n)
		close(tpl->ovl_fd);
	free(tpl->ovl);
	free(tpl->ws_buf);
	lx_proc_free(tpl->lx);
	free(tpl->data_map);
	image_put(tpl->img);
	free(tpl);
}
