/* mvmm.h: libmvmm's public API: run guest programs in fresh, isolated KVM virtual machines. */
#ifndef MVMM_H
#define MVMM_H

/*
 * libmvmm runs static x86-64 guest programs (built with mvmm-cc) in KVM
 * virtual machines, one VM per run. Its main use is a test harness that
 * gives every test case a fresh VM cloned from one template:
 *
 *	struct mvmm_runtime *rt;
 *	struct mvmm_image *img;
 *	struct mvmm_template *tpl;
 *	struct mvmm_result *res;
 *	const char *args[] = { "add", "2", "3", NULL };
 *	struct mvmm_run_opts o = { .args = args, .timeout_ms = 1000 };
 *
 *	if (mvmm_runtime_new(&rt) < 0 ||
 *	    mvmm_image_load_file("cases.elf", 0, &img) < 0 ||
 *	    mvmm_template_new(rt, img, NULL, 5000, &tpl) < 0)
 *		errx(1, "%s", mvmm_last_error());
 *	if (mvmm_run(tpl, &o, &res) == 0 && res->end == MVMM_END_EXIT)
 *		printf("status %d, stdout %s", res->status, res->out);
 *	mvmm_result_free(res);
 *	mvmm_template_free(tpl);
 *	mvmm_image_free(img);
 *	mvmm_runtime_free(rt);
 *
 * Build: cc app.c $(pkg-config --cflags --libs mvmm)
 *
 * Errors. Every call that can fail returns 0 on success or a negative
 * MVMM_ERR_* code, and then mvmm_last_error() returns one line naming the
 * cause. The line belongs to the calling thread and stays valid until that
 * thread's next failing call. The library never exits, and prints nothing
 * unless mvmm_set_log_level() asks it to (see "log" below).
 * What a guest does (exits non-zero, faults, aborts, breaks the hypercall
 * ABI, runs past its timeout) is not an error of mvmm_run: the call
 * returns 0 and the result says how the guest ended.
 *
 * Threads. A runtime, its images and its templates may be used from any
 * number of threads at once: mvmm_run on one template from several threads
 * is the intended use. Shared between runs of one template: the frozen
 * template memory (read-only, each clone gets a private copy-on-write
 * mapping), the image, the /dev/kvm fd, and the template's pool of VM
 * shells (a mutex guards it). A run itself runs the guest's vCPU on the
 * calling thread and shares nothing mutable with other runs. Creating and
 * freeing objects must not race with their use: free a template only
 * after every mvmm_run on it has returned, and the runtime last.
 *
 * Signals. A run with a timeout is stopped by a per-thread timer that
 * sends the real-time signal SIGRTMIN+4 to the running thread; the library
 * installs a handler for it (it only asks KVM to return). Leave that
 * signal alone and unblocked in threads that call mvmm_run.
 *
 * fork(). KVM objects belong to the process that created them: create the
 * runtime in the process that runs the guests (with Criterion, in the test
 * or its .init, not before the runner forks).
 *
 * Sharing. Shared-memory regions between the host program and guests
 * (mvmm_shm_*), dedup of identical pages over held runs (mvmm_run_hold,
 * mvmm_dedup_*), template snapshots (mvmm_template_snapshot,
 * mvmm_template_from_snapshot) and the image cache (mvmm_image_load_cached,
 * mvmm_template_new_cached) are the command's --shm, --dedup, --snapshot,
 * --from-snapshot and --cache-dir; mvmm_guest_options its --env,
 * --env-inherit, --dir, --cwd, --expose and --strace for Linux programs.
 *
 * Not here yet (the command has them, the library not): snapshot diffs at
 * the guest's checkpoints (--snapshot with --count 1; the library restores
 * chains the command wrote); dedup as a background thread over running
 * guests (--dedup=MS, --dedup-budget: the library's runs end within the
 * call, so a pass runs over held runs on the caller's thread) and --ksm;
 * fleets (--count, --hold barriers, --per-process worker processes,
 * --output-dir, --stats): a program runs clones from its own threads;
 * --gdb; --no-share; --ready-on=ready (a template freezes at mvmm_ready()
 * or, for a program that never calls it, at its first read of stdin); a
 * diff between two chains (mvmm snapshot diff); the preloading server
 * (mvmm serve, its --workers). This header declares only what exists.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MVMM_API __attribute__((visibility("default")))
#else
#define MVMM_API
#endif

#define MVMM_VERSION_MAJOR 0
#define MVMM_VERSION_MINOR 1
#define MVMM_VERSION_PATCH 0

/* Error codes: every failing call returns one of these (always < 0). */
enum mvmm_err {
	MVMM_OK = 0,
	MVMM_ERR_INVAL = -1,	 /* a NULL or invalid argument (the message names it) */
	MVMM_ERR_NOMEM = -2,	 /* out of memory */
	MVMM_ERR_KVM = -3,	 /* /dev/kvm missing, not permitted, or lacking a capability */
	MVMM_ERR_IO = -4,	 /* the guest ELF file could not be opened or read */
	MVMM_ERR_IMAGE = -5,	 /* not a valid guest ELF, or a memory size out of range */
	MVMM_ERR_NOT_READY = -6, /* the template guest ended before calling mvmm_ready() */
	MVMM_ERR_FAULT = -7,	 /* the template guest faulted before calling mvmm_ready() */
	MVMM_ERR_TIMEOUT = -8,	 /* the template guest did not reach mvmm_ready() in time */
	MVMM_ERR_HOST = -9,	 /* a system call or KVM ioctl failed (out of fds, memory, ...) */
};

