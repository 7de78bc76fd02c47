/* fuzz_hypercall.c: libFuzzer target: the exit dispatcher and the hypercall handlers (argument
 * blocks, buffers, shared-memory handles) fed fabricated exits over a fake VM whose guest
 * memory is a plain mapping, without KVM (as tests/guestabi/test_dispatch.c does). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/vm.h"
#include "core/x86.h"
#include "guestabi/guest.h"
#include "load/image.h"
#include "mem/shm.h"
#include "mvmm_abi.h"

#include "../fakevm.h"
#include "fuzz.h"

/*
 * Input: a set-up byte (bit 0 template mode, bit 1 a request for MVMM_HC_REQUEST, bit 2 shared
 * regions granted as "rw" and "ro"), a clone number byte, then up to
 * FUZZ_OPS operations, each a byte choosing what (modulo 5) and its operands, little-endian:
 *   PATCH  u32 gpa, u8 len, bytes: guest memory written (in the guest's own areas)
 *   HC     u8 nr, u32 block: `out` of block to hypercall port nr (modulo 64)
 *   COPY   u32 from, u32 to, u8 len: the guest copies its memory (say, a handle it was given)
 *   IO     u16 port, u8 direction, u8 size, u32 count, u32 value: any port I/O exit
 *   OTHER  u8 kind, u64 value: a halt, MMIO, shutdown, entry failure or unknown exit
 * After each exit: EXIT_STOP says why in the result and EXIT_CONTINUE does not, no page of the
 * system area (page tables, descriptor tables) was touched, and nothing outside guest memory
 * was (guard pages). The guest's stdout and stderr are pipes drained after every exit, its
 * stdin an empty non-blocking pipe; no hook is set, so nothing blocks.
 */
#define MEM	 MVMM_MEM_MIN
#define PAGE	 MVMM_PAGE_SIZE
#define RUN_SIZE 4096
#define DATA_OFF 2048
#define FUZZ_OPS 64

enum { OP_PATCH, OP_HC, OP_COPY, OP_IO, OP_OTHER, OP_COUNT };

static struct {
	struct vm vm;
	struct image img;
	struct vm_result res;
	uint8_t *mem;
	struct kvm_run *run;
	int out[2], err[2], in[2];
	struct shm_region *region;
	struct shm_grant grants[3];
	struct vm_request request;
} F;

static const char request_data[] = "first\0second arg\0";

static void init(void)
{
	uint8_t *base;

	base = mmap(NULL, MEM + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	fuzz_need(base != MAP_FAILED, "mmap");
	F.mem = base + PAGE; /* a guard page on each side */
	fuzz_need(mprotect(F.mem, MEM, PROT_READ | PROT_WRITE) == 0, "mprotect");
	F.run = calloc(1, RUN_SIZE);
	fuzz_need(F.run != NULL, "calloc");
	fuzz_need(pipe2(F.out, O_NONBLOCK | O_CLOEXEC) == 0 &&
			  pipe2(F.err, O_NONBLOCK | O_CLOEXEC) == 0 &&
			  pipe2(F.in, O_NONBLOCK | O_CLOEXEC) == 0,
		  "pipe2");
	F.region = shm_region_create(4 * PAGE);
	fuzz_need(F.region != NULL, "shm_region_create");
	/* the only guest given the region; a wait on it sleeps at most until the run's deadline */
	shm_region_expect(F.region, 1);
	F.grants[0].name = "rw";
	shm_region_handle(F.region, 0, &F.grants[0].handle);
	F.grants[1].name = "ro";
	shm_region_handle(F.region, 1, &F.grants[1].handle);
	F.request.data = request_data;
	F.request.len = sizeof(request_data) - 1;
	F.request.argc = 2;

	fake_vm_init(&F.vm, &F.img, F.mem, MEM, F.run, F.in, F.out, F.err, 0x600000, "fuzz");
	F.vm.res = &F.res;
}

/* The next n (<= 8) bytes of the input as a little-endian number; zeros past its end. */
static uint64_t take(const uint8_t **p, size_t *left, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n && *left; i++, (*p)++, (*left)--)
		v |= (uint64_t)(*p)[0] << (8 * i);
	return v;
}

/* A guest address the guest may write itself: its program area (image, heap, stack). */
static uint64_t user_gpa(uint64_t v, uint64_t *room)
{
	uint64_t g = MVMM_IMAGE_BASE + v % (MEM - MVMM_IMAGE_BASE);

	*room = MEM - g;
	return g;
}

