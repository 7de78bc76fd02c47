/*
 * exit_floor: the raw-KVM cost of one guest exit, for bench/linux.sh.
 *
 *   exit_floor [-s] [N]      (N timed exits, default 20000)
 *
 * A minimal guest in long mode at CPL3 loops N times (plus WARMUP untimed
 * rounds first) and leaves with one last `out` to EXIT_PORT:
 *   default: `out %al,$LOOP_PORT` (RFLAGS.IOPL=3, no TSS); the host answers
 *            each exit with KVM_RUN only: the floor of one exit round trip.
 *   -s:      `mov $39,%eax; syscall`, LSTAR pointing at a page holding
 *            `out %al,$LOOP_PORT`, as mvmm runs a Linux program; the host
 *            answers like a VMM's sysret (RIP = RCX, RFLAGS = R11, RAX set)
 *            through kvm_run's synced registers (KVM_CAP_SYNC_REGS), no ioctl
 *            besides KVM_RUN.  This is the floor of mvmm's own design.
 * The host times its KVM_RUN loop with CLOCK_MONOTONIC from the end of the
 * warm-up to the final exit and prints one line:
 *   exit_floor mode=out|syscall n=N ns_per_exit=X
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum {
	GUEST_MEM = 4 << 20,
	PML4_GPA = 0x1000, /* PML4, then PDPT and PD in the next pages */
	CODE_GPA = 0x4000,
	LSTAR_GPA = 0x5000,
	STACK_TOP = 0x8000,
	LOOP_PORT = 0xf5,
	EXIT_PORT = 0xf4,
	WARMUP = 2000,
};

#define PTE_P  (1ULL << 0)
#define PTE_W  (1ULL << 1)
#define PTE_U  (1ULL << 2)
#define PTE_A  (1ULL << 5)
#define PTE_D  (1ULL << 6)
#define PTE_PS (1ULL << 7)

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_ET		(1ULL << 4)
#define CR0_NE		(1ULL << 5)
#define CR0_WP		(1ULL << 16)
#define CR0_AM		(1ULL << 18)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define EFER_SCE	(1ULL << 0)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define RFLAGS_RESERVED (1ULL << 1)
#define RFLAGS_IOPL3	(3ULL << 12)

#define MSR_STAR  0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u

#define SEL_KCODE 0x08
#define SEL_UCODE ((1 << 3) | 3)
#define SEL_UDATA ((2 << 3) | 3)

static void fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	fputs("exit_floor: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		errno = 0;                                                                         \
		if (!(cond))                                                                       \
			fail(__VA_ARGS__);                                                         \
	} while (0)

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Page tables (one user 2 MiB page at GPA 0) and the code, in guest memory. */
static void build_image(uint8_t *mem, int sys)
{
	const uint64_t table = PTE_P | PTE_W | PTE_U | PTE_A;
	uint64_t *pml4 = (uint64_t *)(mem + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(mem + PML4_GPA + 0x1000);
	uint64_t *pd = (uint64_t *)(mem + PML4_GPA + 0x2000);
	/* out %al,$LOOP; dec %rcx; jnz .-7; out %al,$EXIT */
	static const uint8_t out_loop[] = {
		0xe6, LOOP_PORT, 0x48, 0xff, 0xc9, 0x75, 0xf9, 0xe6, EXIT_PORT,
	};
	/* mov $39,%eax; syscall; dec %r12; jnz .-12; out %al,$EXIT */
	static const uint8_t sys_loop[] = {
		0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x49, 0xff, 0xcc, 0x75, 0xf4, 0xe6, EXIT_PORT,
	};
	/* out %al,$LOOP; ud2 (the host resumes at RCX) */
	static const uint8_t entry[] = {0xe6, LOOP_PORT, 0x0f, 0x0b};

	pml4[0] = (PML4_GPA + 0x1000) | table;
	pdpt[0] = (PML4_GPA + 0x2000) | table;
	pd[0] = 0 | table | PTE_D | PTE_PS;
	if (sys) {
		memcpy(mem + CODE_GPA, sys_loop, sizeof(sys_loop));
		memcpy(mem + LSTAR_GPA, entry, sizeof(entry));
	} else {
		memcpy(mem + CODE_GPA, out_loop, sizeof(out_loop));
	}
}

static void enter_long_mode_cpl3(int vcpu, int sys, uint64_t count)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	CHECK(ioctl(vcpu, KVM_GET_SREGS, &s) == 0, "KVM_GET_SREGS");
	struct kvm_segment cs = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = SEL_UCODE,
		.type = 0xb,
		.present = 1,
		.dpl = 3,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment ds = cs;

	ds.selector = SEL_UDATA;
	ds.type = 0x3;
	ds.l = 0;
	ds.db = 1;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s.cr3 = PML4_GPA;
	s.cr4 = CR4_PAE;
	s.efer = EFER_LME | EFER_LMA | (sys ? EFER_SCE : 0);
	CHECK(ioctl(vcpu, KVM_SET_SREGS, &s) == 0, "KVM_SET_SREGS");

	if (sys) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e[3];
		} m;

		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = 3;
		m.e[0].index = MSR_LSTAR;
		m.e[0].data = LSTAR_GPA;
		m.e[1].index = MSR_STAR;
		m.e[1].data = ((uint64_t)(SEL_UDATA - 8) << 48) | ((uint64_t)SEL_KCODE << 32);
		m.e[2].index = MSR_FMASK;
		m.e[2].data = 0x700; /* TF IF DF */
		CHECK(ioctl(vcpu, KVM_SET_MSRS, &m) == 3, "KVM_SET_MSRS");
	}

	memset(&r, 0, sizeof(r));
	r.rip = CODE_GPA;
	r.rsp = STACK_TOP;
	r.rflags = RFLAGS_RESERVED | RFLAGS_IOPL3;
	if (sys)
		r.r12 = count;
	else
		r.rcx = count;
	CHECK(ioctl(vcpu, KVM_SET_REGS, &r) == 0, "KVM_SET_REGS");
}