/* The calling thread's message for its last failing call ("no error" if none). */
MVMM_API const char *mvmm_last_error(void);
/* A fixed name for an MVMM_ERR_* code ("invalid argument", ...). */
MVMM_API const char *mvmm_strerror(int code);
/* "0.1.0" */
MVMM_API const char *mvmm_version(void);

/* ---- log -------------------------------------------------------------- */

/*
 * What the library decided, one line each: a template booted, the
 * huge-page backing chosen, the image cache's hit or miss and why, dedup
 * passes. The library logs only at MVMM_LOG_INFO and MVMM_LOG_DEBUG, and
 * the level is MVMM_LOG_WARN until changed, so by default it prints
 * nothing. Lines read "mvmm: info: ..." and go to stderr in one write,
 * unless a handler is set. Process-wide; set both before starting threads.
 */
enum mvmm_log_level {
	MVMM_LOG_ERROR = 0,
	MVMM_LOG_WARN = 1,
	MVMM_LOG_INFO = 2,
	MVMM_LOG_DEBUG = 3,
};
/* Lines at level or more severe are written; out-of-range values are clamped. */
MVMM_API void mvmm_set_log_level(int level);
/*
 * fn gets each line (no newline) instead of stderr, from whatever thread
 * logged it; NULL restores stderr.
 */
typedef void (*mvmm_log_fn)(void *ctx, int level, const char *line);
MVMM_API void mvmm_set_log_handler(mvmm_log_fn fn, void *ctx);

/* ---- runtime ---------------------------------------------------------- */

/*
 * The process's handle on KVM: opens /dev/kvm and checks what mvmm needs.
 * Templates made with it each own a pool of VM shells (a VM and its vCPU,
 * created ahead of need by a background thread; finished VMs are reset
 * and reused or torn down by another). One runtime per process is enough.
 * Returns MVMM_ERR_KVM with advice in the message when KVM is unusable.
 */
struct mvmm_runtime;
MVMM_API int mvmm_runtime_new(struct mvmm_runtime **out);

