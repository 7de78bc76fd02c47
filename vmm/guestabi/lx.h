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
 * A Linux template's process state as a record (lx_save.c has the format)
 * for snapshots and the image cache: lx_proc_save fills *buf (malloc'd)
 * and *len; a process holding a pipe cannot be saved (-1, message set).
 */
int lx_proc_save(const struct lx_proc *p, uint8_t **buf, size_t *len);

#define LX_REC_MAX (8u << 20) /* bytes a record can take (the largest tables, all paths long) */

/* How lx_proc_load treats the files a record names. */
#define LX_LOAD_SAME_FILES 1u /* each must be the very file saved: identity, size, times */
#define LX_LOAD_NO_OPEN	   2u /* none is opened (a description; the process cannot run) */

/* Why lx_proc_load failed. */
enum lx_load_fail {
	LX_LOAD_BAD = 1, /* the record is damaged or forged */
	LX_LOAD_FILES,	 /* the record is sound; a tree or a file it names is not as it was */
};

/*
 * The process a record holds, for a guest of mem_size bytes running img
 * (its program's end is where the break starts; img may be NULL or have
 * no segments when the ELF is unknown): every field checked (the bytes are
 * hostile), the trees of cfg->lx (this run's --dir) set up, the working
 * directory the record's, each file and directory opened again by its
 * guest path beneath those trees and the --expose files of cfg, its
 * position restored. NULL with the message set (naming the guest path when
 * a file cannot be opened again) and *why (may be NULL) saying which kind.
 */
struct lx_proc *lx_proc_load(const uint8_t *buf, size_t len, const struct vm_config *cfg,
			     uint64_t mem_size, const struct image *img, unsigned how,
			     enum lx_load_fail *why);

/* One line about a record (cwd, break, mappings, descriptors), malloc'd; NULL if it is bad. */
char *lx_proc_describe(const uint8_t *buf, size_t len, uint64_t mem_size);

/*
 * Sets the bit of every guest page that p's mmap handed out in map (one
 * bit per page, npages of them): a template keeps those pages even when
 * not yet touched, since a library's come from its host file, not from
 * the image or the template (lx_mem.c).
 */
void lx_mark_mapped(const struct lx_proc *p, uint8_t *map, uint64_t npages);

struct memstat_vm;
/*
 * memstat_vm_read, with a Linux program's library pages (mapped from host
 * files) counted apart from the zero pages: lib_shared, lib_private.
 */
int lx_memstat_read(const struct vm *vm, struct memstat_vm *st);

/* The name of Linux system call nr ("openat"), or NULL if mvmm does not know it. */
const char *lx_syscall_name(uint64_t nr);

#endif
