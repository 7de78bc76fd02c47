/*
 * lx_sys.c: a Linux program's process-wide calls: exit, thread-local
 * storage, the identity it sees (ids, names, limits, the machine), random
 * bytes, scheduling and prctl. Clocks, sleeps, futexes and CPU time are in
 * lx_time.c.
 *
 * The identity is fixed and documented here: the program is the only
 * process in its VM, so it is pid 1, thread 1, process group 1 and session
 * 1, with no parent (ppid 0), on one CPU. Its user and group ids are the
 * host's real ones, as AT_UID says (lx_exec.c) and as stat reports file
 * owners, and it cannot change them.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <asm/prctl.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/vm.h"
#include "load/image.h"
#include "mvmm_abi.h"

#define LX_PID		1 /* the guest's pid, tid, process group and session */
#define LX_RLIM_INF	(~0ull)
#define LX_RANDOM_MAX	(32ull << 20) /* bytes one getrandom call gives at most */
#define LX_GRND_FLAGS	(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)
#define LX_ROBUST_LEN	24 /* sizeof(struct robust_list_head) on x86-64 */
#define LX_CPUMASK_SIZE 8  /* one CPU: the kernel's cpumask is one long */

/* The kernel's utsname and sysinfo for x86-64 are the host's (mvmm runs on x86-64 Linux). */
_Static_assert(sizeof(struct utsname) == 6 * 65, "struct new_utsname");
_Static_assert(sizeof(struct sysinfo) == 112, "struct sysinfo");
_Static_assert(sizeof(struct rlimit) == 16, "struct rlimit64");

/*
 * The host's ids, read when mvmm starts: a vCPU thread's seccomp list
 * (core/confine.c) has no getuid, and the ids of mvmm never change.
 */
static uint32_t lx_ruid, lx_euid, lx_rgid, lx_egid;

__attribute__((constructor)) static void lx_ids_init(void)
{
	lx_ruid = getuid();
	lx_euid = geteuid();
	lx_rgid = getgid();
	lx_egid = getegid();
}

LX_HANDLER(exit)
{
	c->vm->res->end = VM_END_EXIT;
	c->vm->res->status = (int)(c->a[0] & 0xff);
	return LX_STOP;
}

LX_HANDLER(exit_group)
{
	return lx_sys_exit(c);
}