/* Options of mvmm_runtime_new_opts: zero-initialise, then set what you want. */
struct mvmm_runtime_options {
	/*
	 * 1: each thread that calls mvmm_run or mvmm_run_image is confined,
	 * from its first run on, by mvmm's seccomp filter for vCPU threads:
	 * the KVM ioctls of running and making VMs, guest I/O on the fds it
	 * holds, memory, time, futexes; nothing else. A call outside it ends
	 * the process with a report on stderr (exit status 159). A filter
	 * cannot be lifted: use it on threads that only run guests. 0 (the
	 * default): confinement is the host program's business.
	 */
	int seccomp;
};
/* mvmm_runtime_new with options (NULL: the defaults). */
MVMM_API int mvmm_runtime_new_opts(const struct mvmm_runtime_options *opts,
				   struct mvmm_runtime **out);
/* Frees the runtime; templates still alive are freed with it. NULL is ignored. */
MVMM_API void mvmm_runtime_free(struct mvmm_runtime *rt);

/* ---- images ------------------------------------------------------------ */

/*
 * A guest program prepared once (segments loaded, page tables built, in a
 * sealed memfd) and mapped copy-on-write by every VM that runs it.
 * mem_size is the guest's memory in bytes (0: 64 MiB; rounded up to 2 MiB,
 * 8 MiB .. 1 GiB). Errors: MVMM_ERR_IO (the file), MVMM_ERR_IMAGE (its
 * contents or the size). The buffer is copied; the caller keeps it.
 * Templates and runs hold their own reference: an image may be freed as
 * soon as its templates exist.
 */
struct mvmm_image;
MVMM_API int mvmm_image_load_file(const char *path, uint64_t mem_size, struct mvmm_image **out);
MVMM_API int mvmm_image_load_buffer(const void *elf, size_t len, uint64_t mem_size,
				    struct mvmm_image **out);
MVMM_API void mvmm_image_free(struct mvmm_image *img);

/*
 * Huge pages (--huge-pages of the command). Read-only program memory
 * (code, constants) sits in 2 MiB pages that each guest maps with one
 * page-table entry and the host backs with one huge page, so a first touch
 * costs one fault per 2 MiB instead of one per 4 KiB.
 *   MVMM_HUGE_AUTO     shmem transparent huge pages if the host allows them,
 *                      else hugetlbfs pages if enough are free, else 4 KiB
 *                      pages (mvmm_image_huge_pages tells which; no hint is
 *                      printed: the library prints nothing)
 *   MVMM_HUGE_THP      transparent huge pages, or MVMM_ERR_IMAGE if the host
 *                      does not allow them (shmem_enabled)
 *   MVMM_HUGE_HUGETLB  hugetlbfs pages (vm.nr_hugepages), or MVMM_ERR_IMAGE
 *   MVMM_HUGE_OFF      4 KiB pages only
 * mvmm_image_load_file and _buffer use MVMM_HUGE_AUTO.
 */
enum mvmm_huge_pages {
	MVMM_HUGE_AUTO = 0,
	MVMM_HUGE_THP = 1,
	MVMM_HUGE_HUGETLB = 2,
	MVMM_HUGE_OFF = 3,
};

/* Options of the _opts loaders: zero-initialise, then set what you want. */
struct mvmm_image_options {
	uint64_t mem_size; /* as mem_size above (0: 64 MiB) */
	int huge_pages;	   /* enum mvmm_huge_pages */
};
MVMM_API int mvmm_image_load_file_opts(const char *path, const struct mvmm_image_options *opts,
				       struct mvmm_image **out);
MVMM_API int mvmm_image_load_buffer_opts(const void *elf, size_t len,
					 const struct mvmm_image_options *opts,
					 struct mvmm_image **out);
/*
 * The image's huge-page backing: "thp", "hugetlb" or "4k"; *huge_bytes
 * (if not NULL) gets how much of each guest's memory is mapped with 2 MiB pages.
 */
MVMM_API const char *mvmm_image_huge_pages(const struct mvmm_image *img, uint64_t *huge_bytes);

/* ---- templates --------------------------------------------------------- */

