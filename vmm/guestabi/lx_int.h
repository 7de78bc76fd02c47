/*
 * lx_int.h: the Linux ABI's internals, shared by its files: the process
 * state, one system call in progress, guest-memory access, and the
 * handlers of each family (one file per family, one table: lx_table.c).
 */
#ifndef MVMM_LX_INT_H
#define MVMM_LX_INT_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "lx.h"

#define LX_NR_LIMIT 512	 /* system-call numbers the table covers */
#define LX_NSIG	    64	 /* signals 1..64 */
#define LX_FD_LIMIT 1024 /* RLIMIT_NOFILE as the guest sees it */
#define LX_PATH_MAX 4096

/* Handler results besides a value or -errno. */
#define LX_STOP	  INT64_MIN	  /* the run is over: vm->res says how */
#define LX_JUMPED (INT64_MIN + 1) /* the handler set the registers itself (rt_sigreturn) */

enum lx_fd_kind {
	LX_FD_FREE = 0,
	LX_FD_STREAM, /* the guest's stdin, stdout or stderr (vm->in_fd, hooks...) */
	LX_FD_FILE,   /* a host file under an exposed tree, or an exposed file */
	LX_FD_DIR,    /* a host directory under an exposed tree (getdents64, openat) */
	LX_FD_PIPE,   /* one end of a pipe within this guest (host pipe, non-blocking) */
};

struct lx_fd {
	uint8_t kind;
	uint8_t cloexec;
	uint8_t stream;	  /* LX_FD_STREAM: 0, 1 or 2 */
	uint8_t writable; /* on a tree opened :rw */
	int host;	  /* host fd (FILE, DIR, PIPE), owned; -1 for STREAM */
	int flags;	  /* file status flags as open/fcntl set them (O_ACCMODE, O_APPEND, O_NONBLOCK) */
	uint32_t vpos;	  /* a virtual directory's (no host fd) read position, in entries */
	char *path;	  /* guest path it was opened by (FILE, DIR), owned, or NULL */
};

/*
 * An exposed host tree: its host directory fd (O_PATH) is the root that
 * openat2 stays beneath. Or one exposed file (a dynamic program's library):
 * dirfd is its host directory, leaf its name there, and only the guest
 * path itself names it.
 */
struct lx_mount {
	char *guest; /* absolute, normalized, no trailing slash ("/" only for the root) */
	size_t len;
	int dirfd;
	int rw;
	char *leaf; /* a single file's name in dirfd; NULL for a tree */
};

#define LX_VMA_MAX 65536 /* mappings at most: Linux's vm.max_map_count */
/*
 * Address-space randomization at each start (lx_exec.c, lx_mem.c): the
 * break starts up to LX_RAND_BRK above the program's end, mmap's top lies
 * up to LX_RAND_MMAP below the stack guard, the stack top up to
 * LX_RAND_STACK below the top of memory; each in pages (16 bytes for the
 * stack), at most 1/64 of guest memory for the first two.
 */
#define LX_RAND_BRK   (2ull << 20)
#define LX_RAND_MMAP  (8ull << 20)
#define LX_RAND_STACK (64ull << 10)
/*
 * Unmapped memory kept for reuse, at most: a page given back to the host
 * costs a shadow-MMU fault (~5 us here) at its next touch, zeroing a kept
 * one costs ~0.1 us. malloc-heavy programs map and unmap all the time.
 */
#define LX_KEEP_MAX (4ull << 20)

/* A range handed out by mmap (page-aligned, sorted, disjoint). */
struct lx_vma {
	uint64_t start, end;
	int prot; /* PROT_*, and LX_VMA_FILE */
};

/* In lx_vma.prot: the range maps a host file's pages as they are (a library: lx_mem.c). */
#define LX_VMA_FILE 0x40000000

#define LX_SA_NOCLDSTOP	     0x00000001ull
#define LX_SA_NOCLDWAIT	     0x00000002ull
#define LX_SA_SIGINFO	     0x00000004ull
#define LX_SA_EXPOSE_TAGBITS 0x00000800ull
#define LX_SA_RESTORER	     0x04000000ull
#define LX_SA_ONSTACK	     0x08000000ull
#define LX_SA_RESTART	     0x10000000ull
#define LX_SA_NODEFER	     0x40000000ull
#define LX_SA_RESETHAND	     0x80000000ull
/* Linux keeps only the flags it knows, so a program can detect support (SA_UNSUPPORTED). */
#define LX_SA_KNOWN                                                                                \
	(LX_SA_NOCLDSTOP | LX_SA_NOCLDWAIT | LX_SA_SIGINFO | LX_SA_EXPOSE_TAGBITS |                \
	 LX_SA_RESTORER | LX_SA_ONSTACK | LX_SA_RESTART | LX_SA_NODEFER | LX_SA_RESETHAND)

