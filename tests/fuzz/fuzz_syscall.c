/* fuzz_syscall.c: libFuzzer target: the Linux system-call layer (vmm/guestabi/lx_*.c) fed
 * fabricated system-call exits over a fake VM whose guest memory is a plain mapping, without KVM:
 * every number the table knows (and others), arguments that are small numbers, raw 64-bit
 * values, pointers anywhere in guest memory or at prepared paths, with a --dir tree that holds
 * a file, a directory and symlinks that point out of it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/kvm.h"
#include "core/vm.h"
#include "guestabi/lx_int.h"
#include "load/image.h"
#include "mvmm_abi.h"

#include "../fakevm.h"
#include "fuzz.h"

/*
 * Input: up to FUZZ_CALLS calls, each: u16 number (modulo LX_NR_LIMIT + 8, so a few past the
 * table), then six arguments, each a kind byte and its operand:
 *   0  a small signed number (u8)	1  a guest address (u32, modulo guest memory)
 *   2  a raw 64-bit value (u64)	3  a prepared path (u8 index into paths[])
 * and u32 for the guest's RSP (modulo guest memory: signal frames are written there).
 * After each call: the action and the result agree, no page below the program area was
 * touched, the fd table holds only valid entries. Calls that sleep or wait are left out (they
 * would end at the 20 ms deadline: correct but slow); every other number is fair game.
 */
#define MEM	   MVMM_MEM_MIN
#define PAGE	   MVMM_PAGE_SIZE
#define RUN_SIZE   8192
#define FUZZ_CALLS 48
#define HEAP	   0x600000u
#define PATHS_GPA  0x500000u /* the prepared paths, in the program area */

static const char *const paths[] = {
	"/t/file", "/t/dir", "/t/up", "/t/abs", "/t/../../etc/passwd", "/proc/self/exe",
	"/",	   ".",	     "/t",    "/t/dir/", "/t/nope",		  "",
};

static struct {
	struct vm vm;
	struct image img;
	struct kvm_sys kvm;
	struct vm_result res;
	struct lx_dir dir;
	struct lx_config cfg;
	uint8_t *mem;
	struct kvm_run *run;
	int out[2], err[2], in[2];
	char tree[64];
} F;

static void make_tree(void)
{
	char p[128];
	int fd;

	snprintf(F.tree, sizeof(F.tree), "/tmp/mvmm-fuzz-tree.XXXXXX");
	fuzz_need(mkdtemp(F.tree) != NULL, "mkdtemp");
	snprintf(p, sizeof(p), "%s/file", F.tree);
	fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	fuzz_need(fd >= 0 && write(fd, "contents\n", 9) == 9, "tree file");
	close(fd);
	snprintf(p, sizeof(p), "%s/dir", F.tree);
	fuzz_need(mkdir(p, 0755) == 0, "tree dir");
	snprintf(p, sizeof(p), "%s/up", F.tree);
	fuzz_need(symlink("../../../../etc/passwd", p) == 0, "tree link");
	snprintf(p, sizeof(p), "%s/abs", F.tree);
	fuzz_need(symlink("/etc/passwd", p) == 0, "tree abs link");
}

static void init(void)
{
	uint8_t *base;

	base = mmap(NULL, MEM + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	fuzz_need(base != MAP_FAILED, "mmap");
	F.mem = base + PAGE; /* a guard page on each side */
	fuzz_need(mprotect(F.mem, MEM, PROT_READ | PROT_WRITE) == 0, "mprotect");
	F.run = calloc(1, RUN_SIZE);
	fuzz_need(F.run != NULL, "calloc");
	fuzz_need(pipe2(F.out, O_NONBLOCK | O_CLOEXEC) == 0 &&
			  pipe2(F.err, O_NONBLOCK | O_CLOEXEC) == 0 &&
			  pipe2(F.in, O_NONBLOCK | O_CLOEXEC) == 0,
		  "pipe2");
	make_tree();
	F.dir.host = F.tree;
	F.dir.guest = "/t";
	F.cfg.dirs = &F.dir;
	F.cfg.ndirs = 1;
	F.cfg.strace_fd = -1;
	fake_vm_init(&F.vm, &F.img, F.mem, MEM, F.run, F.in, F.out, F.err, HEAP, "fuzz");
	F.kvm.sync_regs = 1;
	F.vm.kvm = &F.kvm;
	F.vm.up = &lx_upcalls;
	F.vm.res = &F.res;
}

static uint64_t take(const uint8_t **p, size_t *left, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n && *left; i++, (*p)++, (*left)--)
		v |= (uint64_t)(*p)[0] << (8 * i);
	return v;
}

