/*
 * vm.c: VM shells (a VM, its memslot, one vCPU), the run loop with its
 * deadline and kick signal, pausing for dedup, extensions, teardown.
 */
#define _GNU_SOURCE
#include "vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "error.h"
#include "exit.h"
#include "gdbvm.h"
#include "layout.h"
#include "vcpu_state.h"
#include "vcpu_regs.h"
#include "x86.h"

/* How long a VM shell's warm-up may take (three instructions of a stub; ~0.1 ms here). */
#define VM_WARM_TIMEOUT_NS (2ull * 1000000000ull)

/* The kvm_run of the vCPU this thread is running, for the kick signal handler. */
static _Thread_local struct kvm_run *vm_running;
static pthread_once_t vm_signal_once = PTHREAD_ONCE_INIT;
static int vm_signal_ok;

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vm_deadline_passed(const struct vm *vm)
{
	return vm->deadline_ns && vm_now_ns() >= vm->deadline_ns;
}

/*
 * The handler only asks KVM to return: a signal landing before KVM_RUN is
 * entered leaves immediate_exit set, so the next KVM_RUN returns EINTR at
 * once and the kick is never lost.
 */
static void vm_kick_handler(int sig)
{
	(void)sig;
	if (vm_running)
		vm_running->immediate_exit = 1;
}

static void vm_install_signal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vm_kick_handler;
	sigemptyset(&sa.sa_mask);
	vm_signal_ok = sigaction(VM_KICK_SIGNAL, &sa, NULL) == 0;
}

int vm_map_memfd(struct vm *vm, int memfd)
{
	return vm_map_memfd_at(vm, memfd, 0);
}

int vm_map_memfd_at(struct vm *vm, int memfd, uint64_t off)
{
	/* MAP_PRIVATE: the guest's writes are copied on write; the memfd never changes. */
	if (mmap(vm->mem.host, vm->mem.size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, memfd, (off_t)off) == MAP_FAILED)
		return err_sys("mapping guest memory");
	vm->mapped_memfd = -1;
	if (huge_map_apply(vm->mem.huge, vm->mem.host, vm->mem.size) < 0)
		return -1;
	vm->mapped_memfd = memfd;
	vm->mapped_off = off;
	return 0;
}

/*
 * A 2 MiB-aligned reservation: KVM maps a guest 2 MiB page with one huge
 * shadow entry only where the host address is aligned like the guest's.
 */
static void *vm_reserve_aligned(uint64_t size)
{
	uint64_t extra = HUGE_PAGE_SIZE;
	uint8_t *raw, *at;

	raw = mmap(NULL, size + extra, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	at = (uint8_t *)(((uintptr_t)raw + extra - 1) & ~(uintptr_t)(extra - 1));
	if (at > raw)
		munmap(raw, (size_t)(at - raw));
	if (at + size < raw + size + extra)
		munmap(at + size, (size_t)(raw + size + extra - (at + size)));
	return at;
}

static int vm_shell_memory(struct vm *vm, uint64_t mem_size)
{
	struct kvm_userspace_memory_region slot;
	void *mem;

	/* Reserved, inaccessible until a guest is mapped over it. */
	mem = vm_reserve_aligned(mem_size);
	if (mem == MAP_FAILED)
		return err_sys("reserving guest memory");
	vm->mem.host = mem;
	vm->mem.size = mem_size;
	memset(&slot, 0, sizeof(slot));
	slot.memory_size = mem_size;
	slot.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return err_sys("KVM_SET_USER_MEMORY_REGION");
	return 0;
}

static int vm_shell_vcpu(struct vm *vm)
{
	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return err_sys("KVM_CREATE_VCPU");
	if (cpu_setup_vcpu(vm->kvm, vm->vcpu_fd) < 0)
		return -1;
	vm->run = mmap(NULL, vm->kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return err_sys("mapping kvm_run");
	}
	return vcpu_regs_setup(vm);
}

struct vm *vm_shell_create(struct kvm_sys *kvm, uint64_t mem_size)
{
	struct vm *vm;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		err_set("out of memory");
		return NULL;
	}
	vm->kvm = kvm;
	vm->fd = vm->vcpu_fd = vm->mapped_memfd = -1;
	/* Now, not at the first run: a confined vCPU thread may not install handlers. */
	pthread_once(&vm_signal_once, vm_install_signal);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		err_sys("KVM_CREATE_VM");
		goto fail;
	}
	if (vm_shell_memory(vm, mem_size) < 0 || vm_shell_vcpu(vm) < 0)
		goto fail;
	return vm;
