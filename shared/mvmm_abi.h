/* mvmm_abi.h: the host-guest ABI, included by both the VMM and guests. */
#ifndef MVMM_ABI_H
#define MVMM_ABI_H

/*
 * C11 only, no libc beyond <stdint.h>. Everything that crosses the boundary
 * between a guest and the VMM is defined here and nowhere else.
 *
 * Bump MVMM_ABI_VERSION when a struct layout, a hypercall number, a port or
 * a fixed address changes meaning; adding a new hypercall number at the end
 * does not need a bump. The VMM writes the version into the boot info; the
 * SDK's start-up code refuses to run on a VMM of another version.
 */
#include <stdint.h>

#define MVMM_ABI_VERSION 1

/*
 * Guest pointers. On the host side a guest address is an opaque integer
 * type (mvmm_gpa_t) so that the VMM cannot dereference it by accident: every
 * access goes through the checked translator in vmm/gmem.c. Guests are
 * identity-mapped (virtual == physical), so on the guest side it is a plain
 * 64-bit address that the SDK casts.
 */
typedef uint64_t mvmm_gpa_t;

/*
 * Hypercalls. A guest makes hypercall NR by writing the 32-bit guest-physical
 * address of NR's argument block to port MVMM_HC_PORT_BASE + NR (one exit per
 * call). The TSS I/O permission bitmap opens exactly these ports to CPL3.
 * Argument blocks must be 8-byte aligned and lie wholly in guest memory
 * below 4 GiB. Every block starts with `ret`: >= 0 on success, a negative
 * MVMM_E* code when the guest asked for something invalid.
 */
#define MVMM_HC_PORT_BASE 0x500u
#define MVMM_FAULT_PORT	  0xf9u /* ring-0 exception stubs only, closed to CPL3 */
/*
 * A Linux program's `syscall` lands at MVMM_SYSCALL_GPA (MSR_LSTAR), whose
 * page holds `out %al,$MVMM_SYSCALL_PORT`: one exit per system call, with
 * the guest's registers as the syscall instruction left them (RCX = return
 * address, R11 = RFLAGS). The VMM answers in RAX and resumes at RCX.
 */
#define MVMM_SYSCALL_PORT 0xf5u

/*
 * SDK programs carry an ELF note (name "mvmm", type MVMM_NOTE_TYPE, a
 * 4-byte descriptor holding MVMM_ABI_VERSION); an executable without it is
 * run as a Linux program whose system calls the VMM answers.
 */
#define MVMM_NOTE_NAME "mvmm"
#define MVMM_NOTE_TYPE 0x6d766d01u

enum mvmm_hypercall {
	MVMM_HC_WRITE = 0,    /* struct mvmm_hc_write */
	MVMM_HC_READ = 1,     /* struct mvmm_hc_read */
	MVMM_HC_EXIT = 2,     /* struct mvmm_hc_exit, does not return */
	MVMM_HC_CLOCK = 3,    /* struct mvmm_hc_clock */
	MVMM_HC_BOOTINFO = 4, /* struct mvmm_hc_bootinfo */
	MVMM_HC_ABORT = 5,    /* struct mvmm_hc_abort, does not return */
	MVMM_HC_WAIT = 6,     /* struct mvmm_hc_wait */
	MVMM_HC_READY = 7,    /* struct mvmm_hc_ready */
	MVMM_HC_REQUEST = 8,  /* struct mvmm_hc_request */
	MVMM_HC_RANDOM = 9,   /* struct mvmm_hc_random */
	MVMM_HC_CHECKPOINT = 10, /* struct mvmm_hc_checkpoint */
	MVMM_HC_OPEN = 11,    /* struct mvmm_hc_open */
	MVMM_HC_PREAD = 12,   /* struct mvmm_hc_pread */
	MVMM_HC_CLOSE = 13,   /* struct mvmm_hc_close */
	MVMM_HC_SHM_LOOKUP = 14, /* struct mvmm_hc_shm_lookup */
	MVMM_HC_SHM_ATTACH = 15, /* struct mvmm_hc_shm_attach */
	MVMM_HC_SHM_DETACH = 16, /* struct mvmm_hc_shm_detach */
	MVMM_HC_SHM_INFO = 17,	 /* struct mvmm_hc_shm_info */
	MVMM_HC_SHM_NOTIFY = 18, /* struct mvmm_hc_shm_notify */
	MVMM_HC_SHM_WAIT = 19,	 /* struct mvmm_hc_shm_wait */
	MVMM_HC_COUNT	      /* number of hypercalls; keep last */
};

