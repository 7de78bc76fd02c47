/*
 * touch_floor: the raw-KVM floor for a guest's first touch of shared memory.
 *
 * A guest at CPL3 maps 32 MiB with 2 MiB pages and reads one byte of each
 * 4 KiB page of a 16 MiB region of a memfd it maps MAP_PRIVATE (as mvmm
 * maps an image), then exits. Printed: microseconds per 4 KiB page, the
 * median of 5 fresh VMs. With THP=1 the memfd's pages are shmem transparent
 * huge pages (it needs /sys/kernel/mm/transparent_hugepage/shmem_enabled at
 * advise, within_size or always) and guest memory is 2 MiB-aligned on the
 * host, so KVM can map each 2 MiB with one entry; without, 4 KiB host pages.
 * bench/clone.sh, lua.sh and density.sh print it beside mvmm's figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MiB	  (1ull << 20)
#define GUEST_MEM (32 * MiB)
#define DATA_GPA  (16 * MiB)
#define DATA_SIZE (16 * MiB)
#define PML4_GPA  0x1000ull
#define CODE_GPA  0x4000ull
#define EXIT_PORT 0xf4
#define RUNS	  5

static void die(const char *what)
{
	fprintf(stderr, "touch_floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads one byte of each of the 4,096 pages at DATA_GPA, then `out` to EXIT_PORT. */
static const uint8_t guest_code[] = {
	0x48, 0xc7, 0xc6, 0x00, 0x00, 0x00, 0x01, /* mov $0x1000000,%rsi */
	0xb9, 0x00, 0x10, 0x00, 0x00,		  /* mov $4096,%ecx */
	0x8a, 0x06,				  /* 1: mov (%rsi),%al */
	0x48, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, /* add $0x1000,%rsi */
	0xff, 0xc9,				  /* dec %ecx */
	0x75, 0xf3,				  /* jnz 1b */
	0xe6, EXIT_PORT,			  /* out %al,$0xf4 */
};

static int build_image(int thp)
{
	uint64_t *t;
	uint8_t *m;
	int fd = memfd_create("touch_floor", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, GUEST_MEM) < 0)
		die("memfd");
	m = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap image");
	if (thp && madvise(m, GUEST_MEM, MADV_HUGEPAGE) < 0)
		die("madvise(MADV_HUGEPAGE)");
	t = (uint64_t *)(m + PML4_GPA);
	t[0] = (PML4_GPA + 0x1000) | 0x27;		/* present, writable, user, accessed */
	t[512] = (PML4_GPA + 0x2000) | 0x27;
	for (uint64_t i = 0; i < GUEST_MEM / (2 * MiB); i++)
		t[1024 + i] = i * 2 * MiB | 0xe7; /* ... dirty, 2 MiB */
	memcpy(m + CODE_GPA, guest_code, sizeof(guest_code));
	memset(m + DATA_GPA, 1, DATA_SIZE);
	munmap(m, GUEST_MEM);
	return fd;
}

/* A 2 MiB-aligned MAP_PRIVATE mapping of the image. */
static uint8_t *map_guest(int image, int thp)
{
	uint8_t *raw = mmap(NULL, GUEST_MEM + 2 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *at;

	if (raw == MAP_FAILED)
		die("mmap reserve");
	at = (uint8_t *)(((uintptr_t)raw + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
	if (mmap(at, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, image, 0) ==
	    MAP_FAILED)
		die("mmap guest memory");
	if (thp && madvise(at, GUEST_MEM, MADV_HUGEPAGE) < 0)
		die("madvise guest memory");
	return at;
}

static void enter_cpl3(int vcpu)
{
	struct kvm_segment cs = { .limit = 0xffffffff, .selector = 0x0b, .type = 0xb,
				  .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment ds = cs;
	struct kvm_regs r = { .rip = CODE_GPA, .rsp = 0x8000, .rflags = 0x3002 };
	struct kvm_sregs s;

	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		die("KVM_GET_SREGS");
	ds.selector = 0x13, ds.type = 0x3, ds.l = 0, ds.db = 1;
	s.cs = cs;
	s.ds = s.es = s.fs = s.gs = s.ss = ds;
	s.cr0 = 0x80050033, s.cr3 = PML4_GPA, s.cr4 = 0x20, s.efer = 0x500;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_SREGS/REGS");
}

/* One fresh VM over the image: microseconds from KVM_RUN to the guest's exit. */
static double one_run(int kvm, int image, int thp, long run_size)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0), vcpu;
	uint8_t *mem = map_guest(image, thp);
	struct kvm_userspace_memory_region slot = { .memory_size = GUEST_MEM,
						    .userspace_addr = (uintptr_t)mem };
	struct kvm_run *run;
	double t0, t;

	if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die("KVM_CREATE_VM / memslot");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (vcpu < 0 || run == MAP_FAILED)
		die("KVM_CREATE_VCPU");
	enter_cpl3(vcpu);
	t0 = now_us();
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		die("KVM_RUN");
	t = now_us() - t0;
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != EXIT_PORT) {
		fprintf(stderr, "touch_floor: unexpected exit %u\n", run->exit_reason);
		exit(1);
	}
	munmap(run, (size_t)run_size);
	close(vcpu);
	close(vm);
	munmap(mem, GUEST_MEM);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	int thp = getenv("THP") && strcmp(getenv("THP"), "0") != 0;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), image;
	double t[RUNS];
	long run_size;

	if (kvm < 0)
		die("/dev/kvm");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	image = build_image(thp);
	for (int i = 0; i < RUNS; i++)
		t[i] = one_run(kvm, image, thp, run_size);
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	printf("%.3f\n", t[RUNS / 2] / (DATA_SIZE / 4096));
	return 0;
}