fail:
	vm_destroy(vm);
	return NULL;
}

/* A per-thread timer that sends the kick signal to this thread every tick after the deadline. */
static int vm_arm_timer(uint64_t after_ns, timer_t *timer)
{
	struct sigevent sev;
	struct itimerspec its;

	pthread_once(&vm_signal_once, vm_install_signal);
	if (!vm_signal_ok)
		return err_sys("installing the vCPU kick signal handler");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = VM_KICK_SIGNAL;
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, timer) < 0)
		return err_sys("timer_create");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(after_ns / 1000000000ull);
	its.it_value.tv_nsec = (long)(after_ns % 1000000000ull);
	/* Keep kicking: a kick that lands in a host write may be absorbed there. */
	its.it_interval.tv_nsec = 10 * 1000 * 1000;
	if (timer_settime(*timer, 0, &its, NULL) < 0) {
		timer_delete(*timer);
		return err_sys("timer_settime");
	}
	return 0;
}

/*
 * The warm-up's KVM_RUN, bounded like every run: stubs that do not exit
 * (not mvmm's: a forged template) cannot hold the pool's thread forever.
 */
static int vm_warm_run(struct vm *vm)
{
	timer_t timer;
	int r, err;

	if (vm_arm_timer(VM_WARM_TIMEOUT_NS, &timer) < 0)
		return -1;
	vm_running = vm->run;
	r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
	err = errno;
	vm_running = NULL;
	timer_delete(timer);
	vm->run->immediate_exit = 0;
	if (r < 0 && err == EINTR)
		return err_set("warming a VM shell: the exception stub did not exit within %u ms "
			       "(the template's stubs are not mvmm's)",
			       (unsigned)(VM_WARM_TIMEOUT_NS / 1000000));
	if (r < 0) {
		errno = err;
		return err_sys("warming a VM shell");
	}
	return 0;
}

/*
 * Runs the shell's vCPU once, through exception stub 0 at CPL0 over memfd's
 * tables (three instructions: push, push, out to the fault port), so that
 * the cost of a vCPU's first KVM_RUN (~100 us here) is paid before a clone
 * needs it. The clone then maps its own memory and restores its own state.
 */
int vm_shell_warm(struct vm *vm, int memfd, const struct huge_map *huge)
{
	return vm_shell_warm_at(vm, memfd, 0, huge);
}

int vm_shell_warm_at(struct vm *vm, int memfd, uint64_t off, const struct huge_map *huge)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	vm->mem.huge = huge;
	if (vm_map_memfd_at(vm, memfd, off) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err_sys("warming a VM shell");
	x86_user_sregs(&sregs, vm->kvm->xcr0 != 0);
	sregs.cs.selector = MVMM_SEL_KCODE;
	sregs.cs.dpl = 0;
	sregs.ss.selector = MVMM_SEL_KDATA;
	sregs.ss.dpl = 0;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	memset(&regs, 0, sizeof(regs));
	regs.rip = MVMM_STUBS_GPA;
	regs.rsp = MVMM_R0STACK_TOP;
	regs.rflags = 0x2;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err_sys("warming a VM shell");
	if (vm_warm_run(vm) < 0)
		return -1;
	if (vm->run->exit_reason != KVM_EXIT_IO || vm->run->io.port != MVMM_FAULT_PORT)
		return err_set("warming a VM shell: unexpected exit %u", vm->run->exit_reason);
	return vcpu_complete_io(vm->vcpu_fd, vm->run);
}

