/*
 * vm.h: one guest instance: a VM with one vCPU over a private mapping of
 * guest memory; its run loop, pausing, and the hooks layers above plug in.
 */
#ifndef MVMM_VM_H
#define MVMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "gmem.h"
#include "kvm.h"

/* How a run ended. */
enum vm_end {
	VM_END_NONE,	    /* still running */
	VM_END_EXIT,	    /* the guest called exit; status is its code */
	VM_END_FAULT,	    /* a CPU exception (or triple fault); see fault and report */
	VM_END_ABORT,	    /* the guest called abort; message is its text */
	VM_END_GUEST_ERROR, /* the guest broke the ABI (bad hypercall, bad pointer); see message */
	VM_END_TIMEOUT,	    /* stopped at its deadline */
	VM_END_HOST_ERROR,  /* mvmm itself failed; see message */
	VM_END_READY,	    /* template mode: the guest reached MVMM_HC_READY and is frozen */
};

struct vm_fault {
	unsigned vector;
	int triple; /* KVM_EXIT_SHUTDOWN: no frame, registers only */
	uint64_t error_code;
	uint64_t cr2;		   /* faulting address for #PF */
	uint64_t rip, rsp, rflags; /* where the guest was */
	struct kvm_regs regs;
};

struct vm_result {
	enum vm_end end;
	int status; /* VM_END_EXIT: 0-255 */
	char message[512];
	struct vm_fault fault;
	char *report;	/* VM_END_FAULT: multi-line crash report (owned; vm_result_clear frees) */
	uint64_t exits; /* KVM_RUN returns */
	uint64_t hypercalls;
	uint64_t first_hypercall_ns; /* vm_now_ns() when the first hypercall of the run arrived */
};

/* What the exit dispatcher and its handlers decide after one exit (core/exit.h). */
enum exit_action {
	EXIT_CONTINUE, /* handled; run the vCPU again */
	EXIT_STOP,     /* the run is over; vm->res says how */
};

struct vm;
struct image;
struct shm_grant;
struct shm_vm;
struct lx_config;
struct gdb_link;

/*
 * The core calls the layers above it only through these two tables, which
 * those layers fill: the core depends on nothing above it, and tests can
 * drive the exit dispatcher with handlers of their own.
 *
 * vm_upcalls: what the guest's ABI answers, set by whoever puts a guest in
 * the VM (guestabi/guest.h). A NULL entry means "not offered".
 */
struct vm_upcalls {
	/* An `out` to hypercall port slot nr; arg is the 32-bit value written. */
	enum exit_action (*hypercall)(struct vm *vm, unsigned nr, uint64_t arg);
	/*
	 * A Linux system call: the guest's `syscall` reached MVMM_SYSCALL_GPA.
	 * The handler answers in RAX and resumes the guest at RCX (vcpu_regs.h).
	 */
	enum exit_action (*syscall)(struct vm *vm);
	/* The program symbol containing guest address addr and its start, for crash reports. */
	const char *(*symbol_at)(const struct vm *vm, uint64_t addr, uint64_t *start);
	/*
	 * More of a crash report, after the registers: the backtrace from
	 * (rip, rsp, regs) as fault_format found them, as malloc'd text, or
	 * NULL for none. Called only when a fault is reported.
	 */
	char *(*backtrace)(const struct vm *vm, const struct vm_fault *f, uint64_t rip,
			   uint64_t rsp);
};

/*
 * Where a core file of the guest goes when its run ends in a fault, an
 * abort or a signal that dumps core on Linux (guestabi/lx_core.c writes
 * it at the end of the run): name under dirfd (AT_FDCWD: the working
 * directory), created O_EXCL|O_NOFOLLOW, mode 0600; with per_instance,
 * name is a prefix and the instance number follows it ("core." -> core.3).
 * What became of it is added to the result: a line at the end of the
 * crash report, or to the message of an abort. Not owned by the VM.
 */
struct vm_core_file {
	int dirfd;
	const char *name;
	int per_instance;
	const char *shown; /* the directory as messages name it ("" for none) */
};

/*
 * vm_ext: state a layer above attaches to a VM (the image it maps, its
 * shared-region attachments), with what to do when a run ends and when the
 * VM is destroyed. Registered with vm_ext_add; release hooks run in the
 * reverse order of registration, before guest memory is unmapped.
 */
struct vm_ext {
	void (*run_end)(struct vm *vm);
	void (*release)(struct vm *vm);
};

#define VM_EXT_MAX 4

/* A request: argc NUL-terminated strings back to back, as MVMM_HC_REQUEST returns them. */
struct vm_request {
	const char *data;
	uint64_t len;
	uint64_t argc;
};