struct lx_sigaction {
	uint64_t handler; /* SIG_DFL 0, SIG_IGN 1, or a guest address */
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

#define LX_RLIM_NLIMITS 16 /* RLIMIT_CPU .. RLIMIT_RTTIME */

struct lx_rlimit {
	uint64_t cur, max;
};

struct lx_proc {
	struct lx_fd *fds;
	unsigned nfds; /* entries allocated in fds */
	struct lx_mount *mounts;
	size_t nmounts;
	char *cwd; /* absolute, normalized */
	uint32_t umask;

	uint64_t brk_start, brk; /* the program break: [brk_start, brk) is in use */
	uint64_t mmap_floor;	 /* mmap hands out pages in [mmap_floor, mmap_top), top down */
	uint64_t mmap_top;
	struct lx_vma *vmas;
	size_t nvmas, capvmas;
	/* Unmapped pages kept mapped on the host, zeroed when handed out again (lx_mem.c). */
	struct lx_vma kept[16];
	size_t nkept;
	uint64_t kept_bytes;

	struct lx_sigaction sig[LX_NSIG + 1];
	uint64_t sigmask;
	uint64_t pending; /* bit sig-1: raised by the program's own action, not yet delivered */
	uint64_t altstack_sp, altstack_size;
	int altstack_flags;
	int32_t si_code[LX_NSIG + 1]; /* of each pending signal: SI_USER (kill) or SI_TKILL */
	uint64_t saved_mask;	      /* rt_sigsuspend: the mask again once its signal is in */
	int saved_mask_set;

	uint64_t tid_address;
	uint64_t robust_list, robust_len;
	struct lx_rlimit rlim[LX_RLIM_NLIMITS]; /* valid once rlim_set (defaults need the VM) */
	int rlim_set;
	char comm[16];	/* prctl(PR_SET_NAME): 15 bytes, then 1 once set (else the file's name) */
	int undumpable; /* prctl(PR_SET_DUMPABLE, 0) */