/*
 * The toucher vm_shell_touch runs at CPL3 from the system-call page: for
 * each 32-bit page number in the list after it, one read of that page;
 * then `out %al,$MVMM_SYSCALL_PORT`. ecx holds the count, esi the list.
 */
static const uint8_t vm_toucher[] = {
	0x8b, 0x06,		  /* 1: mov (%rsi),%eax */
	0x48, 0xc1, 0xe0, 0x0c,	  /*    shl $12,%rax */
	0x8a, 0x00,		  /*    mov (%rax),%al */
	0x48, 0x83, 0xc6, 0x04,	  /*    add $4,%rsi */
	0xff, 0xc9,		  /*    dec %ecx */
	0x75, 0xf0,		  /*    jnz 1b */
	0xe6, MVMM_SYSCALL_PORT,  /*    out %al,$port */
};

#define VM_TOUCH_LIST 64 /* offset of the page list in the system-call page */
#define VM_TOUCH_MAX  ((MVMM_PAGE_SIZE - VM_TOUCH_LIST) / 4)

/* Whether the shell's page tables give CPL3 read access to page pg (4 KiB or 2 MiB entry). */
int vm_user_readable(const struct vm *vm, uint64_t pg)
{
	uint64_t gpa = pg * MVMM_PAGE_SIZE, pde, pte;

	if (gpa < MVMM_IMAGE_BASE || gpa >= vm->mem.size)
		return 0;
	memcpy(&pde, vm->mem.host + LAYOUT_PD_GPA + (gpa >> 21) * 8, 8);
	if (!(pde & PTE_P) || !(pde & PTE_US))
		return 0;
	if (pde & PTE_PS)
		return 1;
	memcpy(&pte, vm->mem.host + layout_pt_gpa(gpa >> 21) + ((gpa >> 12) & 511) * 8, 8);
	return (pte & PTE_P) && (pte & PTE_US);
}

/* One batch of at most VM_TOUCH_MAX pages: 0, 1 when the guest faulted (stop there), or -1. */
static int vm_touch_batch(struct vm *vm, const uint32_t *pages, uint32_t n)
{
	uint8_t *page = vm->mem.host + MVMM_SYSCALL_GPA;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	memcpy(page, vm_toucher, sizeof(vm_toucher));
	memcpy(page + VM_TOUCH_LIST, pages, n * sizeof(*pages));
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err_sys("touching a VM shell");
	x86_user_sregs(&sregs, vm->kvm->xcr0 != 0);
	memset(&regs, 0, sizeof(regs));
	regs.rip = MVMM_SYSCALL_GPA;
	regs.rsi = MVMM_SYSCALL_GPA + VM_TOUCH_LIST;
	regs.rcx = n;
	regs.rflags = 0x2;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0 || vm_warm_run(vm) < 0)
		return -1;
	if (vm->run->exit_reason != KVM_EXIT_IO ||
	    (vm->run->io.port != MVMM_SYSCALL_PORT && vm->run->io.port != MVMM_FAULT_PORT))
		return err_set("touching a VM shell: unexpected exit %u", vm->run->exit_reason);
	if (vcpu_complete_io(vm->vcpu_fd, vm->run) < 0)
		return -1;
	return vm->run->io.port == MVMM_SYSCALL_PORT ? 0 : 1;
}

int vm_shell_touch(struct vm *vm, const uint32_t *pages, uint32_t n)
{
	uint32_t batch[VM_TOUCH_MAX], k = 0;
	int r = 0;

	for (uint32_t i = 0; i < n && r == 0; i++) {
		if (vm_user_readable(vm, pages[i]))
			batch[k++] = pages[i];
		if (k == VM_TOUCH_MAX || (i + 1 == n && k)) {
			r = vm_touch_batch(vm, batch, k);
			k = 0;
		}
	}
	/* The page the toucher was written into is the template's again (its entry dropped). */
	if (madvise(vm->mem.host + MVMM_SYSCALL_GPA, MVMM_PAGE_SIZE, MADV_DONTNEED) < 0)
		return err_sys("touching a VM shell");
	return r < 0 ? -1 : 0;
}