/* Optional callbacks that replace the default handling of guest I/O and waits. */
struct vm_hooks {
	/* Guest output on stream 1 or 2; returns bytes taken or -1. NULL: write to out_fd/err_fd.
	 */
	int64_t (*output)(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len);
	/*
	 * MVMM_HC_WAIT: blocks until the host releases the guest. Returns 0, or
	 * -1 when the VM's deadline passed first. NULL: returns at once. Runs in
	 * a vm_block_begin/end section: it must not touch guest memory.
	 */
	int (*wait)(void *ctx, struct vm *vm);
	/*
	 * MVMM_HC_CHECKPOINT: records the guest's state; returns the checkpoint
	 * number (>= 1), or -1 on a host failure (message set). NULL: returns 0.
	 */
	int64_t (*checkpoint)(void *ctx, struct vm *vm);
	/* Guest reads of stream 0; returns bytes given (0: end of file) or -1. NULL: read in_fd. */
	int64_t (*input)(void *ctx, struct vm *vm, void *buf, uint64_t len);
};

struct vm_config {
	const char *const *argv;   /* NULL-terminated; argv[0] is the program name */
	const char *const *envp;   /* NULL-terminated, or NULL for none */
	int in_fd, out_fd, err_fd; /* guest stdin/stdout/stderr; -1 to refuse */
	uint64_t timeout_ns;	   /* 0: no limit */
	uint64_t instance;
	const struct vm_hooks *hooks;
	void *hooks_ctx;
	int no_share; /* private anonymous copy of the image instead of a shared mapping */
	int template_mode; /* MVMM_HC_READY freezes the guest (VM_END_READY) */
	const struct vm_request *request; /* MVMM_HC_REQUEST's answer; NULL: argv[1..] */
	int lean;     /* close the VM fd once set up: one fd per instance, no later memslots */
	const char *const *exposed; /* NULL-terminated host paths the guest may read (--expose) */
	const struct shm_grant *shm; /* regions the guest may look up by name (shm.h), or NULL */
	const struct lx_config *lx;  /* a Linux program's directories, cwd, --strace (guestabi/lx.h) */
	const struct vm_core_file *core; /* a core file on a fault or abort, or NULL */
	struct gdb_link *gdb; /* --gdb: the instance numbered gdb->instance takes it (gdbvm.h) */
};

struct vm {
	struct kvm_sys *kvm;
	struct image *img; /* the program's image (load/), held through an extension */
	const struct vm_upcalls *up; /* the guest ABI, or NULL while the VM is an empty shell */
	const struct vm_ext *ext[VM_EXT_MAX];
	struct gmem mem;
	int fd;
	int vcpu_fd;
	int mapped_memfd; /* the memfd mapped as guest memory now (not owned), or -1 */
	uint64_t mapped_off; /* the file offset of guest page 0 in it (a snapshot file's data) */
	int remapped;	  /* pages may be mapped from elsewhere (dedup): DONTNEED may not give zero */
	const uint8_t *data_map; /* pages the guest's source (image or template) holds (not owned) */
	struct kvm_run *run;
	struct kvm_regs regs; /* registers at an exit, without KVM_CAP_SYNC_REGS (vcpu_regs.h) */
	void *lx;	      /* the Linux process state of a Linux program (guestabi/), or NULL */
	int in_fd, out_fd, err_fd;
	uint64_t timeout_ns;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 while not running or no limit */
	uint64_t instance;
	const struct vm_hooks *hooks;
	void *hooks_ctx;
	int no_share;
	int template_mode;
	uint64_t clone_no;		  /* 0, or this clone's number */
	uint64_t ready_block;		  /* GPA of the MVMM_HC_READY block, once called */
	uint64_t hc_arg;		  /* GPA of the hypercall block being handled */
	const struct vm_request *request; /* not owned */
	struct vm_request argv_request;	  /* argv[1..] for guests that are not clones (owned) */
	void *tpl;			  /* the template a clone was made from (held) */
	void (*tpl_put)(void *tpl);
	struct vm_result *res; /* of the run in progress */
	const char *const *exposed; /* not owned */
	const struct shm_grant *shm_grants; /* not owned */
	const struct vm_core_file *core;    /* not owned, or NULL */
	struct shm_vm *shm;		    /* attachments (mem/shm.c), or NULL */
	int stop;	       /* vm_stop was called: the run ends at its next exit */
	struct gdb_link *gdb;  /* a debugger for this instance (core/gdbvm.h), or NULL */
	/* vm_pause / vm_resume, all under pause_lock: */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond; /* busy dropped to 0, or pause_req dropped */
	int pause_req;		   /* vm_pause calls not yet resumed */
	int busy;		   /* the runner is in KVM_RUN or handling an exit */
	int running;		   /* vm_run is in progress on runner */
	pthread_t runner;
};