/* Error codes returned in `ret` (negated). */
enum mvmm_error {
	MVMM_EFAULT = 1, /* an address or length outside the guest's memory */
	MVMM_EINVAL = 2, /* a bad argument (unknown fd, bad flags) */
	MVMM_EIO = 3,	 /* the host side of the operation failed */
	MVMM_ENOSYS = 4, /* no such hypercall in this VMM */
	MVMM_ENOENT = 5, /* no such file among those the host exposed */
	MVMM_EBADF = 6,	 /* not an open file handle */
	MVMM_EMFILE = 7, /* too many open files */
	MVMM_EBUSY = 8,	     /* the address range overlaps an attachment */
	MVMM_ENOSPC = 9,     /* too many attachments */
	MVMM_ETIMEDOUT = 10, /* the wait's own timeout passed */
	MVMM_EPIPE = 11,     /* no peer left: the others have ended, or it was revoked */
	MVMM_EPERM = 12,     /* a read-only handle used for a read-write attachment */
};

/* MVMM_HC_WRITE: write to the VMM's stdout (fd 1) or stderr (fd 2). */
struct mvmm_hc_write {
	int64_t ret; /* OUT: bytes written, or -MVMM_E* */
	/* IN */
	uint32_t fd;
	uint32_t pad;
	mvmm_gpa_t buf;
	uint64_t len;
};

/* MVMM_HC_READ: read from the VMM's standard input (fd 0). 0 is end of file. */
struct mvmm_hc_read {
	int64_t ret; /* OUT: bytes read, or -MVMM_E* */
	/* IN */
	uint32_t fd;
	uint32_t pad;
	mvmm_gpa_t buf;
	uint64_t len;
};

/* MVMM_HC_EXIT: end the guest with a status (0-255, as a process). */
struct mvmm_hc_exit {
	int64_t ret; /* unused: the call does not return */
	/* IN */
	int64_t status;
};

/* MVMM_HC_CLOCK: the host's CLOCK_MONOTONIC. */
struct mvmm_hc_clock {
	int64_t ret;
	/* OUT */
	uint64_t ns;
};

/* MVMM_HC_BOOTINFO: where this instance's boot info is. */
struct mvmm_hc_bootinfo {
	int64_t ret;
	/* OUT */
	mvmm_gpa_t bootinfo; /* == MVMM_BOOTINFO_GPA */
	uint64_t size;	     /* bytes in use from there (header and strings) */
};

/* MVMM_HC_ABORT: the guest gives up with a message; mvmm reports it. */
struct mvmm_hc_abort {
	int64_t ret; /* unused: the call does not return */
	/* IN */
	mvmm_gpa_t msg;
	uint64_t len;
};

/*
 * MVMM_HC_WAIT: block until the host releases this guest (mvmm run --hold
 * holds every instance here until all have arrived, measures them, then
 * releases them). Returns at once when nothing holds the guest.
 */
struct mvmm_hc_wait {
	int64_t ret; /* OUT: 0 */
};

/*
 * MVMM_HC_READY: the guest's initialization is done. Outside template mode
 * it returns 0 at once. In template mode the VMM freezes the guest here
 * (registers, FPU state, memory) as a template; every clone made from it
 * resumes from this call with ret = its clone number (>= 1), like fork().
 */
struct mvmm_hc_ready {
	int64_t ret; /* OUT: 0, or the clone number in a clone */
};

/*
 * MVMM_HC_REQUEST: a clone's own request (the arguments it was launched
 * with), as `argc` NUL-terminated strings back to back. Copies at most len
 * bytes; ret is the full size, so a guest can retry with a larger buffer.
 * Outside a clone the request is the program's own argv[1..].
 */
