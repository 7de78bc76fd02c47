/* mvmm_abi.h: the host-guest ABI, included by both the VMM and guests. */
#ifndef MVMM_ABI_H
#define MVMM_ABI_H

/*
 * C11 only, no libc beyond <stdint.h>. Everything that crosses the boundary
 * between a guest and the VMM is defined here and nowhere else.
 *
 * Bump MVMM_ABI_VERSION when a struct layout, a hypercall number, a port or
 * a fixed address changes meaning; adding a new hypercall number at the end
 * does not need a bump. Snapshots and cache entries record the version they
 * were taken under and are refused (or rebuilt) under another.
 *
 * Version 2: every guest is a static Linux program (system calls for
 * everything Linux has a call for); the hypercalls that duplicated one
 * (write, read, exit, clock, bootinfo, abort, random, open, pread, close)
 * and the boot info are gone, and the others are renumbered.
 */
#include <stdint.h>

#define MVMM_ABI_VERSION 2

/*
 * Guest pointers. On the host side a guest address is an opaque integer
 * type (mvmm_gpa_t) so that the VMM cannot dereference it by accident: every
 * access goes through the checked translator in vmm/gmem.c. Guests are
 * identity-mapped (virtual == physical), so on the guest side it is a plain
 * 64-bit address that the guest library casts.
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
 * Programs built by the retired SDK (mvmm-cc before MVMM_ABI_VERSION 2,
 * with its own libc and boot info) carry an ELF note (name "mvmm", type
 * MVMM_NOTE_TYPE). The VMM refuses them with a message saying to rebuild:
 * every guest is now a static Linux program (mvmm-cc is musl-gcc -static
 * plus the small mvmm library) whose system calls the VMM answers.
 */
#define MVMM_NOTE_NAME "mvmm"
#define MVMM_NOTE_TYPE 0x6d766d01u

/*
 * What a guest asks of the VMM that Linux has no system call for. Writing,
 * reading, files, clocks, randomness, the arguments and exiting are system
 * calls (write, openat, clock_gettime, getrandom, exit_group, ...); abort()
 * is Linux's too (SIGABRT: the run ends as an abort, status 134).
 */
enum mvmm_hypercall {
	MVMM_HC_READY = 0,	 /* struct mvmm_hc_ready */
	MVMM_HC_REQUEST = 1,	 /* struct mvmm_hc_request */
	MVMM_HC_WAIT = 2,	 /* struct mvmm_hc_wait */
	MVMM_HC_CHECKPOINT = 3,	 /* struct mvmm_hc_checkpoint */
	MVMM_HC_SHM_LOOKUP = 4,	 /* struct mvmm_hc_shm_lookup */
	MVMM_HC_SHM_ATTACH = 5,	 /* struct mvmm_hc_shm_attach */
	MVMM_HC_SHM_DETACH = 6,	 /* struct mvmm_hc_shm_detach */
	MVMM_HC_SHM_INFO = 7,	 /* struct mvmm_hc_shm_info */
	MVMM_HC_SHM_NOTIFY = 8,	 /* struct mvmm_hc_shm_notify */
	MVMM_HC_SHM_WAIT = 9,	 /* struct mvmm_hc_shm_wait */
	MVMM_HC_COUNT		 /* number of hypercalls; keep last */
};

/* Error codes returned in `ret` (negated). 6 and 7 belonged to retired file calls. */
enum mvmm_error {
	MVMM_EFAULT = 1, /* an address or length outside the guest's memory */
	MVMM_EINVAL = 2, /* a bad argument (unknown handle, bad flags) */
	MVMM_EIO = 3,	 /* the host side of the operation failed */
	MVMM_ENOSYS = 4, /* no such hypercall in this VMM */
	MVMM_ENOENT = 5, /* no such region among those the host granted */
	MVMM_EBUSY = 8,	     /* the address range overlaps an attachment */
	MVMM_ENOSPC = 9,     /* too many attachments */
	MVMM_ETIMEDOUT = 10, /* the wait's own timeout passed */
	MVMM_EPIPE = 11,     /* no peer left: the others have ended, or it was revoked */
	MVMM_EPERM = 12,     /* a read-only handle used for a read-write attachment */
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
 * (registers, FPU state, memory, its Linux process state) as a template;
 * every clone made from it resumes from this call with ret = its clone
 * number (>= 1), like fork().
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
 * The instance number: `mvmm run --count N` starts instances 0..N-1. A
 * guest finds its own in its auxiliary vector, under this type (beyond
 * Linux's AT_* numbers, so other programs never see it): getauxval(3), or
 * mvmm_instance() of <mvmm/hypercall.h>. Clones of a template share the
 * template's; each gets its own clone number from MVMM_HC_READY instead.
 */
#define MVMM_AT_INSTANCE 0x6d766d00ul

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
 *   0x008000  not mapped (the retired boot info's place)
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

MVMM_CHECK_LAYOUT(struct mvmm_hc_request, argc, 24);
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
_Static_assert(sizeof(struct mvmm_fault_frame) == 56, "fault frame size changed");

#endif /* MVMM_ABI_H */