static uint64_t take_arg(const uint8_t **p, size_t *left)
{
	switch (take(p, left, 1) % 4) {
	case 0:
		return (uint64_t)(int64_t)(int8_t)take(p, left, 1);
	case 1:
		return take(p, left, 4) % MEM;
	case 2:
		return take(p, left, 8);
	default: {
		uint64_t i = take(p, left, 1) % (sizeof(paths) / sizeof(paths[0])), at = PATHS_GPA;

		while (i--)
			at += strlen(paths[i]) + 1;
		return at;
	}
	}
}

/* A fresh process per input: descriptors on the pipes, the tree, the program break at HEAP. */
static struct lx_proc *new_proc(void)
{
	struct lx_proc *p = calloc(1, sizeof(*p));
	uint64_t at = PATHS_GPA;

	fuzz_need(p != NULL, "calloc");
	p->umask = 022;
	p->strace_fd = -1;
	fuzz_need(lx_fd_init(p) == 0 && lx_fs_init(p, &F.cfg, NULL) == 0 &&
			  lx_mem_init(p, &F.vm, HEAP, MEM - MVMM_STACK_SIZE - PAGE) == 0,
		  "process");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		memcpy(F.mem + at, paths[i], strlen(paths[i]) + 1);
		at += strlen(paths[i]) + 1;
	}
	return p;
}

static int sleeps(uint64_t nr)
{
	return nr == 34 || nr == 35 || nr == 128 || nr == 130 || nr == 202 || nr == 230;
}

static void check_system_area(void)
{
	static unsigned char vec[MVMM_IMAGE_BASE / PAGE];

	fuzz_need(mincore(F.mem, MVMM_IMAGE_BASE, vec) == 0, "mincore");
	for (unsigned i = 0; i < MVMM_IMAGE_BASE / PAGE; i++)
		FUZZ_CHECK(!(vec[i] & 1), "system page 0x%x touched", i * PAGE);
}

static void call(uint64_t nr, const uint64_t a[6], uint64_t rsp)
{
	struct kvm_regs *r = &F.run->s.regs.regs;
	enum exit_action act;
	struct lx_proc *p = F.vm.lx;

	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_IO;
	F.run->io.direction = KVM_EXIT_IO_OUT;
	F.run->io.size = 1;
	F.run->io.port = MVMM_SYSCALL_PORT;
	F.run->io.count = 1;
	F.run->io.data_offset = 4096;
	r->rax = nr;
	r->rdi = a[0], r->rsi = a[1], r->rdx = a[2], r->r10 = a[3], r->r8 = a[4], r->r9 = a[5];
	r->rsp = rsp;
	r->rcx = HEAP - 16; /* the return address: any user address does */
	r->r11 = 0x202;
	F.vm.deadline_ns = vm_now_ns() + 20000000ull;
	act = exit_dispatch(&F.vm);
	FUZZ_LOG("syscall %lu -> %s, rax %ld, end %d %s\n", (unsigned long)nr,
		 act == EXIT_STOP ? "stop" : "continue", (long)r->rax, F.res.end, F.res.message);
	FUZZ_CHECK((act == EXIT_STOP) == (F.res.end != VM_END_NONE), "action %d with end %d (%s)",
		   act, F.res.end, F.res.message);
	for (unsigned i = 0; i < p->nfds; i++)
		FUZZ_CHECK(p->fds[i].kind <= LX_FD_PIPE &&
				   (p->fds[i].kind != LX_FD_FREE || p->fds[i].host < 0),
			   "fd %u: kind %d host %d", i, p->fds[i].kind, p->fds[i].host);
	check_system_area();
	while (read(F.out[0], F.mem + HEAP, 4096) > 0 || read(F.err[0], F.mem + HEAP, 4096) > 0)
		;
	vm_result_clear(&F.res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const uint8_t *p = data;
	size_t left = size;

	if (!ready) {
		init();
		ready = 1;
	}
	F.vm.lx = new_proc();
	for (unsigned n = 0; n < FUZZ_CALLS && left; n++) {
		uint64_t nr = take(&p, &left, 2) % (LX_NR_LIMIT + 8), a[6], rsp;

		for (int i = 0; i < 6; i++)
			a[i] = take_arg(&p, &left);
		rsp = take(&p, &left, 4) % MEM;
		if (!sleeps(nr))
			call(nr, a, rsp);
	}
	lx_proc_free(F.vm.lx);
	F.vm.lx = NULL;
	/* Every page the calls touched goes: the next input starts from zeroed memory. */
	madvise(F.mem + MVMM_IMAGE_BASE, MEM - MVMM_IMAGE_BASE, MADV_DONTNEED);
	return 0;
}