struct mvmm_hc_request {
	int64_t ret; /* OUT: bytes of the whole request */
	/* IN */
	mvmm_gpa_t buf;
	uint64_t len;
	/* OUT */
	uint64_t argc;
};

/* MVMM_HC_RANDOM: fresh host randomness (getrandom), at most 4096 bytes a call. */
#define MVMM_RANDOM_MAX 4096u
struct mvmm_hc_random {
	int64_t ret; /* OUT: bytes written */
	/* IN */
	mvmm_gpa_t buf;
	uint64_t len;
};

/*
 * MVMM_HC_CHECKPOINT: marks a later state of the guest. Under
 * `mvmm run --template --snapshot PATH` each checkpoint writes PATH.1,
 * PATH.2, ... as page diffs against the state before. Returns the
 * checkpoint's number (>= 1), or 0 when no snapshot is being taken.
 */
struct mvmm_hc_checkpoint {
	int64_t ret;
};

/*
 * Files. A guest has no filesystem: it may read exactly the host files
 * named with `mvmm run --expose PATH`, by that same PATH, and nothing else.
 * MVMM_HC_OPEN returns a handle (>= 0) or -MVMM_ENOENT for any other path;
 * MVMM_HC_PREAD reads at an offset (0 at end of file); MVMM_HC_CLOSE frees
 * the handle. At most MVMM_OPEN_MAX files are open at once.
 */
#define MVMM_OPEN_MAX 16u
#define MVMM_PATH_MAX 4096u

struct mvmm_hc_open {
	int64_t ret; /* OUT: handle, or -MVMM_E* */
	/* IN */
	mvmm_gpa_t path; /* not NUL-terminated: path_len bytes */
	uint64_t path_len;
};

struct mvmm_hc_pread {
	int64_t ret; /* OUT: bytes read, 0 at end of file, or -MVMM_E* */
	/* IN */
	int64_t handle;
	mvmm_gpa_t buf;
	uint64_t len;
	uint64_t offset;
};

struct mvmm_hc_close {
	int64_t ret; /* OUT: 0, or -MVMM_EBADF */
	/* IN */
	int64_t handle;
};

/*
 * Shared-memory regions. The host creates a region and hands a guest its
 * handle: a random 128-bit capability (whoever holds it may attach; there
 * is a read-write and a read-only handle per region). A guest finds the
 * regions the host granted it by name (MVMM_HC_SHM_LOOKUP), then attaches
 * one at an address of its choice in the window [MVMM_SHM_BASE,
 * MVMM_SHM_BASE + MVMM_SHM_WINDOW), identity-mapped like the rest of its
 * memory: page-aligned, the region's exact size, no overlap. A write to a
 * read-only attachment is a page fault. Doorbells: every region has a host
 * sequence counter; MVMM_HC_SHM_NOTIFY bumps it and wakes its waiters,
 * MVMM_HC_SHM_WAIT sleeps until it differs from the value the guest last
 * saw (`seen`), so a notify between looking and sleeping is never lost.
 */
#define MVMM_SHM_BASE	    0x40000000ull /* 1 GiB: above the largest guest memory */
#define MVMM_SHM_WINDOW	    0x20000000ull /* 512 MiB */
#define MVMM_SHM_NAME_MAX   64u		  /* bytes of a region's name */
#define MVMM_SHM_ATTACH_MAX 16u		  /* attachments per guest at once */
#define MVMM_SHM_RO	    1u		  /* attach / lookup / info flags: read-only */
#define MVMM_SHM_WAIT_NOTIFY 1u		  /* wait flags: notify first, in the same exit */
#define MVMM_SHM_FOREVER    UINT64_MAX	  /* wait timeout: no limit but the guest's own */

struct mvmm_shm_handle {
	uint64_t w[2];
};

/* MVMM_HC_SHM_LOOKUP: the region the host granted under this name. */
struct mvmm_hc_shm_lookup {
	int64_t ret; /* OUT: 0, or -MVMM_ENOENT (no such grant, or revoked) */
	/* IN */
	mvmm_gpa_t name; /* not NUL-terminated: name_len bytes */
	uint64_t name_len;
	/* OUT */
	struct mvmm_shm_handle handle;
	uint64_t size;
	uint32_t flags; /* MVMM_SHM_RO: the grant is read-only */
	uint32_t pad;
};