void vm_apply_config(struct vm *vm, const struct vm_config *cfg)
{
	vm->in_fd = cfg->in_fd;
	vm->out_fd = cfg->out_fd;
	vm->err_fd = cfg->err_fd;
	vm->timeout_ns = cfg->timeout_ns;
	vm->instance = cfg->instance;
	vm->hooks = cfg->hooks;
	vm->hooks_ctx = cfg->hooks_ctx;
	vm->no_share = cfg->no_share;
	vm->template_mode = cfg->template_mode;
	vm->request = cfg->request;
	vm->exposed = cfg->exposed;
	vm->shm_grants = cfg->shm;
	vm->core = cfg->core;
	/* One instance of a run gets the debugger, whichever thread makes it. */
	vm->gdb = NULL;
	if (cfg->gdb && cfg->instance == cfg->gdb->instance &&
	    !__atomic_exchange_n(&cfg->gdb->claimed, 1, __ATOMIC_SEQ_CST))
		vm->gdb = cfg->gdb;
}

/* After set-up the VM fd is only needed for new memslots: thousands of instances fit the fd limit. */
void vm_drop_vm_fd(struct vm *vm)
{
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
}

int vm_enter_program_at(struct vm *vm, uint64_t entry, uint64_t rsp)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return err_sys("KVM_GET_SREGS");
	x86_user_sregs(&sregs, vm->kvm->xcr0 != 0);
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return err_sys("KVM_SET_SREGS");
	if (cpu_set_xcr0(vm->kvm, vm->vcpu_fd) < 0)
		return -1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsp = rsp;
	regs.rflags = 0x2;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return err_sys("KVM_SET_REGS");
	return 0;
}

int vm_request_init(struct vm_request *r, const char *const *args)
{
	size_t len = 0, argc = 0, i;
	char *p;

	for (i = 0; args && args[i]; i++, argc++)
		len += strlen(args[i]) + 1;
	p = malloc(len ? len : 1);
	if (!p)
		return err_set("out of memory");
	r->data = p;
	r->len = len;
	r->argc = argc;
	for (i = 0; i < argc; i++) {
		size_t l = strlen(args[i]) + 1;

		memcpy(p, args[i], l);
		p += l;
	}
	return 0;
}

void vm_request_free(struct vm_request *r)
{
	free((void *)r->data);
	r->data = NULL;
}

int vm_ext_add(struct vm *vm, const struct vm_ext *ext)
{
	unsigned i;

	for (i = 0; i < VM_EXT_MAX && vm->ext[i]; i++)
		if (vm->ext[i] == ext)
			return 0;
	if (i == VM_EXT_MAX)
		return err_set("too many extensions on one VM");
	vm->ext[i] = ext;
	return 0;
}

static void vm_ext_run_end(struct vm *vm)
{
	for (unsigned i = 0; i < VM_EXT_MAX && vm->ext[i]; i++)
		if (vm->ext[i]->run_end)
			vm->ext[i]->run_end(vm);
}

/* Last registered, first released: an extension may rely on those added before it. */
static void vm_ext_release(struct vm *vm)
{
	for (unsigned i = VM_EXT_MAX; i-- > 0;) {
		if (vm->ext[i] && vm->ext[i]->release)
			vm->ext[i]->release(vm);
		vm->ext[i] = NULL;
	}
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm_ext_release(vm); /* before guest memory goes: shared regions clear their PTEs in it */
	if (vm->run)
		munmap(vm->run, vm->kvm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->mem.host)
		munmap(vm->mem.host, vm->mem.size);
	if (vm->tpl_put)
		vm->tpl_put(vm->tpl);
	vm_request_free(&vm->argv_request);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	free(vm);
}

