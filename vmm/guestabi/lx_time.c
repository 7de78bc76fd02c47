/*
 * lx_time.c: a Linux program's clocks, sleeps, futexes and CPU time.
 *
 * Clocks are the host's. A sleep really sleeps on the host, in slices,
 * bounded by the VM's deadline (the run ends as timed out) and by a stop
 * from the host; while it sleeps the guest counts as paused (vm_block_*),
 * so page merging need not wait for it. CPU time is the vCPU thread's on
 * the host, which includes the time the guest ran.
 *
 * The guest has one thread: a futex wake finds no waiter, and a futex wait
 * without a timeout could never be woken, so it ends the run as a guest
 * error instead of hanging.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>

#include "core/exit.h"
#include "core/vm.h"

#define NS		  1000000000ull
#define LX_SLEEP_SLICE_NS (50ull * 1000 * 1000) /* a stop from the host is seen this soon */
#define LX_CLK_TCK	  100			/* USER_HZ, as AT_CLKTCK says (lx_exec.c) */
#define LX_CLOCK_INVALID  (-1)
#define LX_CLOCK_NO_SLEEP (-2)
#define LX_TIMER_ABSTIME  1

/* The kernel's structs on x86-64 are the host's (mvmm runs on x86-64 Linux). */
_Static_assert(sizeof(struct timespec) == 16, "struct __kernel_timespec");
_Static_assert(sizeof(struct timeval) == 16, "struct __kernel_old_timeval");
_Static_assert(sizeof(struct rusage) == 144, "struct rusage");
_Static_assert(sizeof(struct tms) == 32, "struct tms");

/* Coarse clocks tick at the host's rate: read at start, since a vCPU thread may not ask later. */
static struct timespec lx_coarse_res = {0, 4000000};

__attribute__((constructor)) static void lx_time_init(void)
{
	clock_getres(CLOCK_MONOTONIC_COARSE, &lx_coarse_res);
}

/*
 * The host clock behind a guest clock id, or LX_CLOCK_INVALID. CPU-time
 * clocks, the process's and the thread's (the same: one thread), and the
 * dynamic ones glibc makes for pid 0 or 1 (clock_getcpuclockid), are the
 * vCPU thread's.
 */
static clockid_t lx_clock(int id)
{
	switch (id) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
		return id;
	case CLOCK_REALTIME_ALARM:
		return CLOCK_REALTIME;
	case CLOCK_BOOTTIME_ALARM:
		return CLOCK_BOOTTIME;
	case CLOCK_PROCESS_CPUTIME_ID:
	case CLOCK_THREAD_CPUTIME_ID:
		return CLOCK_THREAD_CPUTIME_ID;
	}
	if (id < 0 && (id & 7) != 7) {
		/* The kernel's CPUCLOCK_PID: ~(id >> 3), an arithmetic shift (GCC's, as the
		 * kernel's). */
		int pid = ~(id >> 3);

		if (pid == 0 || pid == 1)
			return CLOCK_THREAD_CPUTIME_ID;
	}
	return LX_CLOCK_INVALID;
}

static uint64_t lx_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int lx_timespec_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < (long)NS;
}

/* A timespec in nanoseconds, saturated (a sleep of centuries is a sleep until the deadline). */
static uint64_t lx_ts_ns(const struct timespec *ts)
{
	if ((uint64_t)ts->tv_sec >= UINT64_MAX / NS - 1)
		return UINT64_MAX;
	return (uint64_t)ts->tv_sec * NS + (uint64_t)ts->tv_nsec;
}

static uint64_t lx_add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * Sleeps until host clock clk reads target: 0, or LX_STOP when the VM's
 * deadline passed (timed out) or the host stopped it first. In slices, so
 * a stop whose signal came just before a slice began is seen soon anyway.
 */
