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
	MVMM_HC_COUNT	      /* number of hypercalls; keep last */
};

/* Error codes returned in `ret` (negated). */
enum mvmm_error {
	MVMM_EFAULT = 1, /* an address or length outside the guest's memory */
	MVMM_EINVAL = 2, /* a bad argument (unknown fd, bad flags) */
	MVMM_EIO = 3,	 /* the host side of the operation failed */
	MVMM_ENOSYS = 4, /* no such hypercall in this VMM */
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
 * Guest-physical memory layout (identity-mapped, 4 KiB pages).
 *
 *   0x000000  not mapped (catches NULL)
 *   0x001000  GDT, TSS with I/O bitmap, IDT    supervisor only
 *   0x004000  exception stubs (ring 0 code)     supervisor only
 *   0x005000  ring-0 stack, top at 0x8000       supervisor only
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
#define MVMM_R0STACK_TOP    0x8000u
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
_Static_assert(sizeof(struct mvmm_bootinfo) == 72, "boot info size changed");
_Static_assert(sizeof(struct mvmm_fault_frame) == 56, "fault frame size changed");

#endif /* MVMM_ABI_H */
