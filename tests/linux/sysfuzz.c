/*
 * sysfuzz.c: every system-call number from 0 to 600, several rounds, with garbage arguments
 * from a fixed-seed generator: random words, small integers, pointers to random bytes (a
 * writable buffer and read-only code), unmapped, kernel and non-canonical addresses, huge
 * lengths. Run under mvmm only (natively it would damage the host): it must end with
 * "survived" on stdout and status 0.
 *
 * Skipped or given safe arguments: the calls that end or stop a Linux process legitimately
 * (exit, exit_group, rt_sigreturn, signals to itself, pause, rt_sigsuspend, futex waits,
 * alarms and timers, blocking waits), and the address-space calls get addresses only in a
 * scratch area of their own, so that a call Linux would let destroy the process (munmap of
 * its own stack) cannot. Descriptors it opens are closed after each call; stdout is kept at
 * fd 1000 and stdin, stdout and stderr are closed, so garbage never reaches stderr.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS	  4
#define NR_LAST	  600
#define OUT_FD	  1000
#define WBUF_SIZE (2u << 20)
#define SCRATCH	  (4u << 20)

static unsigned char wbuf[WBUF_SIZE] __attribute__((aligned(4096)));
static unsigned char *scratch;
static uint64_t state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* An argument for any call. */
static long garbage(void)
{
	switch (rnd() % 20) {
	case 0:
	case 1:
	case 2:
		return (long)(rnd() % 8); /* small: fds, flags, counts */
	case 3:
		return -1;
	case 4:
		return (long)rnd(); /* anything */
	case 5:
		return (long)(wbuf + rnd() % 4096); /* writable garbage */
	case 6:
		return (long)(wbuf + 4096 + rnd() % 64); /* writable, maybe unaligned */
	case 7:
		return (long)((const char *)&garbage + rnd() % 256); /* read-only garbage */
	case 8:
		return 0x1000 + (long)(rnd() % 4096); /* unmapped, low */
	case 9:
		return (long)0xffffffff81000000ull; /* kernel */
	case 10:
		return (long)0x0000800000000000ull; /* non-canonical */
	case 11:
		return 4096;
	case 12:
		return 65536;
	case 13:
		return 1l << 20;
	case 14:
		return 1l << 40; /* huge lengths */
	case 15:
		return (long)(~0ull >> 1);
	case 16:
		return (long)(rnd() & 0xffffffffu);
	case 17:
		return (long)"/tmp/fuzz"; /* plausible paths */
	case 18:
		return (long)"..";
	default:
		return (long)(scratch + 4096 * (rnd() % 16));
	}
}

/* An address or length for the address-space calls: inside the scratch area or absurd. */
static long mem_garbage(void)
{
	switch (rnd() % 12) {
	case 0:
		return (long)(scratch + 4096 * (rnd() % 256));
	case 1:
		return (long)(scratch + rnd() % 4096);
	case 2:
		return 0;
	case 3:
		return 4096;
	case 4:
		return 4096 * (long)(1 + rnd() % 64);
	case 5:
		return 0x200000;
	case 6:
		return (long)0xffffffff80000000ull;
	case 7:
		return 1l << 47;
	case 8:
		return (long)(rnd() | (1ull << 62)); /* huge */
	case 9:
		return -1;
	case 10:
		return (long)(rnd() % 8);
	default:
		return (long)(rnd() % 0x40);
	}
}

static int is_mem_call(long nr)
{
	static const short mem[] = {SYS_mmap,
				    SYS_mprotect,
				    SYS_munmap,
				    SYS_brk,
				    SYS_mremap,
				    SYS_msync,
				    SYS_mincore,
				    SYS_madvise,
				    SYS_mlock,
				    SYS_munlock,
				    SYS_remap_file_pages,
				    SYS_mbind,
				    SYS_migrate_pages,
				    SYS_move_pages,
				    SYS_mlock2,
				    SYS_pkey_mprotect,
				    440 /* process_madvise */,
				    462 /* mseal */,
				    SYS_shmat,
				    SYS_shmdt};

	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++)
		if (mem[i] == nr)
			return 1;
	return 0;
}