	int held; /* --hold held it once, at its first read of an empty stdin */
	/* syscall sites by how often they trapped; a hot one becomes an `out` (lx_entry.c) */
	struct {
		uint64_t site;
		uint32_t hits;
	} hot[64];
	uint64_t patched; /* sites rewritten so far */
	int ready_on_stdin;  /* template mode: the first read of stdin is the ready point */
	int stdin_request;   /* a clone whose stdin is its request (serve, launch, --count) */
	uint64_t request_off; /* bytes of the request read so far */
	uint64_t at_random;  /* guest address of AT_RANDOM's 16 bytes */
	uint64_t auxv_gva;   /* guest address of the auxiliary vector execve left, 0: unknown */
	int strace;
	int strace_fd;
	int strace_numbered; /* prefix each line with "[instance] " */
	uint8_t enosys_said[LX_NR_LIMIT / 8]; /* unknown calls already named on stderr */
};

/* One system call in progress. */
struct lx_call {
	struct vm *vm;
	struct lx_proc *p;
	struct kvm_regs *regs;
	uint64_t nr;
	uint64_t a[6];
};

typedef int64_t (*lx_fn)(struct lx_call *c);

/*
 * One table row: the name, the handler (NULL: ENOSYS and named once on
 * stderr) and the argument kinds --strace decodes, one letter each:
 *   d  signed decimal (fds, counts)	u  unsigned decimal	x  hex (flags)
 *   o  octal (modes)			p  pointer		s  string (path)
 *   b  buffer the guest writes from, length in the next argument (write)
 *   B  buffer the VMM fills, length in the result (read)
 */
struct lx_syscall {
	const char *name;
	lx_fn fn;
	const char *args;
};

extern const struct lx_syscall lx_table[LX_NR_LIMIT];

/* lx_entry.c: the process state's lifetime. */
struct lx_proc *lx_proc_of(struct vm *vm);
/* Registers the process state's release with vm (once). */
int lx_attach(struct vm *vm);
/*
 * At the end of a run: when vm->core asks for one and the guest faulted,
 * aborted or was killed by a signal that dumps core on Linux, writes its
 * ELF core file (lx_core.c) and adds what became of it to the result.
 */
void lx_core_run_end(struct vm *vm);

/* lx_clone.c: the ready point of a Linux template. LX_STOP, or -errno. */
int64_t lx_freeze_at_read(struct lx_call *c);

/* lx_save.c and lx_load.c: the process state's record (its format: lx_save.c). */
#define LX_REC_MAGIC	 "MVMMLXPS"
#define LX_REC_VERSION	 1u
#define LX_REC_FIXED	 2816u /* bytes of its fixed part */
#define LX_REC_ENT_FIXED 68u   /* bytes of a descriptor entry before its path */

/* lx_uaccess.c: guest memory, checked. All return -EFAULT (or NULL) for a bad range. */
void *lx_uptr(struct lx_call *c, uint64_t gva, uint64_t len, int write);
int lx_get(struct lx_call *c, uint64_t gva, void *dst, size_t len);
int lx_put(struct lx_call *c, uint64_t gva, const void *src, size_t len);
/* Copies a NUL-terminated guest string; its length, or -EFAULT / -ENAMETOOLONG. */
int64_t lx_ustr(struct lx_call *c, uint64_t gva, char *buf, size_t cap);

/* lx_fd.c: the descriptor table. */
int lx_fd_init(struct lx_proc *p);
void lx_fd_release(struct lx_proc *p);
struct lx_fd *lx_fd_get(struct lx_proc *p, int64_t fd); /* NULL: EBADF */
/* The lowest free descriptor >= min, or -EMFILE. */
int lx_fd_alloc(struct lx_proc *p, int min);
void lx_fd_close_entry(struct lx_fd *f);
/* Guest stdio: writes all of buf (-EPIPE raises SIGPIPE), reads what is there. */
int64_t lx_stream_write(struct lx_call *c, int stream, const void *buf, uint64_t len);
int64_t lx_stream_read(struct lx_call *c, void *buf, uint64_t len);

/* lx_fs.c: exposed trees. */
struct dl_needed;
/* The cwd, cfg's trees, and the files a dynamic program needs (needed: NULL for none). */
int lx_fs_init(struct lx_proc *p, const struct lx_config *cfg, const struct dl_needed *needed);
void lx_fs_release(struct lx_proc *p);

/* lx_mem.c: brk and the mmap area. */
int lx_mem_init(struct lx_proc *p, struct vm *vm, uint64_t brk_start, uint64_t mmap_top);
void lx_mem_release(struct lx_proc *p);

/* lx_signal.c: signals raised by the program's own actions (SIGPIPE, kill of itself). */
void lx_signal_raise(struct lx_proc *p, int sig);
/*
 * After a call's result is in the registers: delivers a pending, unblocked
 * signal (a frame on the guest's stack, RIP at the handler), or ends the
 * run as Linux would (status 128 + sig). 0, or LX_STOP.
 */
int64_t lx_signal_deliver(struct lx_call *c);
/* Ends the run as if killed by sig (status 128 + sig). Returns LX_STOP. */
int64_t lx_signal_kill(struct lx_call *c, int sig);

/*
 * lx_fpu.c: the extended state in a signal frame. lx_fpu_save fills xs as
 * the frame holds it and returns its size (0: KVM could not give it);
 * lx_fpu_restore puts back what a frame holds at gva (xstate: the frame
 * says it is an XSAVE area): 0, -EFAULT / -EINVAL (a bad frame), or LX_STOP.
 */
uint32_t lx_fpu_save(struct lx_call *c, struct kvm_xsave *xs);
int64_t lx_fpu_restore(struct lx_call *c, uint64_t gva, int xstate);

/* lx_time.c: sleeps ns on the host, bounded by the VM's deadline and a stop. 0, or LX_STOP. */
int64_t lx_sleep_ns(struct lx_call *c, uint64_t ns);

/* lx_strace.c: one line per call on p->strace_fd. */
void lx_strace(struct lx_call *c, const struct lx_syscall *sc, int64_t ret);

/* The handlers, by family (lx_table.c routes to them). */
#define LX_HANDLER(name) int64_t lx_sys_##name(struct lx_call *c)

/* lx_fd.c; pipe, pipe2, poll, ppoll in lx_pipe.c */
LX_HANDLER(read);
LX_HANDLER(write);
LX_HANDLER(readv);
LX_HANDLER(writev);
LX_HANDLER(pread64);
LX_HANDLER(pwrite64);
LX_HANDLER(close);
LX_HANDLER(lseek);
LX_HANDLER(dup);
LX_HANDLER(dup2);
LX_HANDLER(dup3);
LX_HANDLER(fcntl);
LX_HANDLER(ioctl);
LX_HANDLER(pipe);
LX_HANDLER(pipe2);
LX_HANDLER(sendfile);
LX_HANDLER(poll);
LX_HANDLER(ppoll);

/* lx_fs.c */
LX_HANDLER(open);
LX_HANDLER(openat);
LX_HANDLER(creat);
LX_HANDLER(stat);
LX_HANDLER(lstat);
LX_HANDLER(fstat);
LX_HANDLER(newfstatat);
LX_HANDLER(statx);
LX_HANDLER(statfs);
LX_HANDLER(fstatfs);
LX_HANDLER(getdents64);
LX_HANDLER(readlink);
LX_HANDLER(readlinkat);
LX_HANDLER(access);
LX_HANDLER(faccessat);
LX_HANDLER(faccessat2);
LX_HANDLER(getcwd);
LX_HANDLER(chdir);
LX_HANDLER(fchdir);
LX_HANDLER(mkdir);
LX_HANDLER(mkdirat);
LX_HANDLER(unlink);
LX_HANDLER(unlinkat);
LX_HANDLER(rmdir);
LX_HANDLER(rename);
LX_HANDLER(renameat);
LX_HANDLER(renameat2);
LX_HANDLER(ftruncate);
LX_HANDLER(fsync);
LX_HANDLER(fchmod);
LX_HANDLER(chmod);
LX_HANDLER(fchmodat);
LX_HANDLER(utimensat);
LX_HANDLER(umask);

/* lx_mem.c */
LX_HANDLER(brk);
LX_HANDLER(mmap);
LX_HANDLER(munmap);
LX_HANDLER(mprotect);
LX_HANDLER(mremap);
LX_HANDLER(madvise);
LX_HANDLER(msync);
LX_HANDLER(mincore);

/* lx_signal.c */
LX_HANDLER(rt_sigaction);
LX_HANDLER(rt_sigprocmask);
LX_HANDLER(rt_sigreturn);
LX_HANDLER(sigaltstack);
LX_HANDLER(kill);
LX_HANDLER(tkill);
LX_HANDLER(tgkill);
LX_HANDLER(rt_sigsuspend);
LX_HANDLER(rt_sigpending);
LX_HANDLER(rt_sigtimedwait);
LX_HANDLER(pause);

/* lx_sys.c; clocks, sleeps, futex and CPU time in lx_time.c */
LX_HANDLER(exit);
LX_HANDLER(exit_group);
LX_HANDLER(arch_prctl);
LX_HANDLER(set_tid_address);
LX_HANDLER(set_robust_list);
LX_HANDLER(get_robust_list);
LX_HANDLER(rseq);
LX_HANDLER(prlimit64);
LX_HANDLER(getrlimit);
LX_HANDLER(setrlimit);
LX_HANDLER(getrandom);
LX_HANDLER(clock_gettime);
LX_HANDLER(clock_getres);
LX_HANDLER(gettimeofday);
LX_HANDLER(time);
LX_HANDLER(nanosleep);
LX_HANDLER(clock_nanosleep);
LX_HANDLER(uname);
LX_HANDLER(getpid);
LX_HANDLER(getppid);
LX_HANDLER(gettid);
LX_HANDLER(getuid);
LX_HANDLER(geteuid);
LX_HANDLER(getgid);
LX_HANDLER(getegid);
LX_HANDLER(getgroups);
LX_HANDLER(getpgrp);
LX_HANDLER(getpgid);
LX_HANDLER(getsid);
LX_HANDLER(setpgid);
LX_HANDLER(sysinfo);
LX_HANDLER(getrusage);
LX_HANDLER(times);
LX_HANDLER(sched_yield);
LX_HANDLER(sched_getaffinity);
LX_HANDLER(futex);
LX_HANDLER(prctl);
LX_HANDLER(setuid);
LX_HANDLER(setgid);
LX_HANDLER(setreuid);
LX_HANDLER(setregid);
LX_HANDLER(setresuid);
LX_HANDLER(setresgid);
LX_HANDLER(getresuid);
LX_HANDLER(getresgid);
LX_HANDLER(setsid);
LX_HANDLER(sched_setaffinity);
LX_HANDLER(sched_getscheduler);
LX_HANDLER(sched_getparam);
LX_HANDLER(sched_get_priority_max);
LX_HANDLER(sched_get_priority_min);
LX_HANDLER(nosys); /* fork, vfork, clone, clone3, execve, wait4: ENOSYS without a note */
LX_HANDLER(nonet); /* socket, socketpair: EAFNOSUPPORT (no network yet), without a note */

#endif
