/*
 * lx_exec.c: a Linux program's start, as execve leaves it: the process
 * state, then at the top of the stack the strings, 16 random bytes, the
 * auxiliary vector, envp, argv and argc, with RSP at argc and RDX 0 (no
 * exit function from a dynamic loader). A dynamic program starts in its
 * loader, which the image holds (AT_BASE), with AT_PHDR and AT_ENTRY its.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/error.h"
#include "core/layout.h"
#include "load/image.h"

/* At most this much of the stack holds argv, envp and their strings (Linux: a quarter of RLIMIT_STACK). */
#define LX_ARGS_MAX (MVMM_STACK_SIZE / 4)
#define LX_AUXV_MAX 24

static void lx_release(struct vm *vm)
{
	lx_proc_free(vm->lx);
	vm->lx = NULL;
}

static const struct vm_ext lx_ext = {
	.run_end = lx_core_run_end,
	.release = lx_release,
};

int lx_attach(struct vm *vm)
{
	return vm_ext_add(vm, &lx_ext);
}

/* Writes downwards from *top: a block of guest stack, bounded by floor. */
struct lx_stack {
	struct vm *vm;
	uint64_t top;
	uint64_t floor;
};

static int lx_push(struct lx_stack *st, const void *src, uint64_t len, uint64_t *gva)
{
	if (st->top - st->floor < len)
		return err_set("the arguments and environment do not fit the guest's stack "
			       "(at most %u KiB)",
			       LX_ARGS_MAX >> 10);
	st->top -= len;
	memcpy(gmem_ptr(&st->vm->mem, st->top, len), src, len);
	if (gva)
		*gva = st->top;
	return 0;
}

static int lx_push_strings(struct lx_stack *st, const char *const *list, uint64_t *ptrs, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (lx_push(st, list[i], strlen(list[i]) + 1, &ptrs[i]) < 0)
			return -1;
	return 0;
}

static size_t lx_count(const char *const *list)
{
	size_t n = 0;

	while (list && list[n])
		n++;
	return n;
}

static uint64_t lx_hwcap(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) ? d : 0;
}

static size_t lx_auxv(uint64_t *v, const struct image *img, uint64_t random, uint64_t platform,
		      uint64_t execfn, uint64_t instance)
{
	size_t n = 0;

#define AUX(type, val) (v[n++] = (type), v[n++] = (uint64_t)(val))
	AUX(AT_PHDR, img->prog.phdr);
	AUX(AT_PHENT, sizeof(Elf64_Phdr));
	AUX(AT_PHNUM, img->prog.phnum);
	AUX(AT_PAGESZ, MVMM_PAGE_SIZE);
	AUX(AT_BASE, img->interp.nsegs ? img->interp.base : 0);
	AUX(AT_FLAGS, 0);
	AUX(AT_ENTRY, img->prog.entry);
	AUX(AT_UID, getuid());
	AUX(AT_EUID, geteuid());
	AUX(AT_GID, getgid());
	AUX(AT_EGID, getegid());
	AUX(AT_SECURE, 0);
	AUX(AT_RANDOM, random);
	AUX(AT_HWCAP, lx_hwcap());
	AUX(AT_HWCAP2, 0); /* no FSGSBASE: CR4 does not enable it */
	AUX(AT_CLKTCK, 100);
	AUX(AT_PLATFORM, platform);
	AUX(AT_EXECFN, execfn);
	AUX(MVMM_AT_INSTANCE, instance); /* beyond Linux's numbers: only mvmm_instance() asks */
	AUX(AT_NULL, 0);
#undef AUX
	return n;
}

/*
 * The initial stack; returns the RSP (argc's address, 16-byte aligned).
 * envp and argv arrays and the auxiliary vector sit in one block below the strings.
 */
static int lx_build_stack(struct vm *vm, const struct image *img, const struct vm_config *cfg,
			  uint64_t *rsp, uint64_t *at_random)
{
	const char *const *argv = cfg->argv, *const *envp = cfg->envp;
	size_t argc = lx_count(argv), envc = lx_count(envp), nwords, nauxv, i;
	uint64_t top = layout_stack_top(vm->mem.size), slide;
	struct lx_stack st = {vm, top, top - LX_RAND_STACK - LX_ARGS_MAX};
	uint64_t auxv[2 * LX_AUXV_MAX], random = 0, platform = 0, execfn = 0, *ptrs, *words;
	uint8_t rnd[16];
	int ret = -1;

	ptrs = calloc(argc + envc + 1, sizeof(*ptrs));
	if (!ptrs)
		return err_set("out of memory");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) ||
	    getrandom(&slide, sizeof(slide), 0) != (ssize_t)sizeof(slide)) {
		err_sys("getrandom (AT_RANDOM)");
		goto out;
	}
	/* The stack's top, randomized in 16-byte steps (Linux: up to 8 MiB; here 64 KiB). */
	st.top -= slide % (LX_RAND_STACK / 16) * 16;
	if (lx_push(&st, argc ? argv[0] : "", strlen(argc ? argv[0] : "") + 1, &execfn) < 0 ||
	    lx_push(&st, "x86_64", 7, &platform) < 0 || lx_push(&st, rnd, 16, &random) < 0 ||
	    lx_push_strings(&st, envp, ptrs + argc, envc) < 0 ||
	    lx_push_strings(&st, argv, ptrs, argc) < 0)
		goto out;
	*at_random = random;
	nauxv = lx_auxv(auxv, img, random, platform, execfn, cfg->instance);
	nwords = 1 + argc + 1 + envc + 1 + nauxv;
	st.top &= ~15ull;
	if (nwords % 2)
		st.top -= 8; /* RSP, at argc, ends 16-byte aligned */
	words = calloc(nwords, sizeof(*words));
	if (!words) {
		err_set("out of memory");
		goto out;
	}
	words[0] = argc;
	for (i = 0; i < argc; i++)
		words[1 + i] = ptrs[i];
	for (i = 0; i < envc; i++)
		words[2 + argc + i] = ptrs[argc + i];
	memcpy(words + 3 + argc + envc, auxv, nauxv * sizeof(*auxv));
	ret = lx_push(&st, words, nwords * sizeof(*words), rsp);
	free(words);
out:
	free(ptrs);
	return ret;
}

int lx_exec(struct vm *vm, struct image *img, const struct vm_config *cfg)
{
	static const struct lx_config none = {.strace_fd = 2};
	const struct lx_config *lx = cfg->lx ? cfg->lx : &none;
	struct lx_proc *p;
	uint64_t rsp;

	p = calloc(1, sizeof(*p));
	if (!p)
		return err_set("out of memory");
	if (lx_attach(vm) < 0) {
		free(p);
		return -1;
	}
	vm->lx = p;
	p->umask = 022;
	p->strace = lx->strace;
	p->strace_fd = lx->strace_fd;
	p->ready_on_stdin = lx->ready_on_stdin;
	p->strace_numbered = lx->strace_numbered;
	if (lx_fd_init(p) < 0 || lx_fs_init(p, lx, &img->needed) < 0 ||
	    lx_mem_init(p, vm, img->heap_start, layout_guard_page(vm->mem.size)) < 0 ||
	    lx_build_stack(vm, img, cfg, &rsp, &p->at_random) < 0)
		return -1; /* lx_release frees p with the VM */
	/* argc, argv and envp with their NULLs lie below the auxiliary vector (core files) */
	p->auxv_gva = rsp + 8 * (3 + lx_count(cfg->argv) + lx_count(cfg->envp));
	return vm_enter_program_at(vm, img->interp.nsegs ? img->interp.entry : img->prog.entry, rsp);
}