static int64_t lx_sleep_until(struct lx_call *c, clockid_t clk, uint64_t target)
{
	struct vm *vm = c->vm;
	int timed_out = 0, stopped = 0;

	vm_block_begin(vm);
	for (;;) {
		uint64_t now = lx_ns(clk), mono = vm_now_ns(), step;
		struct timespec ts;

		if (now >= target)
			break;
		if (vm->deadline_ns && mono >= vm->deadline_ns) {
			timed_out = 1;
			break;
		}
		if (__atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST)) {
			stopped = 1;
			break;
		}
		step = target - now;
		if (step > LX_SLEEP_SLICE_NS)
			step = LX_SLEEP_SLICE_NS;
		if (vm->deadline_ns && vm->deadline_ns - mono < step)
			step = vm->deadline_ns - mono;
		ts.tv_sec = (time_t)(step / NS);
		ts.tv_nsec = (long)(step % NS);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL); /* EINTR: the kick; checked above */
	}
	vm_block_end(vm);
	if (timed_out) {
		vm->res->end = VM_END_TIMEOUT;
		return LX_STOP;
	}
	if (stopped) {
		exit_host_error(vm, "stopped by the host");
		return LX_STOP;
	}
	return 0;
}

int64_t lx_sleep_ns(struct lx_call *c, uint64_t ns)
{
	return lx_sleep_until(c, CLOCK_MONOTONIC, lx_add_sat(lx_ns(CLOCK_MONOTONIC), ns));
}

/* ---- clocks ---- */

LX_HANDLER(clock_gettime)
{
	clockid_t clk = lx_clock((int)c->a[0]);
	struct timespec ts;

	if (clk == LX_CLOCK_INVALID)
		return -EINVAL;
	clock_gettime(clk, &ts);
	return lx_put(c, c->a[1], &ts, sizeof(ts));
}

LX_HANDLER(clock_getres)
{
	clockid_t clk = lx_clock((int)c->a[0]);
	struct timespec res = {0, 1}; /* high-resolution timers, and CPU time */

	if (clk == LX_CLOCK_INVALID)
		return -EINVAL;
	if (clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE)
		res = lx_coarse_res;
	return c->a[1] ? lx_put(c, c->a[1], &res, sizeof(res)) : 0;
}

/* The time zone is UTC, as the kernel's own is unless someone set it. */
LX_HANDLER(gettimeofday)
{
	struct timespec ts;
	struct timeval tv;
	struct timezone tz = {0, 0};

	if (c->a[0]) {
		clock_gettime(CLOCK_REALTIME, &ts);
		tv.tv_sec = ts.tv_sec;
		tv.tv_usec = ts.tv_nsec / 1000;
		if (lx_put(c, c->a[0], &tv, sizeof(tv)) < 0)
			return -EFAULT;
	}
	if (c->a[1] && lx_put(c, c->a[1], &tz, sizeof(tz)) < 0)
		return -EFAULT;
	return 0;
}

LX_HANDLER(time)
{
	int64_t t = (int64_t)(lx_ns(CLOCK_REALTIME) / NS);

	if (c->a[0] && lx_put(c, c->a[0], &t, sizeof(t)) < 0)
		return -EFAULT;
	return t;
}

/* ---- sleeps ---- */

LX_HANDLER(nanosleep)
{
	struct timespec ts;

	if (lx_get(c, c->a[0], &ts, sizeof(ts)) < 0)
		return -EFAULT;
	if (!lx_timespec_valid(&ts))
		return -EINVAL;
	return lx_sleep_ns(c, lx_ts_ns(&ts));
}

/* The clocks one can sleep on, as Linux: no raw or coarse ones (EOPNOTSUPP), no CPU time. */
static clockid_t lx_sleep_clock(int id)
{
	switch (id) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
		return id;
	case CLOCK_REALTIME_ALARM:
		return CLOCK_REALTIME;
	case CLOCK_BOOTTIME_ALARM:
		return CLOCK_BOOTTIME;
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
		return LX_CLOCK_NO_SLEEP;
	}
	/*
	 * CPU-time clocks: the thread's own is EINVAL in Linux; the process's
	 * would never advance while its only thread sleeps, so EINVAL too.
	 */
	return LX_CLOCK_INVALID;
}