/*
 * Boots image with argv (NULL-terminated, argv[0] the program name; NULL
 * gives { "guest", NULL }) until the guest calls mvmm_ready(), within
 * timeout_ms (0: no limit), and freezes it there: its memory and vCPU
 * state become the template every mvmm_run clones. Output the guest
 * writes before ready is discarded. Errors: MVMM_ERR_NOT_READY (it exited,
 * aborted or broke the ABI first), MVMM_ERR_FAULT (it faulted; the message
 * names the exception and the function), MVMM_ERR_TIMEOUT, MVMM_ERR_HOST.
 */
/*
 * A program that never calls mvmm_ready() (one not built with mvmm-cc, say)
 * is frozen at its first read of stdin instead, and each clone re-issues
 * that read and gets mvmm_run_opts.input.
 */
struct mvmm_template;
MVMM_API int mvmm_template_new(struct mvmm_runtime *rt, const struct mvmm_image *image,
			       const char *const *argv, uint64_t timeout_ms,
			       struct mvmm_template **out);
/* Stops the template's shell pool and frees it. No mvmm_run on it may be in progress. */
MVMM_API void mvmm_template_free(struct mvmm_template *tpl);

/* ---- runs -------------------------------------------------------------- */

/* How a guest's run ended. */
enum mvmm_end {
	MVMM_END_EXIT = 1,	 /* returned from main or called exit(); status is its code */
	MVMM_END_FAULT = 2,	 /* a CPU exception; result->fault describes it */
	MVMM_END_ABORT = 3,	 /* called abort() (killed by SIGABRT); message says so */
	MVMM_END_GUEST_ERROR = 4, /* broke the hypercall ABI (a bad pointer, ...); see message */
	MVMM_END_TIMEOUT = 5,	 /* stopped at the run's timeout */
};
/* "exit", "fault", "abort", "guest-error", "timeout" (or "?"). */
MVMM_API const char *mvmm_end_name(int end);

/* Flags of struct mvmm_run_opts. */
#define MVMM_RUN_MEMSTAT 0x1u /* count the run's private pages (reads /proc/self/pagemap) */
/*
 * Write an ELF core file to core_path when the guest faults, aborts or is
 * killed by a signal that dumps core on Linux (SIGSEGV, SIGABRT, ...), for
 * `gdb PROGRAM CORE`. The file is created (O_EXCL|O_NOFOLLOW, mode 0600):
 * an existing one is never replaced. What became of it ends the crash
 * report (fault.report: "core file: written to PATH (N KiB)" or "core
 * file: not written: PATH: why"), or, for an abort, the message. Only read
 * when this flag is set, so that callers built before core_path existed
 * keep working.
 */
#define MVMM_RUN_CORE 0x2u
/*
 * Give the guest the regions shm[0..nshm) (at most 64, distinct names):
 * it finds each by its name (mvmm_shm_lookup or mvmm_shm_open of the
 * guest SDK's <mvmm/shm.h>) and attaches it, as with `mvmm run --shm`.
 * The regions must outlive the call. Only read when this flag is set.
 */
#define MVMM_RUN_SHM 0x4u

struct mvmm_shm; /* a shared-memory region: see "shared-memory regions" below */

struct mvmm_run_opts {
	/*
	 * The request a clone reads with mvmm_request(): NULL-terminated
	 * strings (NULL: none). For mvmm_run_image, NULL means argv[1..].
	 */
	const char *const *args;
	/* Bytes the guest reads on stdin (getchar, fgets, fread); then end of file. */
	const void *input;
	size_t input_len;
	uint64_t timeout_ms;  /* 0: no limit */
	size_t output_limit;  /* bytes kept per stream (0: 16 MiB); the rest is dropped */
	unsigned flags;	      /* MVMM_RUN_* */
	const char *core_path; /* MVMM_RUN_CORE: where the core file goes (relative: to the cwd) */
	struct mvmm_shm *const *shm; /* MVMM_RUN_SHM: the regions the guest may look up */
	size_t nshm;
};