static void usage(void)
{
	fputs("usage: exit_floor [-s] [N]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	int sys = 0, i = 1;
	long n = 20000;
	char *end;

	if (i < argc && strcmp(argv[i], "-s") == 0) {
		sys = 1;
		i++;
	}
	if (i < argc) {
		errno = 0;
		n = strtol(argv[i++], &end, 10);
		if (errno || *end || n < 1 || n > 100000000)
			usage();
	}
	if (i != argc)
		usage();

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	CHECK(kvm >= 0, "open /dev/kvm");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	CHECK(run_size >= (int)sizeof(struct kvm_run), "KVM_GET_VCPU_MMAP_SIZE");
	if (sys)
		CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS,
		      "KVM_CAP_SYNC_REGS lacks KVM_SYNC_X86_REGS");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	CHECK(vm >= 0, "KVM_CREATE_VM");

	uint8_t *mem =
		mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED, "mmap guest memory");
	build_image(mem, sys);
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM,
		.userspace_addr = (uintptr_t)mem,
	};
	CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) == 0, "KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	CHECK(vcpu >= 0, "KVM_CREATE_VCPU");
	struct kvm_run *run =
		mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	CHECK(run != MAP_FAILED, "mmap kvm_run");
	enter_long_mode_cpl3(vcpu, sys, (uint64_t)n + WARMUP);
	if (sys)
		run->kvm_valid_regs = KVM_SYNC_X86_REGS;

	long exits = 0;
	double t0 = 0, t1;

	for (;;) {
		CHECK(ioctl(vcpu, KVM_RUN, 0) == 0, "KVM_RUN");
		errno = 0;
		if (run->exit_reason != KVM_EXIT_IO)
			fail("exit reason %u after %ld exits (want KVM_EXIT_IO)", run->exit_reason,
			     exits);
		if (run->io.port == EXIT_PORT)
			break;
		if (run->io.port != LOOP_PORT)
			fail("unexpected port %#x", run->io.port);
		if (sys) {
			struct kvm_regs *r = &run->s.regs.regs;

			if (exits == 0) {
				struct kvm_sregs s;

				CHECK(ioctl(vcpu, KVM_GET_SREGS, &s) == 0, "KVM_GET_SREGS");
				if ((s.cs.selector & 3) != 3 || s.cs.dpl != 3)
					fail("the syscall entry runs at CPL%u here, not CPL3: a "
					     "sysret through the registers alone would stay there",
					     s.cs.dpl);
			}
			r->rax = 1;
			r->rip = r->rcx;
			r->rflags = r->r11;
			run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
		}
		if (++exits == WARMUP)
			t0 = now_ns();
	}
	t1 = now_ns();
	errno = 0;
	if (exits != n + WARMUP)
		fail("%ld loop exits, expected %ld", exits, n + WARMUP);
	/* From the end of the warm-up: the N loop exits' round trips and the final one. */
	printf("exit_floor mode=%s n=%ld ns_per_exit=%.1f\n", sys ? "syscall" : "out", n,
	       (t1 - t0) / (double)(n + 1));
	return 0;
}
