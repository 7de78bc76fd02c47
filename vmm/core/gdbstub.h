/*
 * gdbstub.h: the GDB remote serial protocol over one connected fd, for an
 * x86-64 target that has one thread: packets and their checksums, register
 * and memory access, software breakpoints, continue and single step. What
 * the target is (a VM, or a fake in the tests) hides behind gdb_target_ops.
 */
#ifndef MVMM_GDBSTUB_H
#define MVMM_GDBSTUB_H

#include <stddef.h>
#include <stdint.h>

/* Largest packet payload either side sends (qSupported's PacketSize). */
#define GDB_PACKET_MAX 4096
/* Software breakpoints at once. */
#define GDB_BP_MAX 64
/* Signal numbers as gdb speaks them (its own numbering, equal to Linux's for these). */
#define GDB_SIGINT  2
#define GDB_SIGILL  4
#define GDB_SIGTRAP 5
#define GDB_SIGBUS  7
#define GDB_SIGFPE  8
#define GDB_SIGSEGV 11

/* The registers gdb sees (target.xml's order; x87 and SSE are reported unavailable). */
struct gdb_regs {
	uint64_t gpr[16]; /* rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
	uint64_t rip;
	uint64_t eflags;
	uint64_t seg[6]; /* cs ss ds es fs gs */
	uint64_t fs_base, gs_base;
};

struct gdb_target_ops {
	int (*get_regs)(void *ctx, struct gdb_regs *r);
	/* Only gpr, rip and eflags are taken. 0 or -1. */
	int (*set_regs)(void *ctx, const struct gdb_regs *r);
	/* Whole range or nothing: 0, or -1 when any byte is not the guest's. */
	int (*read_mem)(void *ctx, uint64_t addr, void *buf, size_t len);
	int (*write_mem)(void *ctx, uint64_t addr, const void *buf, size_t len);
};

/* How gdb told the target to go on. */
enum gdb_resume {
	GDB_CONTINUE,
	GDB_STEP,
	GDB_DETACH, /* D: run on without the debugger */
	GDB_KILL,   /* k */
	GDB_GONE,   /* the connection closed or broke: treat as a detach */
	GDB_TIMEOUT /* the deadline passed while gdb held the target */
};

struct gdb_bp {
	uint64_t addr;
	uint8_t saved; /* the byte 0xCC replaced */
};

struct gdb_stub {
	int fd;
	const struct gdb_target_ops *ops;
	void *ctx;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: wait as long as gdb takes */
	int has_offset;
	uint64_t offset;      /* qOffsets: the program's load bias */
	int owe_stop;	      /* the target was resumed: the next stop is reported unasked */
	int sig, swbreak;     /* the stop being served */
	struct gdb_bp bp[GDB_BP_MAX];
	unsigned nbp;
	size_t rpos, rlen;
	uint8_t rbuf[512];
	char in[GDB_PACKET_MAX + 1];
	char out[GDB_PACKET_MAX + 1];
};

void gdb_stub_init(struct gdb_stub *s, int fd, const struct gdb_target_ops *ops, void *ctx);

/*
 * Reports the stop (signal sig; swbreak: the target stopped on one of our
 * breakpoints, its RIP already moved back onto it) if gdb is waiting for
 * one, then answers gdb's packets until it resumes, detaches or kills the
 * target, or the connection ends. On c and s the stop is owed: the next
 * call reports it without being asked.
 */
enum gdb_resume gdb_stub_serve(struct gdb_stub *s, int sig, int swbreak);

/*
 * While the target runs: takes what gdb sent without waiting. 1 when it
 * was an interrupt (Ctrl-C, byte 0x03), 0 for nothing (or other bytes), -1
 * when the connection is gone.
 */
int gdb_stub_poll_interrupt(struct gdb_stub *s);

/* The target ended: W status (an exit) or X sig (a fault, a kill); breakpoints are forgotten. */
void gdb_stub_exited(struct gdb_stub *s, int exited, int code);

/* Whether addr holds one of our breakpoints. */
int gdb_stub_is_bp(const struct gdb_stub *s, uint64_t addr);

/* Puts back the bytes every breakpoint replaced (detach, kill, the target's end). */
void gdb_stub_clear_bps(struct gdb_stub *s);

/* The target description (i386:x86-64) served as target.xml. */
extern const char gdb_target_xml[];

#endif