/* A fault: the CPU exception that stopped the guest. */
struct mvmm_fault {
	unsigned vector;     /* 0 #DE, 6 #UD, 13 #GP, 14 #PF, ... */
	int triple;	     /* a triple fault: no frame, only registers (vector is 8) */
	uint64_t error_code; /* as the CPU pushed it (#PF: 4 user, 2 write, 1 present) */
	uint64_t address;    /* #PF: the faulting address (CR2); else 0 */
	uint64_t rip;	     /* the faulting instruction */
	uint64_t rsp;
	const char *symbol;  /* the function containing rip, or NULL */
	uint64_t symbol_offset;
	/*
	 * The crash report: exception, error code, address, registers, a
	 * backtrace (function, and file:line where the program has debug
	 * information), the symbol and a disassembly around rip with the
	 * faulting instruction marked "=>"; "stack overflow" for a fault in
	 * the stack's guard page. Multi-line, NUL-terminated.
	 */
	const char *report;
};

struct mvmm_stats {
	uint64_t exits;		     /* times the vCPU left the guest (KVM_RUN returns) */
	uint64_t hypercalls;
	uint64_t first_hypercall_ns; /* from the call's start to the guest's first hypercall; 0: none */
	uint64_t run_ns;	     /* the whole call: clone, run, capture */
	int64_t private_pages;	     /* pages the run wrote (MVMM_RUN_MEMSTAT), else -1 */
	uint64_t clone_no;	     /* mvmm_ready()'s return in this clone; 0 for mvmm_run_image */
};

/* What a run did; allocated by mvmm_run, read-only, freed with mvmm_result_free. */
struct mvmm_result {
	enum mvmm_end end;
	int status;	     /* MVMM_END_EXIT: 0-255; else -1 */
	const char *message; /* "killed by SIGABRT", guest error or timeout note; "" for an exit */
	/* Captured stdout and stderr: out_len / err_len bytes, plus a NUL after them. */
	const char *out;
	size_t out_len;
	const char *err;
	size_t err_len;
	int out_truncated, err_truncated; /* output went past output_limit */
	struct mvmm_fault fault;	  /* MVMM_END_FAULT only; zero otherwise */
	struct mvmm_stats stats;
};

/*
 * Runs one fresh clone of tpl with opts (NULL: no request, no input, no
 * limit) on the calling thread, and stores what it did in *out. The clone
 * resumes from mvmm_ready() (which returns its clone number) with private
 * copy-on-write memory: nothing it writes is seen by the template or by any
 * other clone. Returns 0 whatever the guest did (see (*out)->end), or an
 * MVMM_ERR_* code when mvmm could not run it (then *out is NULL).
 */
MVMM_API int mvmm_run(struct mvmm_template *tpl, const struct mvmm_run_opts *opts,
		      struct mvmm_result **out);

/*
 * Runs image from its entry point in a new VM, without a template: argv as
 * for mvmm_template_new; opts->args, when given, is what mvmm_request()
 * returns (else argv[1..]). A guest that calls mvmm_ready() gets 0 and
 * continues. Returns as mvmm_run.
 */
MVMM_API int mvmm_run_image(struct mvmm_runtime *rt, const struct mvmm_image *image,
			    const char *const *argv, const struct mvmm_run_opts *opts,
			    struct mvmm_result **out);

/* Frees a result and everything it points to. NULL is ignored. */
MVMM_API void mvmm_result_free(struct mvmm_result *res);

/* ---- a guest's environment, files and tracing ------------------------ */

/* A host directory tree the guest sees (`--dir HOST[:GUEST][:rw]`). */
struct mvmm_dir {
	const char *host;  /* the host directory */
	const char *guest; /* where the guest sees it: an absolute path (NULL: the same as host) */
	int rw;		   /* 1: writable; 0: the guest's writes fail with EROFS */
};

/*
 * What the command's options for Linux programs give a guest besides argv
 * (zero-initialise, then set what you want; strings are read during the
 * call only, but for expose, which is copied):
 */