/*
 * Runs the vCPU on the calling thread until the guest ends, faults, breaks
 * the ABI or reaches its deadline; fills *res. Returns 0 when the run ended
 * for a guest reason (res->end says which) and -1 when mvmm failed (res->end
 * is VM_END_HOST_ERROR and the message is set). A timeout interrupts the
 * vCPU with a real-time signal (VM_KICK_SIGNAL) aimed at this thread.
 */
int vm_run(struct vm *vm, struct vm_result *res);
void vm_destroy(struct vm *vm);

/*
 * From any thread: ends vm's run (now, or at once if it has not started)
 * as a host error "stopped by the host". runner is the thread that runs
 * or will run vm_run; it gets VM_KICK_SIGNAL.
 */
void vm_stop(struct vm *vm, pthread_t runner);

/*
 * From any thread but the runner's: returns once vm's vCPU is outside
 * KVM_RUN and its thread touches no guest memory, and keeps it so until the
 * matching vm_resume (calls nest). A vCPU in KVM_RUN is kicked out
 * (immediate_exit + VM_KICK_SIGNAL) and parks before its next KVM_RUN; one
 * handling an exit parks when the handler is done; one blocked in a
 * vm_block_begin/end section (the wait hypercall) counts as paused at once
 * and parks in vm_block_end. A VM that is not running counts as paused.
 * For page merging (dedup.c): guest memory can be compared and remapped
 * without a guest write slipping in between.
 */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/*
 * Brackets a wait in a hypercall handler on the runner's thread, during
 * which the thread touches no guest memory: vm_pause need not wait for it to
 * end, and vm_block_end parks while a pause is in force.
 */
void vm_block_begin(struct vm *vm);
void vm_block_end(struct vm *vm);

/*
 * A shell is a VM with its memslot over a reserved address range and one
 * vCPU, but no guest; guestabi/guest.h puts an image's program in it
 * (vm_load_image, vm_create), clone/template.h a template's clone.
 */
struct vm *vm_shell_create(struct kvm_sys *kvm, uint64_t mem_size);
/* Adds ext to vm's extensions (once: adding it again does nothing). -1 when all slots are taken. */
int vm_ext_add(struct vm *vm, const struct vm_ext *ext);
/* Enters at entry at CPL3 with the given stack pointer, every other register 0. */
int vm_enter_program_at(struct vm *vm, uint64_t entry, uint64_t rsp);
void vm_apply_config(struct vm *vm, const struct vm_config *cfg);
/*
 * Maps memfd MAP_PRIVATE over the shell's guest memory, then vm->mem.huge's
 * 2 MiB pages over it (set it first: the image's or template's map, or NULL).
 */
int vm_map_memfd(struct vm *vm, int memfd);
/* The same with guest page 0 at file offset off (page-aligned): a snapshot file's data region. */
int vm_map_memfd_at(struct vm *vm, int memfd, uint64_t off);
void vm_drop_vm_fd(struct vm *vm);
/*
 * Pays a shell's first-KVM_RUN cost ahead of need, over the tables in memfd
 * (an image or template) mapped with huge (its 2 MiB pages, or NULL).
 */
int vm_shell_warm(struct vm *vm, int memfd, const struct huge_map *huge);
int vm_shell_warm_at(struct vm *vm, int memfd, uint64_t off, const struct huge_map *huge);
/*
 * After vm_shell_warm: reads each of the n guest pages (page numbers) once,
 * from CPL3, so that the shell's shadow MMU already maps what a clone will
 * touch (a first touch costs ~4-5 us under PVM). Pages CPL3 cannot read
 * are left out; the memory is the template's again afterwards.
 */
int vm_shell_touch(struct vm *vm, const uint32_t *pages, uint32_t n);

/*
 * Whether guest page pg (a page number) is mapped present and user in the
 * guest's page tables (which never change after start): what a debugger
 * may read.
 */
int vm_user_readable(const struct vm *vm, uint64_t pg);

/* Builds a request from a NULL-terminated list of strings; vm_request_free releases it. */
int vm_request_init(struct vm_request *r, const char *const *args);
void vm_request_free(struct vm_request *r);

void vm_result_clear(struct vm_result *res);

/* The signal that interrupts a running vCPU; mvmm installs a handler for it. */
#define VM_KICK_SIGNAL (SIGRTMIN + 4)

/* Monotonic clock in nanoseconds. */
uint64_t vm_now_ns(void);

/* Whether the run in progress has passed its deadline. */
int vm_deadline_passed(const struct vm *vm);

#endif
