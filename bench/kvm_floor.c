/*
 * kvm_floor: the raw-KVM floor for the start-up benchmark.
 *
 * The least a KVM-based VMM must do to run a guest program to completion:
 * open /dev/kvm, create a VM with one 64 MiB memslot (a memfd mapped
 * MAP_PRIVATE), create one vCPU, enter long mode at CPL3 with minimal page
 * tables (one 2 MiB identity page), run a one-instruction guest
 * (`out %al, $0xf4`) to its exit, and exit 0.  bench/startup.sh times this
 * whole process next to `mvmm run`, so mvmm's cost reads as "above the floor".
 *
 * No TSS is loaded, so RFLAGS.IOPL=3 lets the CPL3 `out` reach the VMM.
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
#include <unistd.h>

enum {
	GUEST_MEM = 64 << 20,
	PML4_GPA = 0x1000,	/* PML4, then PDPT and PD in the next pages */
	CODE_GPA = 0x4000,
	STACK_TOP = 0x8000,
	EXIT_PORT = 0xf4,
};

/* Page-table entry bits. */
#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_U (1ULL << 2)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7)

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define RFLAGS_RESERVED (1ULL << 1)
#define RFLAGS_IOPL3 (3ULL << 12)

static void fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	fputs("kvm_floor: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

#define CHECK(cond, ...)                 \
	do {                             \
		errno = 0;               \
		if (!(cond))             \
			fail(__VA_ARGS__); \
	} while (0)

static void put(int fd, uint64_t gpa, const void *buf, size_t len)
{
	ssize_t n = pwrite(fd, buf, len, (off_t)gpa);
	CHECK(n == (ssize_t)len, "writing guest image at %#llx", (unsigned long long)gpa);
}

/* Guest memory image: page tables and code, written into the memfd. */
static int build_image(void)
{
	int fd = memfd_create("kvm_floor", MFD_CLOEXEC);
	CHECK(fd >= 0, "memfd_create");
	CHECK(ftruncate(fd, GUEST_MEM) == 0, "ftruncate memfd");

	/* Accessed/Dirty preset so the shadow MMU need not write them. */
	const uint64_t table = PTE_P | PTE_W | PTE_U | PTE_A;
	uint64_t pml4e = (PML4_GPA + 0x1000) | table;
	uint64_t pdpte = (PML4_GPA + 0x2000) | table;
	uint64_t pde = 0 | table | PTE_D | PTE_PS;	/* 2 MiB at GPA 0 */
	put(fd, PML4_GPA, &pml4e, sizeof pml4e);
	put(fd, PML4_GPA + 0x1000, &pdpte, sizeof pdpte);
	put(fd, PML4_GPA + 0x2000, &pde, sizeof pde);

	static const uint8_t code[] = { 0xe6, EXIT_PORT };	/* out %al, $0xf4 */
	put(fd, CODE_GPA, code, sizeof code);
	return fd;
}

static void enter_long_mode_cpl3(int vcpu)
{
	struct kvm_sregs s;
	CHECK(ioctl(vcpu, KVM_GET_SREGS, &s) == 0, "KVM_GET_SREGS");

	struct kvm_segment cs = {
		.base = 0, .limit = 0xffffffff, .selector = (1 << 3) | 3,
		.type = 0xb /* code, execute/read, accessed */, .present = 1,
		.dpl = 3, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment ds = cs;
	ds.selector = (2 << 3) | 3;
	ds.type = 0x3;	/* data, read/write, accessed */
	ds.l = 0;
	ds.db = 1;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;

	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s.cr3 = PML4_GPA;
	s.cr4 = CR4_PAE;
	s.efer = EFER_LME | EFER_LMA;
	CHECK(ioctl(vcpu, KVM_SET_SREGS, &s) == 0, "KVM_SET_SREGS");

	struct kvm_regs r;
	memset(&r, 0, sizeof r);
	r.rip = CODE_GPA;
	r.rsp = STACK_TOP;
	r.rflags = RFLAGS_RESERVED | RFLAGS_IOPL3;
	CHECK(ioctl(vcpu, KVM_SET_REGS, &r) == 0, "KVM_SET_REGS");
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	CHECK(kvm >= 0, "open /dev/kvm");
	int version = ioctl(kvm, KVM_GET_API_VERSION, 0);
	CHECK(version == KVM_API_VERSION, "KVM API version %d, want %d", version, KVM_API_VERSION);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	CHECK(run_size >= (int)sizeof(struct kvm_run), "KVM_GET_VCPU_MMAP_SIZE");

	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	CHECK(vm >= 0, "KVM_CREATE_VM");

	int image = build_image();
	void *mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE, image, 0);
	CHECK(mem != MAP_FAILED, "mmap guest memory");
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .flags = 0, .guest_phys_addr = 0,
		.memory_size = GUEST_MEM, .userspace_addr = (uintptr_t)mem,
	};
	CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) == 0, "KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	CHECK(vcpu >= 0, "KVM_CREATE_VCPU");
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	CHECK(run != MAP_FAILED, "mmap kvm_run");

	enter_long_mode_cpl3(vcpu);

	CHECK(ioctl(vcpu, KVM_RUN, 0) == 0, "KVM_RUN");
	errno = 0;
	if (run->exit_reason != KVM_EXIT_IO)
		fail("unexpected exit reason %u (want KVM_EXIT_IO)", run->exit_reason);
	if (run->io.port != EXIT_PORT || run->io.direction != KVM_EXIT_IO_OUT)
		fail("unexpected port I/O: port %#x direction %u", run->io.port, run->io.direction);
	return 0;
}