/* ARCH_SET_FS / ARCH_GET_FS (thread-local storage) and the GS pair, through the segments. */
LX_HANDLER(arch_prctl)
{
	struct kvm_sregs s;
	int code = (int)c->a[0];

	if (code != ARCH_SET_FS && code != ARCH_GET_FS && code != ARCH_SET_GS &&
	    code != ARCH_GET_GS)
		return -EINVAL;
	if (ioctl(c->vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -EIO;
	switch (code) {
	case ARCH_GET_FS:
		return lx_put(c, c->a[1], &s.fs.base, sizeof(s.fs.base));
	case ARCH_GET_GS:
		return lx_put(c, c->a[1], &s.gs.base, sizeof(s.gs.base));
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (c->a[1] >> 47)
			return -EPERM; /* not a canonical user address */
		if (code == ARCH_SET_FS)
			s.fs.base = c->a[1];
		else
			s.gs.base = c->a[1];
		return ioctl(c->vm->vcpu_fd, KVM_SET_SREGS, &s) < 0 ? -EIO : 0;
	}
	return -EINVAL;
}

/* ---- threads: there is one, so these only remember ---- */

LX_HANDLER(set_tid_address)
{
	c->p->tid_address = c->a[0];
	return LX_PID;
}

LX_HANDLER(set_robust_list)
{
	if (c->a[1] != LX_ROBUST_LEN)
		return -EINVAL;
	c->p->robust_list = c->a[0];
	c->p->robust_len = c->a[1];
	return 0;
}

/* Whether a pid argument names the guest: 0 (itself) or its pid. */
static int lx_is_self(uint64_t arg)
{
	int pid = (int)arg;

	return pid == 0 || pid == LX_PID;
}

LX_HANDLER(get_robust_list)
{
	uint64_t len = c->p->robust_len;

	if (!lx_is_self(c->a[0]))
		return -ESRCH;
	if (lx_put(c, c->a[1], &c->p->robust_list, sizeof(c->p->robust_list)) < 0 ||
	    lx_put(c, c->a[2], &len, sizeof(len)) < 0)
		return -EFAULT;
	return 0;
}

/* As a kernel built without restartable sequences answers: glibc then does without. */
LX_HANDLER(rseq)
{
	(void)c;
	return -ENOSYS;
}

/* ---- resource limits ---- */

/*
 * What the guest really has: its stack, its descriptor table, its memory.
 * No core file is ever written (RLIMIT_CORE soft 0) and no real-time or
 * nice priority can be had (RTPRIO, NICE 0), as for an unprivileged user;
 * the rest is unlimited. Lowered limits are remembered and reported, not
 * enforced.
 */
static struct lx_rlimit *lx_rlimits(struct lx_call *c)
{
	struct lx_proc *p = c->p;

	if (p->rlim_set)
		return p->rlim;
	for (int i = 0; i < LX_RLIM_NLIMITS; i++)
		p->rlim[i] = (struct lx_rlimit){LX_RLIM_INF, LX_RLIM_INF};
	p->rlim[RLIMIT_STACK] = (struct lx_rlimit){MVMM_STACK_SIZE, MVMM_STACK_SIZE};
	p->rlim[RLIMIT_NOFILE] = (struct lx_rlimit){LX_FD_LIMIT, LX_FD_LIMIT};
	p->rlim[RLIMIT_AS] = (struct lx_rlimit){c->vm->mem.size, c->vm->mem.size};
	p->rlim[RLIMIT_DATA] = p->rlim[RLIMIT_AS];
	p->rlim[RLIMIT_CORE].cur = 0;
	p->rlim[RLIMIT_RTPRIO] = (struct lx_rlimit){0, 0};
	p->rlim[RLIMIT_NICE] = (struct lx_rlimit){0, 0};
	p->rlim_set = 1;
	return p->rlim;
}

_Static_assert(RLIMIT_NLIMITS == LX_RLIM_NLIMITS, "the kernel's count of resource limits");

/* An unprivileged process may lower its limits and move a soft one up to the hard one. */
static int64_t lx_rlimit_check(const struct lx_rlimit *old, const struct lx_rlimit *new)
{
	if (new->cur > new->max)
		return -EINVAL;
	if (new->max > old->max)
		return -EPERM;
	return 0;
}

LX_HANDLER(prlimit64)
{
	uint64_t res = c->a[1] & 0xffffffffu;
	struct lx_rlimit new, *lim;
	int64_t r;

	if (!lx_is_self(c->a[0]))
		return -ESRCH;
	if (res >= LX_RLIM_NLIMITS)
		return -EINVAL;
	if (c->a[2] && lx_get(c, c->a[2], &new, sizeof(new)) < 0)
		return -EFAULT;
	if (c->a[3] && !lx_uptr(c, c->a[3], sizeof(new), 1))
		return -EFAULT;
	lim = &lx_rlimits(c)[res];
	if (c->a[2] && (r = lx_rlimit_check(lim, &new)) < 0)
		return r;
	if (c->a[3] && lx_put(c, c->a[3], lim, sizeof(*lim)) < 0)
		return -EFAULT;
	if (c->a[2])
		*lim = new;
	return 0;
}

LX_HANDLER(getrlimit)
{
	uint64_t res = c->a[0] & 0xffffffffu;

	if (res >= LX_RLIM_NLIMITS)
		return -EINVAL;
	return lx_put(c, c->a[1], &lx_rlimits(c)[res], sizeof(struct lx_rlimit));
}

LX_HANDLER(setrlimit)
{
	uint64_t res = c->a[0] & 0xffffffffu;
	struct lx_rlimit new, *lim;
	int64_t r;

	if (res >= LX_RLIM_NLIMITS)
		return -EINVAL;
	if (lx_get(c, c->a[1], &new, sizeof(new)) < 0)
		return -EFAULT;
	lim = &lx_rlimits(c)[res];
	if ((r = lx_rlimit_check(lim, &new)) < 0)
		return r;
	*lim = new;
	return 0;
}

/* ---- random bytes, the machine ---- */

/* Whether a host call that got EINTR gives up: the deadline passed or the host stops the VM. */
static int lx_interrupted(struct vm *vm)
{
	return vm_deadline_passed(vm) || __atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST);
}

/* The host's pool, straight into guest memory; it is ready (mvmm used it at exec): no blocking. */
LX_HANDLER(getrandom)
{
	uint64_t len = c->a[1], flags = c->a[2], done = 0;
	uint8_t *buf;

	if (flags & ~(uint64_t)LX_GRND_FLAGS)
		return -EINVAL;
	if ((flags & (GRND_INSECURE | GRND_RANDOM)) == (GRND_INSECURE | GRND_RANDOM))
		return -EINVAL;
	if (len > LX_RANDOM_MAX)
		len = LX_RANDOM_MAX;
	if (!len)
		return 0;
	buf = lx_uptr(c, c->a[0], len, 1);
	if (!buf)
		return -EFAULT;
	while (done < len) {
		ssize_t n = getrandom(buf + done, len - done, GRND_NONBLOCK);

		if (n < 0 && errno == EINTR && !lx_interrupted(c->vm))
			continue;
		if (n < 0)
			return done ? (int64_t)done : -errno;
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

/*
 * The machine a program sees, fixed so that runs are alike on every host:
 * Linux 6.1 ("6.1.0-mvmm", what glibc and musl check their features
 * against), host name "mvmm", x86_64, no NIS domain.
 */
LX_HANDLER(uname)
{
	struct utsname u;

	memset(&u, 0, sizeof(u));
	strcpy(u.sysname, "Linux");
	strcpy(u.nodename, "mvmm");
	strcpy(u.release, "6.1.0-mvmm");
	strcpy(u.version, "#1 mvmm");
	strcpy(u.machine, "x86_64");
	strcpy(u.domainname, "(none)");
	return lx_put(c, c->a[0], &u, sizeof(u));
}

/* Bytes of guest memory in use: below the break (system area, program, heap), mappings, stack. */
static uint64_t lx_mem_used(const struct lx_proc *p)
{
	uint64_t used = ((p->brk + 4095) & ~4095ull) + MVMM_STACK_SIZE + MVMM_PAGE_SIZE;

	for (size_t i = 0; i < p->nvmas; i++)
		used += p->vmas[i].end - p->vmas[i].start;
	return used;
}

LX_HANDLER(sysinfo)
{
	uint64_t total = c->vm->mem.size, used = lx_mem_used(c->p);
	struct sysinfo si;
	struct timespec up;

	memset(&si, 0, sizeof(si));
	clock_gettime(CLOCK_BOOTTIME, &up);
	si.uptime = up.tv_sec;
	si.totalram = total;
	si.freeram = used < total ? total - used : 0;
	si.procs = 1;
	si.mem_unit = 1;
	return lx_put(c, c->a[0], &si, sizeof(si));
}

/* ---- ids: the host's, unchangeable ---- */

LX_HANDLER(getpid)
{
	(void)c;
	return LX_PID;
}

LX_HANDLER(gettid)
{
	(void)c;
	return LX_PID;
}

LX_HANDLER(getppid)
{
	(void)c;
	return 0; /* no parent in the VM, as for a process started by the kernel */
}

LX_HANDLER(getuid)
{
	(void)c;
	return lx_ruid;
}

LX_HANDLER(geteuid)
{
	(void)c;
	return lx_euid;
}

LX_HANDLER(getgid)
{
	(void)c;
	return lx_rgid;
}

LX_HANDLER(getegid)
{
	(void)c;
	return lx_egid;
}

/* No supplementary groups: the guest belongs to its gid alone. */
LX_HANDLER(getgroups)
{
	if ((int)c->a[0] < 0)
		return -EINVAL;
	return 0;
}

LX_HANDLER(getpgrp)
{
	(void)c;
	return LX_PID;
}

LX_HANDLER(getpgid)
{
	return lx_is_self(c->a[0]) ? LX_PID : -ESRCH;
}

LX_HANDLER(getsid)
{
	return lx_is_self(c->a[0]) ? LX_PID : -ESRCH;
}

/* Its own group is the only one there is: joining it changes nothing. */
LX_HANDLER(setpgid)
{
	int pgid = (int)c->a[1];

	if (!lx_is_self(c->a[0]))
		return -ESRCH;
	if (pgid < 0)
		return -EINVAL;
	return pgid == 0 || pgid == LX_PID ? 0 : -EPERM;
}

/* It already leads its session and group, which Linux refuses to make anew. */
LX_HANDLER(setsid)
{
	(void)c;
	return -EPERM;
}

/*
 * The set*id calls succeed when they change nothing (busybox sets its own
 * ids again), else EPERM: the ids are the host's and stay so. -1 (as
 * uid_t) leaves an id as it is.
 */
static int lx_id_same(uint64_t arg, uint32_t cur)
{
	uint32_t id = (uint32_t)arg;

	return id == (uint32_t)-1 || id == cur;
}

LX_HANDLER(setuid)
{
	if ((uint32_t)c->a[0] == (uint32_t)-1)
		return -EINVAL;
	return lx_id_same(c->a[0], lx_ruid) && lx_id_same(c->a[0], lx_euid) ? 0 : -EPERM;
}

LX_HANDLER(setgid)
{
	if ((uint32_t)c->a[0] == (uint32_t)-1)
		return -EINVAL;
	return lx_id_same(c->a[0], lx_rgid) && lx_id_same(c->a[0], lx_egid) ? 0 : -EPERM;
}

LX_HANDLER(setreuid)
{
	return lx_id_same(c->a[0], lx_ruid) && lx_id_same(c->a[1], lx_euid) ? 0 : -EPERM;
}

LX_HANDLER(setregid)
{
	return lx_id_same(c->a[0], lx_rgid) && lx_id_same(c->a[1], lx_egid) ? 0 : -EPERM;
}

/* The saved set-user-id is the effective one, as after an exec of a file without set-id bits. */
LX_HANDLER(setresuid)
{
	return lx_id_same(c->a[0], lx_ruid) && lx_id_same(c->a[1], lx_euid) &&
			       lx_id_same(c->a[2], lx_euid)
		       ? 0
		       : -EPERM;
}

LX_HANDLER(setresgid)
{
	return lx_id_same(c->a[0], lx_rgid) && lx_id_same(c->a[1], lx_egid) &&
			       lx_id_same(c->a[2], lx_egid)
		       ? 0
		       : -EPERM;
}

static int64_t lx_put_ids(struct lx_call *c, uint32_t r, uint32_t e, uint32_t s)
{
	if (lx_put(c, c->a[0], &r, sizeof(r)) < 0 || lx_put(c, c->a[1], &e, sizeof(e)) < 0 ||
	    lx_put(c, c->a[2], &s, sizeof(s)) < 0)
		return -EFAULT;
	return 0;
}

LX_HANDLER(getresuid)
{
	return lx_put_ids(c, lx_ruid, lx_euid, lx_euid);
}

LX_HANDLER(getresgid)
{
	return lx_put_ids(c, lx_rgid, lx_egid, lx_egid);
}

/* ---- scheduling: one CPU, the normal policy ---- */

LX_HANDLER(sched_yield)
{
	(void)c;
	return 0;
}

/* As the kernel: len covers the CPUs and is whole longs; the result is the mask's size (8). */
LX_HANDLER(sched_getaffinity)
{
	uint64_t len = c->a[1], mask = 1;

	if (len == 0 || len % sizeof(long))
		return -EINVAL;
	if (!lx_is_self(c->a[0]))
		return -ESRCH;
	if (lx_put(c, c->a[2], &mask, sizeof(mask)) < 0)
		return -EFAULT;
	return LX_CPUMASK_SIZE;
}

/* Any mask that includes CPU 0 is accepted; one without it names no CPU the guest has. */
LX_HANDLER(sched_setaffinity)
{
	uint64_t len = c->a[1], mask = 0;

	if (!lx_is_self(c->a[0]))
		return -ESRCH;
	if (len > LX_CPUMASK_SIZE)
		len = LX_CPUMASK_SIZE;
	if (len && lx_get(c, c->a[2], &mask, len) < 0)
		return -EFAULT;
	return mask & 1 ? 0 : -EINVAL;
}

LX_HANDLER(sched_getscheduler)
{
	if ((int)c->a[0] < 0)
		return -EINVAL;
	return lx_is_self(c->a[0]) ? SCHED_OTHER : -ESRCH;
}

LX_HANDLER(sched_getparam)
{
	int prio = 0;

	if ((int)c->a[0] < 0 || !c->a[1])
		return -EINVAL;
	if (!lx_is_self(c->a[0]))
		return -ESRCH;
	return lx_put(c, c->a[1], &prio, sizeof(prio));
}

static int64_t lx_priority_range(uint64_t policy, int max)
{
	switch ((int)policy) {
	case SCHED_FIFO:
	case SCHED_RR:
		return max ? 99 : 1;
	case SCHED_OTHER:
	case SCHED_BATCH:
	case SCHED_IDLE:
	case 6: /* SCHED_DEADLINE */
		return 0;
	default:
		return -EINVAL;
	}
}

LX_HANDLER(sched_get_priority_max)
{
	return lx_priority_range(c->a[0], 1);
}

LX_HANDLER(sched_get_priority_min)
{
	return lx_priority_range(c->a[0], 0);
}

/* ---- prctl: the name, dumpability ---- */

/* The name until the program sets one: its file's, at most 15 bytes, as exec sets comm. */
static void lx_comm(struct lx_call *c, char comm[16])
{
	const char *name = c->vm->img && c->vm->img->name ? c->vm->img->name : "",
		   *slash = strrchr(name, '/');

	memset(comm, 0, 16);
	if (c->p->comm[15])
		memcpy(comm, c->p->comm, 15);
	else
		strncpy(comm, slash ? slash + 1 : name, 15);
}

/* PR_SET_NAME: up to 15 bytes or the NUL, byte by byte (the string may end at a page's end). */
static int64_t lx_set_comm(struct lx_call *c, uint64_t gva)
{
	char comm[16] = {0};

	for (int i = 0; i < 15; i++) {
		if (lx_get(c, gva + (uint64_t)i, &comm[i], 1) < 0)
			return -EFAULT;
		if (!comm[i])
			break;
	}
	comm[15] = 1; /* named (even if empty) */
	memcpy(c->p->comm, comm, sizeof(comm));
	return 0;
}

LX_HANDLER(prctl)
{
	char comm[16];

	switch ((int)c->a[0]) {
	case PR_SET_NAME:
		return lx_set_comm(c, c->a[1]);
	case PR_GET_NAME:
		lx_comm(c, comm);
		return lx_put(c, c->a[1], comm, sizeof(comm));
	case PR_GET_DUMPABLE:
		return !c->p->undumpable;
	case PR_SET_DUMPABLE:
		if (c->a[1] > 1)
			return -EINVAL;
		c->p->undumpable = !c->a[1];
		return 0;
	default:
		return -EINVAL;
	}
}