/* MVMM_HC_SHM_ATTACH: map the region at [addr, addr + size) (read-only with MVMM_SHM_RO). */
struct mvmm_hc_shm_attach {
	int64_t ret; /* OUT: 0, or -MVMM_ENOENT, EINVAL, EPERM, EBUSY, ENOSPC, EIO */
	/* IN */
	struct mvmm_shm_handle handle;
	mvmm_gpa_t addr; /* page-aligned, in the window */
	uint64_t size;	 /* == the region's size */
	uint32_t flags;
	uint32_t pad;
};

/* MVMM_HC_SHM_DETACH: unmap the attachment that starts at addr. */
struct mvmm_hc_shm_detach {
	int64_t ret; /* OUT: 0, or -MVMM_EINVAL (no attachment starts there) */
	/* IN */
	mvmm_gpa_t addr;
};

/* MVMM_HC_SHM_INFO: a handle's region. */
struct mvmm_hc_shm_info {
	int64_t ret; /* OUT: 0, or -MVMM_ENOENT */
	/* IN */
	struct mvmm_shm_handle handle;
	/* OUT */
	uint64_t size;
	uint32_t flags;	   /* MVMM_SHM_RO for a read-only handle */
	uint32_t attached; /* attachments of the region, all guests together */
};

/* MVMM_HC_SHM_NOTIFY: bump the region's counter and wake its waiters. */
struct mvmm_hc_shm_notify {
	int64_t ret; /* OUT: 0, or -MVMM_ENOENT */
	/* IN */
	struct mvmm_shm_handle handle;
	/* OUT */
	uint64_t seq; /* the counter after the bump */
};

/*
 * MVMM_HC_SHM_WAIT: returns 0 at once if the counter differs from `seen`,
 * else sleeps until a notify, timeout_ns (0: do not sleep; MVMM_SHM_FOREVER)
 * or the guest's own deadline. With MVMM_SHM_WAIT_NOTIFY it first notifies
 * (and then waits for a notify from someone else). -MVMM_EPIPE when no other
 * guest is attached and one that was attached has ended, or when every
 * other guest the host gave the region to has ended, attached or not (or
 * the host revoked the region): a peer that dies, or never comes, never
 * leaves its partner asleep.
 */
struct mvmm_hc_shm_wait {
	int64_t ret; /* OUT: 0, or -MVMM_ENOENT, EINVAL, ETIMEDOUT, EPIPE */
	/* IN */
	struct mvmm_shm_handle handle;
	uint64_t seen;
	uint64_t timeout_ns;
	uint32_t flags;
	uint32_t pad;
	/* OUT */
	uint64_t seq; /* the counter now: the next call's `seen` */
};

/*
 * Guest-physical memory layout (identity-mapped, 4 KiB pages).
 *
 *   0x000000  not mapped (catches NULL)
 *   0x001000  GDT, TSS with I/O bitmap, IDT    supervisor only
 *   0x004000  exception stubs (ring 0 code)     supervisor only
 *   0x005000  ring-0 stack, top at 0x7000       supervisor only
 *   0x007000  system-call entry (MSR_LSTAR)     user read and execute
 *   0x008000  boot info, argv/env strings       user read-write, per instance
 *   0x010000  page tables                       supervisor only
 *   0x400000  program image (ELF segments), then the heap
 *   top - MVMM_STACK_SIZE - 4 KiB   guard page (not mapped)
 *   top - MVMM_STACK_SIZE .. top    user stack
 */
#define MVMM_PAGE_SIZE	    4096u
#define MVMM_GDT_GPA	    0x1000u
#define MVMM_TSS_GPA	    0x2000u
#define MVMM_IDT_GPA	    0x3000u
#define MVMM_STUBS_GPA	    0x4000u
#define MVMM_R0STACK_TOP    0x7000u
#define MVMM_SYSCALL_GPA    0x7000u /* MSR_LSTAR: where a guest `syscall` lands */
#define MVMM_BOOTINFO_GPA   0x8000u
#define MVMM_BOOTINFO_SIZE  0x8000u
#define MVMM_PGTABLE_GPA    0x10000u
#define MVMM_IMAGE_BASE	    0x400000u /* lowest address an ELF segment may use */
#define MVMM_STACK_SIZE	    0x100000u
#define MVMM_MEM_MIN	    (8u << 20)
#define MVMM_MEM_MAX	    (1ull << 30)
#define MVMM_MEM_DEFAULT    (64u << 20)