static long fuzz_one(long nr)
{
	static const struct timespec zero_ts = {0, 0}, tiny = {0, 1000};
	long a[6];

	for (int i = 0; i < 6; i++)
		a[i] = is_mem_call(nr) ? mem_garbage() : garbage();
	switch (nr) {
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigreturn:
	case SYS_pause:
	case SYS_rt_sigsuspend:
	case SYS_vfork:
	case SYS_fork:
	case SYS_clone:
	case SYS_clone3:
	case SYS_execve:
	case SYS_execveat:
	case SYS_setitimer:
	case SYS_timer_settime:
	case SYS_timerfd_settime:
	case SYS_rt_sigqueueinfo:
	case SYS_rt_tgsigqueueinfo:
	case 424: /* pidfd_send_signal */
		return 0;
	case SYS_kill: /* signal 0: only a check */
		return syscall(nr, (long)getpid(), 0L);
	case SYS_tkill:
		return syscall(nr, (long)syscall(SYS_gettid), 0L);
	case SYS_tgkill:
		return syscall(nr, (long)getpid(), (long)syscall(SYS_gettid), 0L);
	case SYS_alarm:
		return syscall(nr, 0L);
	case SYS_futex: /* a wake, or a wait whose value differs: never blocks */
		wbuf[0] = 1;
		return syscall(nr, (long)wbuf, (rnd() & 1) ? 1L /* WAKE */ : 0L /* WAIT */,
			       (rnd() & 1) ? 0L : 5L, (long)&tiny, 0L, 0L);
	case SYS_arch_prctl: /* ARCH_GET_FS into garbage: setting FS would break TLS */
		return syscall(nr, 0x1003L, a[1]);
	case SYS_close_range:
		return syscall(nr, 3L, 999L, 0L);
	case SYS_nanosleep:
		return syscall(nr, (long)&tiny, a[1]);
	case SYS_clock_nanosleep:
		return syscall(nr, 1L /* MONOTONIC */, 0L, (long)&tiny, a[3]);
	case SYS_poll:
		return syscall(nr, a[0], a[1], 0L);
	case SYS_ppoll:
		return syscall(nr, a[0], a[1], (long)&zero_ts, a[3], a[4]);
	case SYS_select:
		return syscall(nr, a[0], a[1], a[2], a[3], (long)&(struct { long s, u; }){0, 0});
	case SYS_pselect6:
		return syscall(nr, a[0], a[1], a[2], a[3], (long)&zero_ts, 0L);
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
		return syscall(nr, a[0], a[1], a[2], 0L, 0L, 0L);
	case 441: /* epoll_pwait2 */
		return syscall(nr, a[0], a[1], a[2], (long)&zero_ts, 0L, 0L);
	case SYS_rt_sigtimedwait:
		return syscall(nr, a[0], a[1], (long)&zero_ts, 8L);
	case SYS_wait4:
	case SYS_waitid: /* no children: ECHILD, but never wait */
		return syscall(nr, -1L, a[1], 1L /* WNOHANG */, a[3], a[4]);
	case SYS_read:
	case SYS_readv:
	case SYS_pread64:
	case SYS_preadv:
	case SYS_preadv2:
		/* nothing blocks: stdin is closed and pipes are closed after each call */
		break;
	case SYS_rt_sigaction: /* a handler at a garbage address would run at the next signal */
		if (a[1] && (rnd() & 1))
			return syscall(nr, a[0], 0L, a[2], 8L);
		break;
	}
	return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int main(void)
{
	const char msg[] = "survived\n";

	scratch = mmap(NULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED || dup2(1, OUT_FD) != OUT_FD)
		return 2;
	close(0);
	close(1);
	close(2);
	for (int round = 0; round < ROUNDS; round++) {
		for (long nr = 0; nr <= NR_LAST; nr++) {
			long r;

			for (size_t i = 0; i < 8192; i += 8) {
				uint64_t v = rnd();

				memcpy(wbuf + i, &v, 8);
			}
			r = fuzz_one(nr);
			/* what it opened, and the lowest descriptors, go again */
			if (r >= 16 && r < OUT_FD)
				syscall(SYS_close, r);
			for (long fd = 0; fd < 16; fd++)
				syscall(SYS_close, fd);
		}
	}
	if (write(OUT_FD, msg, sizeof(msg) - 1) != (ssize_t)sizeof(msg) - 1)
		return 3;
	return 0;
}
