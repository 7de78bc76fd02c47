/*
 * confine.c: the seccomp allow-lists of mvmm's threads, built with libseccomp, and the
 * SIGSYS handler that names a forbidden call before it stops the process.
 */
#define _GNU_SOURCE
#include "confine.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "error.h"

/* The exit status of a process stopped for a forbidden call: as a shell reports SIGSYS. */
#define CONFINE_STATUS 159
#define CONFINE_NAMES  512 /* system-call numbers named in the report */

/* What every thread of mvmm may call after set-up. */
static const int confine_process_calls[] = {
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(mincore), SCMP_SYS(memfd_create),
	/* files: guest I/O, exposed files, the cache, output files, /proc/self for stats */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(openat), SCMP_SYS(open),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lstat), SCMP_SYS(stat),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getdents64), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(link),
	SCMP_SYS(linkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(fcntl),
	SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(utimensat), SCMP_SYS(fchmod), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3),
	SCMP_SYS(pipe2), SCMP_SYS(umask), SCMP_SYS(getcwd),
	/* Linux guests' files (vmm/guestabi/lx_fs.c) */
	SCMP_SYS(openat2), SCMP_SYS(statfs), SCMP_SYS(fstatfs), SCMP_SYS(fchmodat),
	SCMP_SYS(times),
	/* waiting */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2), SCMP_SYS(signalfd4),
	SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(restart_syscall),
	/* threads and worker processes */
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(kill),
	SCMP_SYS(tgkill), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(getppid),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit),
	SCMP_SYS(getrusage), SCMP_SYS(prctl),
	SCMP_SYS(seccomp), /* a thread may only add filters (a vCPU thread's stricter list) */
	/* signals and time */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(timer_create), SCMP_SYS(timer_settime),
	SCMP_SYS(timer_gettime), SCMP_SYS(timer_delete), SCMP_SYS(getrandom),
	/* identity */
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(uname), SCMP_SYS(sysinfo),
	/* the server's sockets (created before confinement; socket() is below, AF_UNIX only) */
	SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(shutdown), SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(connect),
	SCMP_SYS(bind), SCMP_SYS(listen),
};

/* What a thread that runs vCPUs may call, on top of the process list. */
static const int confine_vcpu_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(openat), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(fcntl), SCMP_SYS(mmap), SCMP_SYS(munmap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk), SCMP_SYS(futex),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(epoll_ctl), SCMP_SYS(sched_yield),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(gettid), SCMP_SYS(getpid),
	SCMP_SYS(tgkill), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(timer_create), SCMP_SYS(timer_settime), SCMP_SYS(timer_delete),
	SCMP_SYS(getrandom), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq), SCMP_SYS(getrusage),
	SCMP_SYS(fallocate), /* a detached VM's merged pages leave the dedup store (punch) */
	/* a crash report's backtrace: libdwfl resolves the program's path to look for its debug file */
	SCMP_SYS(readlink), SCMP_SYS(getcwd),
};

/* CONFINE_VCPU_WRITES_FILES: snapshots taken at checkpoints, on the vCPU's thread. */
static const int confine_vcpu_file_calls[] = {
	SCMP_SYS(getcwd),    SCMP_SYS(rename),	 SCMP_SYS(renameat), SCMP_SYS(renameat2),
	SCMP_SYS(fsync),     SCMP_SYS(fdatasync), SCMP_SYS(unlink),   SCMP_SYS(unlinkat),
	SCMP_SYS(ftruncate), SCMP_SYS(pwrite64),  SCMP_SYS(fchmod),   SCMP_SYS(newfstatat),
};

/* A debugger's connection (--gdb), on a listening socket made before confinement. */
static const int confine_vcpu_gdb_calls[] = {
	SCMP_SYS(accept4),
	SCMP_SYS(setsockopt), /* TCP_NODELAY: gdb's small packets must not wait for Nagle */
};

/* The ioctls of a VM's and a vCPU's life after set-up (shells are made in the process list). */
static const unsigned long confine_vcpu_ioctls[] = {
	KVM_RUN,	   KVM_GET_REGS,	KVM_SET_REGS,	     KVM_GET_SREGS,
	KVM_SET_SREGS,	   KVM_GET_XSAVE,	KVM_SET_XSAVE,	     KVM_GET_XCRS,
	KVM_SET_XCRS,	   KVM_GET_MSRS,	KVM_SET_MSRS,	     KVM_GET_VCPU_EVENTS,
	KVM_SET_VCPU_EVENTS, KVM_SET_USER_MEMORY_REGION, TCGETS, TIOCGWINSZ,
};

/*
 * Every guest is a Linux program whose system calls are answered on its
 * vCPU's thread: files under its --dir trees (always beneath a tree's fd,
 * through openat2), pipes within the guest, identity and time.
 */