struct mvmm_guest_options {
	/* The environment, NULL-terminated "NAME=VALUE" (`--env`; NULL: empty; environ: `--env-inherit`). */
	const char *const *envp;
	const struct mvmm_dir *dirs; /* `--dir`, at most 64 */
	size_t ndirs;
	const char *cwd;	     /* `--cwd`: the working directory (NULL: "/") */
	const char *const *expose;   /* `--expose`: NULL-terminated host files the guest may read */
	int strace;		     /* `--strace`: one line per system call, written to strace_fd */
	int strace_fd;		     /* an fd the caller keeps open while runs use it */
	/*
	 * 0. Options added later go after it, each read only when a flag of
	 * its own is set here, so that callers built before it keep working.
	 */
	unsigned flags;
};

/*
 * mvmm_template_new with guest options (NULL: none): the template boots
 * with guest's environment, directories and cwd; its clones inherit the
 * process state (open files, cwd) it had at ready, and each reads guest's
 * exposed files and traces to strace_fd as the template did.
 * Errors: as mvmm_template_new; MVMM_ERR_INVAL for a bad option,
 * MVMM_ERR_HOST when a directory cannot be opened (the message names it).
 */
MVMM_API int mvmm_template_new_opts(struct mvmm_runtime *rt, const struct mvmm_image *image,
				    const char *const *argv, uint64_t timeout_ms,
				    const struct mvmm_guest_options *guest,
				    struct mvmm_template **out);
/* mvmm_run_image with guest options (NULL: none). Returns as mvmm_run_image. */
MVMM_API int mvmm_run_image_opts(struct mvmm_runtime *rt, const struct mvmm_image *image,
				 const char *const *argv, const struct mvmm_guest_options *guest,
				 const struct mvmm_run_opts *opts, struct mvmm_result **out);

/* ---- held runs --------------------------------------------------------- */

/*
 * mvmm_run, but the clone's VM is kept, memory and all, as the guest left
 * it when it ended (`mvmm run --hold` keeps instances the same way): for
 * mvmm_dedup_add, or to hold many instances' memory at once. *out is the
 * result as for mvmm_run; *held the kept VM (only when the call returns 0).
 * A held run uses no thread and no CPU. Free it with mvmm_held_free before
 * its template. Threads: as mvmm_run; a held run is then used by one
 * thread at a time.
 */
struct mvmm_held;
MVMM_API int mvmm_run_hold(struct mvmm_template *tpl, const struct mvmm_run_opts *opts,
			   struct mvmm_result **out, struct mvmm_held **held);
/* Detaches it from its dedup store, if any, and tears the VM down. NULL is ignored. */
MVMM_API void mvmm_held_free(struct mvmm_held *held);

/* ---- shared-memory regions --------------------------------------------- */

/*
 * A region of zero-filled memory shared between the host program and
 * guests, as `mvmm run --shm NAME:SIZE[:ro]` makes: a guest given it
 * (MVMM_RUN_SHM) looks it up by name and attaches it (the guest SDK's
 * <mvmm/shm.h>); every guest that attaches it and the host see the same
 * bytes. name: 1-63 letters, digits, _ - . (what the guest looks up);
 * size: a multiple of 4 KiB, at most 512 MiB. flags: MVMM_SHM_GUEST_RO
 * gives guests only the read-only handle (their writes fault; the host may
 * still write). Errors: MVMM_ERR_INVAL, MVMM_ERR_HOST (out of memory or fds).
 * Threads: every call may come from any thread, while runs use the region.
 * Regions are process-wide and need no runtime. A region may be given to
 * any number of runs, at once or one after another.
 */
#define MVMM_SHM_GUEST_RO 0x1u
MVMM_API int mvmm_shm_new(const char *name, uint64_t size, unsigned flags,
			  struct mvmm_shm **out);
/*
 * The region mapped shared in this process (read-write), and its size in
 * *size (may be NULL): a host-guest channel. The mapping belongs to the
 * region and stays valid until mvmm_shm_free. NULL on failure (message set).
 */