void vm_result_clear(struct vm_result *res)
{
	free(res->report);
	memset(res, 0, sizeof(*res));
}

void vm_stop(struct vm *vm, pthread_t runner)
{
	pthread_once(&vm_signal_once, vm_install_signal);
	__atomic_store_n(&vm->stop, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vm->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vm_signal_ok)
		pthread_kill(runner, VM_KICK_SIGNAL);
}

void vm_pause(struct vm *vm)
{
	pthread_once(&vm_signal_once, vm_install_signal);
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req++;
	if (vm->busy) {
		/* Under the lock: the runner re-checks pause_req before its next KVM_RUN. */
		__atomic_store_n(&vm->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (vm_signal_ok && vm->running)
			pthread_kill(vm->runner, VM_KICK_SIGNAL);
	}
	while (vm->busy)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_req > 0 && --vm->pause_req == 0)
		pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

/* Marks the runner idle (no guest memory touched) and wakes a pauser waiting for that. */
static void vm_set_idle_locked(struct vm *vm)
{
	if (vm->busy) {
		vm->busy = 0;
		pthread_cond_broadcast(&vm->pause_cond);
	}
}

/* Before every KVM_RUN: parks while a pause is in force, then marks the runner busy. */
static void vm_pause_point(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->pause_req) {
		vm_set_idle_locked(vm);
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	}
	vm->busy = 1;
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_block_begin(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm_set_idle_locked(vm);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_block_end(struct vm *vm)
{
	vm_pause_point(vm);
}

static void vm_run_loop(struct vm *vm)
{
	if (vm->gdb && gdbvm_start(vm) == EXIT_STOP)
		return;
	for (;;) {
		vm_pause_point(vm);
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				exit_host_error(vm, "KVM_RUN: %s", strerror(errno));
				return;
			}
			/* Ordered against vm_stop: a stop is either seen here or re-arms the kick. */
			__atomic_store_n(&vm->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST)) {
				exit_host_error(vm, "stopped by the host");
				return;
			}
			if (vm_deadline_passed(vm)) {
				vm->res->end = VM_END_TIMEOUT;
				return;
			}
			if (vm->gdb && gdbvm_kicked(vm) == EXIT_STOP)
				return;
			continue;
		}
		vm->res->exits++;
		if (exit_dispatch(vm) == EXIT_STOP)
			return;
	}
}

int vm_run(struct vm *vm, struct vm_result *res)
{
	timer_t timer;
	int timed = vm->timeout_ns > 0;

	memset(res, 0, sizeof(*res));
	vm->res = res;
	if (timed) {
		vm->deadline_ns = vm_now_ns() + vm->timeout_ns;
		if (vm_arm_timer(vm->timeout_ns, &timer) < 0) {
			res->end = VM_END_HOST_ERROR;
			snprintf(res->message, sizeof(res->message), "%s", mvmm_errmsg());
			vm->res = NULL;
			return -1;
		}
	}
	vm_running = vm->run;
	pthread_mutex_lock(&vm->pause_lock);
	vm->runner = pthread_self();
	vm->running = 1;
	pthread_mutex_unlock(&vm->pause_lock);
	vm_run_loop(vm);
	if (vm->gdb)
		gdbvm_end(vm); /* breakpoints out before anything looks at guest memory */
	vm_ext_run_end(vm); /* shared regions detach all and wake peers waiting on them */
	pthread_mutex_lock(&vm->pause_lock);
	vm->running = 0;
	vm_set_idle_locked(vm);
	pthread_mutex_unlock(&vm->pause_lock);
	vm_running = NULL;
	if (timed) {
		timer_delete(timer);
		vm->run->immediate_exit = 0;
	}
	vm->deadline_ns = 0;
	vm->res = NULL;
	if (res->end == VM_END_HOST_ERROR) {
		err_set("%s", res->message);
		return -1;
	}
	return 0;
}