static void drain(int fd)
{
	static char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* No page below the program area may have been touched (read or written). */
static void check_system_area(void)
{
	static unsigned char vec[MVMM_IMAGE_BASE / PAGE];
	unsigned i;

	fuzz_need(mincore(F.mem, MVMM_IMAGE_BASE, vec) == 0, "mincore");
	for (i = 0; i < MVMM_IMAGE_BASE / PAGE; i++)
		FUZZ_CHECK(!(vec[i] & 1), "system page 0x%x touched", i * PAGE);
}

static void io_exit(unsigned port, uint8_t dir, uint8_t size, uint32_t count, uint32_t value)
{
	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = KVM_EXIT_IO;
	F.run->io.direction = dir;
	F.run->io.size = size;
	F.run->io.port = (uint16_t)port;
	F.run->io.count = count;
	F.run->io.data_offset = DATA_OFF; /* KVM's, not the guest's */
	memcpy((uint8_t *)F.run + DATA_OFF, &value, 4);
}

static void other_exit(uint8_t kind, uint64_t v)
{
	static const uint32_t reasons[] = {KVM_EXIT_HLT, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN,
					   KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR};

	memset(F.run, 0, RUN_SIZE);
	F.run->exit_reason = kind < 5 ? reasons[kind] : (uint32_t)v;
	F.run->mmio.phys_addr = v;
	F.run->fail_entry.hardware_entry_failure_reason = v;
	F.run->internal.suberror = (uint32_t)v;
	if (F.run->exit_reason == KVM_EXIT_IO)
		F.run->io.data_offset = DATA_OFF; /* where KVM puts the data, inside kvm_run */
}

/* Each exit as in a run with a deadline 20 ms away: a guest's long doorbell wait ends there. */
static void dispatch(void)
{
	enum exit_action act;

	F.vm.deadline_ns = vm_now_ns() + 20000000ull;
	act = exit_dispatch(&F.vm);

	FUZZ_LOG("hypercall: exit %u: %s, end %d %s\n", F.run->exit_reason,
		 act == EXIT_STOP ? "stop" : "continue", F.res.end, F.res.message);
	FUZZ_CHECK(act == EXIT_CONTINUE || act == EXIT_STOP, "action %d", act);
	FUZZ_CHECK((act == EXIT_STOP) == (F.res.end != VM_END_NONE), "action %s with end %d (%s)",
		   act == EXIT_STOP ? "stop" : "continue", F.res.end, F.res.message);
	FUZZ_CHECK(memchr(F.res.message, 0, sizeof(F.res.message)) != NULL, "message unterminated");
	check_system_area();
	drain(F.out[0]);
	drain(F.err[0]);
	/* a real run ends here; going on lets one input try a sequence (lookup, attach, wait) */
	vm_result_clear(&F.res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t setup, from, to, room, room2, len;
	unsigned ops;

	if (!F.mem)
		init();
	setup = take(&data, &size, 1);
	F.vm.template_mode = setup & 1;
	F.vm.request = setup & 2 ? &F.request : NULL;
	F.vm.shm_grants = setup & 4 ? F.grants : NULL;
	F.vm.clone_no = take(&data, &size, 1);
	for (ops = 0; ops < FUZZ_OPS && size; ops++) {
		switch (take(&data, &size, 1) % OP_COUNT) {
		case OP_PATCH:
			to = user_gpa(take(&data, &size, 4), &room);
			len = take(&data, &size, 1);
			len = len < size ? len : size;
			len = len < room ? len : room;
			memcpy(F.mem + to, data, len);
			data += len, size -= len;
			break;
		case OP_HC: {
			unsigned nr = (unsigned)take(&data, &size, 1) % X86_HC_PORT_SLOTS;
			uint32_t blk = (uint32_t)take(&data, &size, 4);

			io_exit(MVMM_HC_PORT_BASE + nr, KVM_EXIT_IO_OUT, 4, 1, blk);
			dispatch();
			if (blk <= MEM - 8)
				FUZZ_LOG("hypercall: %u at 0x%x: ret %ld\n", nr, blk,
					 (long)*(int64_t *)(F.mem + (blk & ~7u)));
			break;
		}
		case OP_COPY:
			from = user_gpa(take(&data, &size, 4), &room);
			to = user_gpa(take(&data, &size, 4), &room2);
			len = take(&data, &size, 1);
			len = len < room ? len : room;
			len = len < room2 ? len : room2;
			memmove(F.mem + to, F.mem + from, len);
			break;
		case OP_IO: {
			unsigned port = (unsigned)take(&data, &size, 2);
			uint8_t dir = (uint8_t)take(&data, &size, 1),
				sz = (uint8_t)take(&data, &size, 1);
			uint32_t count = (uint32_t)take(&data, &size, 4);

			io_exit(port, dir, sz, count, (uint32_t)take(&data, &size, 4));
			dispatch();
			break;
		}
		default: {
			uint8_t kind = (uint8_t)take(&data, &size, 1);

			other_exit(kind % 6, take(&data, &size, 8));
			dispatch();
			break;
		}
		}
	}
	fuzz_need(madvise(F.mem, MEM, MADV_DONTNEED) == 0, "madvise"); /* back to all zero */
	return 0;
}
