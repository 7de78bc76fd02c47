/*
 * confine.h: seccomp allow-lists (libseccomp) for mvmm's threads once set-up is
 * done; a call outside them stops the process with a report naming it.
 */
#ifndef MVMM_CONFINE_H
#define MVMM_CONFINE_H

/*
 * The whole process, every thread now and later (TSYNC): what mvmm does
 * after set-up (memory, files it opens by name, threads, timers, the KVM
 * ioctls, sockets of the server). Not exec, not ptrace, not new network
 * sockets, no other ioctl. Idempotent.
 */
int confine_process(void);

/*
 * The calling thread only, on top of whatever it has: the thread runs
 * vCPUs, so it may issue the vCPU and memslot ioctls, exchange guest I/O
 * over fds it was given, open exposed files, map memory and keep time, and
 * nothing else (no KVM_CREATE_VM, no thread or process creation, no
 * sockets but sends and receives on existing ones).
 */
int confine_vcpu_thread(unsigned extra);

/* extra for confine_vcpu_thread: the thread also writes files by name (snapshots), */
#define CONFINE_VCPU_WRITES_FILES 1u
/* ... or makes VM shells itself (a run through the API when its pool is empty). */
#define CONFINE_VCPU_MAKES_SHELLS 2u
/* ... or serves gdb (--gdb): accepts its connection on a socket opened before. */
#define CONFINE_VCPU_DEBUGGER 4u

/* Whether confine_process ran in this process. */
int confine_active(void);

/*
 * For the test that proves the filter is on: makes a call no list allows
 * (personality(2), as a query); under confinement the process stops with
 * the report, else it returns.
 */
void confine_selftest(void);

#endif