static const int confine_vcpu_linux_calls[] = {
	SCMP_SYS(openat2),   SCMP_SYS(getdents64), SCMP_SYS(readlinkat), SCMP_SYS(mkdirat),
	SCMP_SYS(unlinkat),  SCMP_SYS(renameat),   SCMP_SYS(renameat2),	 SCMP_SYS(pwrite64),
	SCMP_SYS(ftruncate), SCMP_SYS(fsync),	   SCMP_SYS(fdatasync),	 SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat),  SCMP_SYS(utimensat),  SCMP_SYS(pipe2),	 SCMP_SYS(dup),
	SCMP_SYS(dup3),	     SCMP_SYS(statfs),	   SCMP_SYS(fstatfs),	 SCMP_SYS(statx),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getuid),	 SCMP_SYS(geteuid),
	SCMP_SYS(getgid),    SCMP_SYS(getegid),	   SCMP_SYS(uname),	 SCMP_SYS(sysinfo),
	SCMP_SYS(clock_getres), SCMP_SYS(times),   SCMP_SYS(sched_getaffinity),
};

/* CONFINE_VCPU_MAKES_SHELLS: a run that finds its shell pool empty makes a shell itself. */
static const int confine_shell_calls[] = {
	SCMP_SYS(rt_sigaction), SCMP_SYS(memfd_create), SCMP_SYS(mremap),
};

/* ... and those of making VM shells, which the process list adds. */
static const unsigned long confine_shell_ioctls[] = {
	KVM_CREATE_VM,	       KVM_CREATE_VCPU,	 KVM_SET_CPUID2, KVM_CHECK_EXTENSION,
	KVM_GET_VCPU_MMAP_SIZE, KVM_GET_API_VERSION, KVM_GET_SUPPORTED_CPUID,
};

/*
 * Under AddressSanitizer, LeakSanitizer stops the world at exit with a
 * ptrace helper thread, and the runtime installs handlers in new threads:
 * the sanitizer builds (tests only) allow them that.
 */
#if defined(__SANITIZE_ADDRESS__)
static const int confine_sanitizer_calls[] = {
	SCMP_SYS(ptrace), SCMP_SYS(clone), SCMP_SYS(wait4), SCMP_SYS(prctl),
	SCMP_SYS(getdents64), SCMP_SYS(getdents), SCMP_SYS(readlink), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getppid), SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(open),
	SCMP_SYS(pipe2), SCMP_SYS(dup2), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(rt_sigaction), /* the sanitizer runtime's own handlers, per thread */
};
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *confine_names[CONFINE_NAMES];
static int confine_on;

static void put_str(char *buf, size_t cap, size_t *len, const char *s)
{
	while (*s && *len + 1 < cap)
		buf[(*len)++] = *s++;
}

static void put_dec(char *buf, size_t cap, size_t *len, unsigned long v)
{
	char d[24];
	int n = sizeof(d) - 1;

	d[n] = '\0';
	do
		d[--n] = (char)('0' + v % 10);
	while ((v /= 10) && n > 0);
	put_str(buf, cap, len, d + n);
}

static void put_hex(char *buf, size_t cap, size_t *len, unsigned long v)
{
	char d[19] = "0x";
	int i, n = 2;

	for (i = 60; i >= 0; i -= 4)
		if ((v >> i) || n > 2 || i == 0)
			d[n++] = "0123456789abcdef"[(v >> i) & 0xf];
	d[n] = '\0';
	put_str(buf, cap, len, d);
}

/* Async-signal-safe: names the call (and an ioctl's request), then stops the process. */
static void confine_sigsys(int sig, siginfo_t *si, void *ctx)
{
	const ucontext_t *uc = ctx;
	char msg[256];
	size_t len = 0;
	int nr = si->si_syscall;

	(void)sig;
	put_str(msg, sizeof(msg), &len, "mvmm: seccomp: forbidden system call ");
	put_str(msg, sizeof(msg), &len,
		nr >= 0 && nr < CONFINE_NAMES && confine_names[nr] ? confine_names[nr] : "?");
	put_str(msg, sizeof(msg), &len, " (");
	put_dec(msg, sizeof(msg), &len, (unsigned long)nr);
	put_str(msg, sizeof(msg), &len, ")");
	if (nr == SYS_ioctl) {
		put_str(msg, sizeof(msg), &len, " request ");
		put_hex(msg, sizeof(msg), &len, (unsigned long)uc->uc_mcontext.gregs[REG_RSI]);
	}
	put_str(msg, sizeof(msg), &len, "; mvmm stops (a bug, or an attack on it)\n");
	(void)!write(STDERR_FILENO, msg, len);
	_exit(CONFINE_STATUS);
}