MVMM_API void *mvmm_shm_host(struct mvmm_shm *shm, uint64_t *size);
/* Rings the region's doorbell (guests waiting in mvmm_shm_wait wake); returns the new count. */
MVMM_API uint64_t mvmm_shm_notify(struct mvmm_shm *shm);
/* How many guests have it attached now. */
MVMM_API unsigned mvmm_shm_attached(const struct mvmm_shm *shm);
/*
 * Revokes the region: later lookups and attaches by guests fail, waiters
 * wake with -MVMM_EPIPE, and the pointer mvmm_shm_host gave must not be
 * used any more. A guest that has it attached keeps its mapping until its
 * run ends; the memory goes with the last attachment. NULL is ignored.
 */
MVMM_API void mvmm_shm_free(struct mvmm_shm *shm);

/* ---- dedup ------------------------------------------------------------- */

/*
 * Merges identical memory pages of held runs into one shared copy-on-write
 * page (`mvmm run --dedup` does it over a live fleet): a store of merged
 * pages plus the held runs added to it. A pass reads each run's private
 * pages (pages its guest wrote), hashes them, and maps every set of equal
 * pages (compared byte for byte) from one store page; all-zero pages go
 * back to the zero state. The guests' next write copies the page again.
 * Runs merge only with runs added with the same domain: page sharing is a
 * timing side channel between the guests that share (as with KSM), so put
 * guests that do not trust each other in different domains.
 * Threads: one thread at a time per store; mvmm_run on the templates goes on
 * meanwhile. Errors: MVMM_ERR_INVAL, MVMM_ERR_HOST.
 */
struct mvmm_dedup;
MVMM_API int mvmm_dedup_new(struct mvmm_dedup **out);
/* Adds a held run (in at most one store) in domain (0 for all trusted). */
MVMM_API int mvmm_dedup_add(struct mvmm_dedup *d, struct mvmm_held *held, unsigned domain);
/* One full pass over every run added; returns when it is done. */
MVMM_API int mvmm_dedup_pass(struct mvmm_dedup *d);

/* Totals since mvmm_dedup_new. New fields are added at the end only. */
struct mvmm_dedup_stats {
	uint64_t passes;
	uint64_t pages_scanned;	 /* private pages read and hashed */
	uint64_t merged;	 /* pages remapped to a store page, in all */
	uint64_t zero_reclaimed; /* all-zero pages returned to the zero state, in all */
	uint64_t unmerged;	 /* merged or zeroed pages written again since (seen by a pass) */
	uint64_t store_pages;	 /* store pages alive now: the one copy of each merged content */
	uint64_t saved_pages;	 /* pages saved now: merged + zeroed - store pages */
	uint64_t last_pass_ns, total_pass_ns;
};
/*
 * Fills *st with size bytes of the stats (pass sizeof(*st): a caller built
 * against an older header gets the fields it knows).
 */
MVMM_API int mvmm_dedup_stats(struct mvmm_dedup *d, struct mvmm_dedup_stats *st, size_t size);
/* Detaches every run still added (they keep their merged pages) and frees the store. */
MVMM_API void mvmm_dedup_free(struct mvmm_dedup *d);

/* ---- snapshots --------------------------------------------------------- */

/*
 * Writes the template's ready state to path as a base snapshot (the file
 * `mvmm run --template --snapshot PATH --count 0` writes; atomically: a
 * temporary file renamed over path). The guest ELF's path is recorded for
 * symbols when the image was loaded from a file. Errors: MVMM_ERR_INVAL,
 * MVMM_ERR_IO (the file, or a state that cannot be saved: the message
 * says which). Threads: may run while mvmm_run runs on tpl.
 */