LX_HANDLER(clock_nanosleep)
{
	clockid_t clk = lx_sleep_clock((int)c->a[0]);
	struct timespec ts;
	uint64_t target;

	if (clk == LX_CLOCK_NO_SLEEP)
		return -EOPNOTSUPP;
	if (clk == LX_CLOCK_INVALID)
		return -EINVAL;
	if (lx_get(c, c->a[2], &ts, sizeof(ts)) < 0)
		return -EFAULT;
	if (!lx_timespec_valid(&ts))
		return -EINVAL;
	target = lx_ts_ns(&ts);
	if (!(c->a[1] & LX_TIMER_ABSTIME))
		target = lx_add_sat(lx_ns(clk), target);
	return lx_sleep_until(c, clk, target);
}

/* ---- futex: one thread ---- */

static int64_t lx_futex_wait(struct lx_call *c, int cmd, int realtime)
{
	uint64_t uaddr = c->a[0], target = 0;
	uint32_t val = (uint32_t)c->a[2], cur;
	clockid_t clk = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	struct timespec ts;
	int64_t r;

	if (uaddr & 3)
		return -EINVAL;
	if (cmd == FUTEX_WAIT_BITSET && (uint32_t)c->a[5] == 0)
		return -EINVAL;
	if (c->a[3]) {
		if (lx_get(c, c->a[3], &ts, sizeof(ts)) < 0)
			return -EFAULT;
		if (!lx_timespec_valid(&ts))
			return -EINVAL;
		/* FUTEX_WAIT's timeout is relative, FUTEX_WAIT_BITSET's absolute. */
		target = lx_ts_ns(&ts);
		if (cmd == FUTEX_WAIT)
			target = lx_add_sat(lx_ns(clk), target);
	}
	if (lx_get(c, uaddr, &cur, sizeof(cur)) < 0)
		return -EFAULT;
	if (cur != val)
		return -EAGAIN;
	if (!c->a[3]) {
		exit_guest_error(c->vm,
				 "futex wait that nothing can wake (the guest has one thread)");
		return LX_STOP;
	}
	r = lx_sleep_until(c, clk, target);
	return r == LX_STOP ? r : -ETIMEDOUT;
}

LX_HANDLER(futex)
{
	int op = (int)c->a[1], cmd = op & FUTEX_CMD_MASK, realtime = op & FUTEX_CLOCK_REALTIME;

	if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET)
		return -ENOSYS;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		return lx_futex_wait(c, cmd, realtime);
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		if (c->a[0] & 3)
			return -EINVAL;
		if (cmd == FUTEX_WAKE_BITSET && (uint32_t)c->a[5] == 0)
			return -EINVAL;
		if (!lx_uptr(c, c->a[0], sizeof(uint32_t), 0))
			return -EFAULT;
		return 0; /* no other thread waits */
	default:
		return -ENOSYS;
	}
}

/* ---- CPU time: the vCPU thread's ---- */

static void lx_cpu_times(struct timeval *user, struct timeval *sys)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) < 0) {
		*user = *sys = (struct timeval){0, 0};
		return;
	}
	*user = ru.ru_utime;
	*sys = ru.ru_stime;
}

/* Only the times: memory and I/O counts of the host thread would not be the guest's. */
LX_HANDLER(getrusage)
{
	int who = (int)c->a[0];
	struct rusage ru;

	if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD)
		return -EINVAL;
	memset(&ru, 0, sizeof(ru));
	if (who != RUSAGE_CHILDREN) /* no children: they stay zero */
		lx_cpu_times(&ru.ru_utime, &ru.ru_stime);
	return lx_put(c, c->a[1], &ru, sizeof(ru));
}

static int64_t lx_ticks(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * LX_CLK_TCK + tv->tv_usec / (1000000 / LX_CLK_TCK);
}

/* Clock ticks since boot (the kernel's count starts at an arbitrary point too). */
LX_HANDLER(times)
{
	struct timeval user, sys;
	struct tms t;

	if (c->a[0]) {
		lx_cpu_times(&user, &sys);
		t = (struct tms){lx_ticks(&user), lx_ticks(&sys), 0, 0};
		if (lx_put(c, c->a[0], &t, sizeof(t)) < 0)
			return -EFAULT;
	}
	return (int64_t)(lx_ns(CLOCK_BOOTTIME) / (NS / LX_CLK_TCK));
}