/* Names for the report, resolved now: the handler cannot allocate. */
static void confine_resolve_names(void)
{
	for (int nr = 0; nr < CONFINE_NAMES; nr++)
		confine_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

static int confine_prepare(void)
{
	static pthread_once_t names_once = PTHREAD_ONCE_INIT;
	struct sigaction sa;

	/* Once per process: vCPU threads confine themselves concurrently. */
	pthread_once(&names_once, confine_resolve_names);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = confine_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_sys("sigaction(SIGSYS)");
	return 0;
}

static int add_calls(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);

		/* -EEXIST: already allowed; a call this architecture lacks is no error */
		if (rc < 0 && rc != -EEXIST && rc != -EDOM)
			return err_set("seccomp: allowing call %d: %s", calls[i], strerror(-rc));
	}
	return 0;
}

static int add_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  SCMP_A1_64(SCMP_CMP_EQ, reqs[i]));

		if (rc < 0 && rc != -EEXIST)
			return err_set("seccomp: allowing ioctl 0x%lx: %s", reqs[i], strerror(-rc));
	}
	return 0;
}

static int confine_load(scmp_filter_ctx ctx, int all_threads)
{
	int rc;

	if (all_threads && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0) {
		seccomp_release(ctx);
		return err_set("seccomp: this kernel cannot filter all threads at once");
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		return err_set("seccomp: loading the filter: %s", strerror(-rc));
	return 0;
}

static int add_sanitizer_calls(scmp_filter_ctx ctx)
{
#if defined(__SANITIZE_ADDRESS__)
	return add_calls(ctx, confine_sanitizer_calls, COUNT(confine_sanitizer_calls));
#else
	(void)ctx;
	return 0;
#endif
}

/* A filter whose default is the SIGSYS report, its handler installed; NULL with the message set. */
static scmp_filter_ctx confine_start(void)
{
	scmp_filter_ctx ctx;

	if (confine_prepare() < 0)
		return NULL;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		err_set("seccomp: cannot start a filter");
	return ctx;
}

static int add_unix_sockets(scmp_filter_ctx ctx)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				  SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX));

	return rc < 0 ? err_set("seccomp: allowing socket(AF_UNIX): %s", strerror(-rc)) : 0;
}

int confine_process(void)
{
	scmp_filter_ctx ctx;

	if (confine_on)
		return 0;
	ctx = confine_start();
	if (!ctx)
		return -1;
	if (add_calls(ctx, confine_process_calls, COUNT(confine_process_calls)) < 0 ||
	    add_ioctls(ctx, confine_vcpu_ioctls, COUNT(confine_vcpu_ioctls)) < 0 ||
	    add_ioctls(ctx, confine_shell_ioctls, COUNT(confine_shell_ioctls)) < 0 ||
	    add_sanitizer_calls(ctx) < 0 || add_unix_sockets(ctx) < 0) {
		seccomp_release(ctx);
		return -1;
	}
	if (confine_load(ctx, 1) < 0)
		return -1;
	confine_on = 1;
	return 0;
}

int confine_vcpu_thread(unsigned extra)
{
	scmp_filter_ctx ctx = confine_start();

	if (!ctx)
		return -1;
	if (add_calls(ctx, confine_vcpu_calls, COUNT(confine_vcpu_calls)) < 0 ||
	    add_ioctls(ctx, confine_vcpu_ioctls, COUNT(confine_vcpu_ioctls)) < 0 ||
	    ((extra & CONFINE_VCPU_WRITES_FILES) &&
	     add_calls(ctx, confine_vcpu_file_calls, COUNT(confine_vcpu_file_calls)) < 0) ||
	    add_calls(ctx, confine_vcpu_linux_calls, COUNT(confine_vcpu_linux_calls)) < 0 ||
	    ((extra & CONFINE_VCPU_MAKES_SHELLS) &&
	     (add_ioctls(ctx, confine_shell_ioctls, COUNT(confine_shell_ioctls)) < 0 ||
	      add_calls(ctx, confine_shell_calls, COUNT(confine_shell_calls)) < 0)) ||
	    ((extra & CONFINE_VCPU_DEBUGGER) &&
	     add_calls(ctx, confine_vcpu_gdb_calls, COUNT(confine_vcpu_gdb_calls)) < 0) ||
	    add_sanitizer_calls(ctx) < 0) {
		seccomp_release(ctx);
		return -1;
	}
	return confine_load(ctx, 0);
}

int confine_active(void)
{
	return confine_on;
}

void confine_selftest(void)
{
	syscall(SYS_personality, 0xffffffffUL); /* a query, harmless where it is allowed */
}
