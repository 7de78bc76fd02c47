/*
 * lx.h: unmodified Linux programs as guests. The program runs at CPL3 as
 * it would under Linux; its system calls end in the VMM (one exit each,
 * core/vcpu_regs.h) and are answered here with Linux's semantics, over the
 * host files and directories the user exposed. No guest kernel.
 */
#ifndef MVMM_LX_H
#define MVMM_LX_H

#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

struct image;
struct lx_proc;

/* A host directory tree visible to the guest (--dir HOST[:GUEST][:rw]). */
struct lx_dir {
	const char *host;
	const char *guest; /* absolute guest path; NULL: the same as host */
	int rw;		   /* writable; else writes answer EROFS */
};

/* What a Linux program gets besides argv and envp (vm_config.lx). */
struct lx_config {
	const struct lx_dir *dirs;
	size_t ndirs;
	const char *cwd; /* the working directory; NULL: "/" */
	int strace;	 /* print every system call to strace_fd */
	int strace_fd;
	int strace_numbered; /* prefix each line with the instance number ("[3] ") */
	int ready_on_stdin;  /* --ready-on=stdin: in template mode, freeze at the first stdin read */
};

/* The Linux ABI's answers to the core: system calls, hypercalls, symbols. */
extern const struct vm_upcalls lx_upcalls;

/*
 * Sets up img's Linux program in vm, whose memory is already mapped, as
 * execve does: the process state (file descriptors over the guest's stdio,
 * the directories of cfg->lx, brk and mmap areas), then the stack with
 * argc, argv, envp and the auxiliary vector, and the vCPU at the entry.
 */
int lx_exec(struct vm *vm, struct image *img, const struct vm_config *cfg);

/*
 * Templates and clones (clone/template.c): a deep copy of a frozen
 * program's process state (host fds duplicated), its release, and a clone
 * made to run with a copy of it: cfg's --strace, its request as stdin when
 * it has no stdin of its own, fresh AT_RANDOM bytes.
 */
struct lx_proc *lx_proc_dup(const struct lx_proc *p);
void lx_proc_free(struct lx_proc *p);
int lx_clone_into(struct vm *vm, const struct lx_proc *tpl, const struct vm_config *cfg);

/*
 * The file form of a template's process state (snapshots, cache entries),
 * lx_save.c: lx_proc_save gives a malloc'd buffer (its length a multiple
 * of 8), or -1 with the message set when the process holds what no file
 * can carry (a host file or pipe open). lx_proc_load checks a buffer read
 * from a file (hostile, maybe) against guests of mem_size bytes and
 * rebuilds the state; NULL with the message set. Its clones open the
 * --dir trees of their own run.
 */
#define LX_SAVED_MAX (8u << 20) /* a state with a mapping in every page of 1 GiB fits */
int lx_proc_save(const struct lx_proc *p, void **buf, size_t *len);
int lx_proc_can_save(const struct lx_proc *p); /* 1 when lx_proc_save would succeed */
struct lx_proc *lx_proc_load(const void *buf, size_t len, uint64_t mem_size);

/* The name of Linux system call nr ("openat"), or NULL if mvmm does not know it. */
const char *lx_syscall_name(uint64_t nr);

#endif