/* GDT selectors. */
#define MVMM_SEL_KCODE 0x08
#define MVMM_SEL_KDATA 0x10
#define MVMM_SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define MVMM_SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define MVMM_SEL_TSS   0x28

/*
 * Boot info, written by the VMM at MVMM_BOOTINFO_GPA before the first
 * instruction; argv and envp point at arrays of guest pointers (NULL
 * terminated) inside the same area. The program starts at its ELF entry at
 * CPL3 with rsp = stack_top (16-byte aligned) and rdi = MVMM_BOOTINFO_GPA.
 */
#define MVMM_BOOTINFO_MAGIC 0x6d766d6du /* "mvmm" */

struct mvmm_bootinfo {
	uint32_t magic;
	uint32_t abi_version;
	uint64_t mem_size;   /* bytes of guest memory */
	mvmm_gpa_t heap_start; /* first free page after the program image */
	mvmm_gpa_t heap_end;   /* end of the heap (the guard page below the stack) */
	mvmm_gpa_t stack_top;
	uint32_t argc;
	uint32_t envc;
	mvmm_gpa_t argv; /* char *argv[argc + 1] */
	mvmm_gpa_t envp; /* char *envp[envc + 1] */
	uint64_t instance; /* instance number within its run, from 0 */
};

/*
 * The frame an exception stub leaves on the ring-0 stack before it writes
 * to MVMM_FAULT_PORT: the stub's two pushes, then what the CPU pushed.
 */
struct mvmm_fault_frame {
	uint64_t vector;
	uint64_t error_code; /* 0 for vectors without one */
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

#define MVMM_CHECK_LAYOUT(type, field, off) \
	_Static_assert(__builtin_offsetof(type, field) == (off), #type "." #field " moved")

MVMM_CHECK_LAYOUT(struct mvmm_hc_write, buf, 16);
MVMM_CHECK_LAYOUT(struct mvmm_hc_read, len, 24);
MVMM_CHECK_LAYOUT(struct mvmm_hc_exit, status, 8);
MVMM_CHECK_LAYOUT(struct mvmm_hc_clock, ns, 8);
MVMM_CHECK_LAYOUT(struct mvmm_hc_bootinfo, size, 16);
MVMM_CHECK_LAYOUT(struct mvmm_hc_abort, len, 16);
MVMM_CHECK_LAYOUT(struct mvmm_bootinfo, argc, 40);
MVMM_CHECK_LAYOUT(struct mvmm_bootinfo, instance, 64);
MVMM_CHECK_LAYOUT(struct mvmm_hc_request, argc, 24);
MVMM_CHECK_LAYOUT(struct mvmm_hc_random, len, 16);
MVMM_CHECK_LAYOUT(struct mvmm_hc_open, path_len, 16);
MVMM_CHECK_LAYOUT(struct mvmm_hc_pread, offset, 32);
MVMM_CHECK_LAYOUT(struct mvmm_hc_close, handle, 8);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_lookup, handle, 24);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_lookup, flags, 48);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_attach, addr, 24);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_attach, flags, 40);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_detach, addr, 8);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_info, attached, 36);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_notify, seq, 24);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_wait, flags, 40);
MVMM_CHECK_LAYOUT(struct mvmm_hc_shm_wait, seq, 48);
_Static_assert(sizeof(struct mvmm_hc_shm_lookup) == 56, "shm_lookup size changed");
_Static_assert(sizeof(struct mvmm_hc_shm_wait) == 56, "shm_wait size changed");
_Static_assert(MVMM_SHM_BASE >= MVMM_MEM_MAX, "the attachment window must lie above guest memory");
_Static_assert(sizeof(struct mvmm_bootinfo) == 72, "boot info size changed");
_Static_assert(sizeof(struct mvmm_fault_frame) == 56, "fault frame size changed");

#endif /* MVMM_ABI_H */