MVMM_API int mvmm_template_snapshot(struct mvmm_template *tpl, const char *path);
/*
 * A template from a snapshot chain "BASE[,DIFF...]" (`mvmm run
 * --from-snapshot`): every file is verified and the chain checked first;
 * mvmm_run clones its last state (a base resumes from mvmm_ready(), a diff
 * after its checkpoint call). huge_pages: enum mvmm_huge_pages for its read-only
 * pages (not MVMM_HUGE_OFF needs the ELF still at its recorded path; AUTO
 * falls back to 4 KiB pages). Errors: MVMM_ERR_INVAL, MVMM_ERR_IMAGE (a
 * file missing, damaged, of another version or not of this chain: the
 * message names it), MVMM_ERR_HOST.
 */
MVMM_API int mvmm_template_from_snapshot(struct mvmm_runtime *rt, const char *chain,
					 int huge_pages, struct mvmm_template **out);

/* ---- the image cache --------------------------------------------------- */

/*
 * Images and booted templates kept in files of a cache directory (`mvmm
 * run --cache-dir DIR --cache-max N`), so that a later load, in this
 * process or another, maps the prepared memory from the file instead of
 * loading the ELF or booting the template again. Trouble with the cache (an
 * unwritable or full directory, a damaged entry) never fails a load: the
 * guest is loaded from its ELF and info->warning says what happened.
 * Threads: any, also several processes on one directory at once.
 */
struct mvmm_cache_options {
	const char *dir;    /* the cache directory (required; made if missing) */
	uint64_t max_bytes; /* evict least recently used entries past this (0: 4 GiB) */
	int huge_pages;	    /* enum mvmm_huge_pages for what it builds and maps */
	unsigned flags;	    /* 0 (as mvmm_guest_options.flags: for options added later) */
};
enum mvmm_cache_outcome {
	MVMM_CACHE_OFF = 1,	 /* the cache could not be used (see warning) */
	MVMM_CACHE_HIT = 2,	 /* mapped from a compatible entry */
	MVMM_CACHE_BUILT = 3,	 /* missing: built and stored */
	MVMM_CACHE_REPLACED = 4, /* incompatible (version, ABI, CPU): built and stored over it */
	MVMM_CACHE_REBUILT = 5,	 /* damaged: removed, built and stored (warning set) */
};
/*
 * What a cached load did (caller-owned; filled even when the load fails).
 * Its size is part of the ABI: later information comes with new calls.
 */
struct mvmm_cache_info {
	int outcome;	       /* enum mvmm_cache_outcome */
	int verified_now;      /* a hit whose data hash was checked on this use */
	uint64_t load_ns;      /* the lookup, and the build on a miss */
	char path[1104];       /* the entry's file */
	char warning[768];     /* one line when something went wrong with the cache, else "" */
};
/*
 * mvmm_image_load_file through the cache (info may be NULL). Errors: as
 * mvmm_image_load_file, and MVMM_ERR_INVAL for options without a directory.
 */
MVMM_API int mvmm_image_load_cached(const char *path, uint64_t mem_size,
				    const struct mvmm_cache_options *cache,
				    struct mvmm_image **out, struct mvmm_cache_info *info);
/*
 * mvmm_template_new_opts of the ELF at path (mem_size as for images)
 * through the cache: argv, the guest options (environment, directories,
 * cwd) and the guest's ready point are part of the key. A guest given
 * exposed files is not cached (its start may read them; the key cannot
 * see them): info->outcome is then MVMM_CACHE_OFF. Files the guest reads
 * and closes while it starts are not in the key either: after changing
 * one, use another directory or empty it. Errors: as mvmm_image_load_file
 * and mvmm_template_new.
 */
MVMM_API int mvmm_template_new_cached(struct mvmm_runtime *rt, const char *path,
				      uint64_t mem_size, const char *const *argv,
				      uint64_t timeout_ms,
				      const struct mvmm_guest_options *guest,
				      const struct mvmm_cache_options *cache,
				      struct mvmm_template **out, struct mvmm_cache_info *info);

#ifdef __cplusplus
}
#endif

#endif /* MVMM_H */
